# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Authentication and the ARM connection of the arc_* and flux_* modules.
    DOCUMENTATION = r"""
options:
  auth_source:
    description:
      - Where the credential comes from, as in azure.azcollection.
      - V(auto) uses the module's options when one of O(client_id), O(secret), O(x509_certificate_path),
        O(oidc_token) or O(oidc_token_file_path) is given, else the environment when E(AZURE_CLIENT_ID),
        E(AZURE_SECRET), E(AZURE_CERT_PATH), E(AZURE_FEDERATED_TOKEN) or E(AZURE_FEDERATED_TOKEN_FILE) is
        set, else the O(profile) of C(~/.azure/credentials) when that file exists, else the Azure CLI's login.
      - V(env) reads E(AZURE_SUBSCRIPTION_ID), E(AZURE_CLIENT_ID), E(AZURE_SECRET), E(AZURE_TENANT),
        E(AZURE_CERT_PATH), E(AZURE_FEDERATED_TOKEN) and E(AZURE_FEDERATED_TOKEN_FILE) (azure.azcollection's
        names, not azure-identity's).
      - V(credential_file) reads the O(profile) section of C(~/.azure/credentials).
      - V(cli) uses the token of C(az login) (the C(az) command must be installed); the subscription
        defaults to the CLI's default subscription.
      - V(msi) uses the managed identity of the host (O(client_id) picks a user-assigned one).
      - When not given, E(ANSIBLE_AZURE_AUTH_SOURCE) is used, then V(auto).
    type: str
    choices: [auto, cli, credential_file, env, msi]
    default: auto
  profile:
    description: Section of C(~/.azure/credentials) to read (E(AZURE_PROFILE), then V(default)).
    type: str
  subscription_id:
    description: The Azure subscription; E(AZURE_SUBSCRIPTION_ID) when not given.
    type: str
  client_id:
    description: Application (client) ID of the service principal or workload identity.
    type: str
  secret:
    description:
      - Client secret of the service principal. Never written anywhere by these modules.
      - Prefer O(x509_certificate_path) or a federated token where the tenant allows it.
    type: str
  tenant:
    description: Microsoft Entra tenant ID.
    type: str
  x509_certificate_path:
    description: PEM file with the service principal's certificate and RSA private key (certificate credential).
    type: path
  x509_certificate_password:
    description: Password of the private key in O(x509_certificate_path), if it is encrypted.
    type: str
  oidc_token:
    description: A federated (workload identity) token, exchanged for an Azure token as a client assertion.
    type: str
  oidc_token_file_path:
    description:
      - File holding a federated token (for example a projected Kubernetes service account token); read
        again at each token request, so a rotated token is picked up.
    type: path
  arm_endpoint:
    description:
      - Azure Resource Manager endpoint (sovereign clouds, Azure Stack, or another ARM-compatible endpoint); also the token
        audience (O(arm_endpoint)/.default).
      - E(EDGEFLEET_ARM_ENDPOINT) when not given, then V(https://management.azure.com).
    type: str
  authority_host:
    description:
      - Microsoft Entra authority host; E(AZURE_AUTHORITY_HOST) when not given, then the public cloud's.
      - Instance discovery is turned off for any other host.
    type: str
  ca_bundle:
    description:
      - CA bundle (PEM) to verify ARM's and the authority's TLS certificates, for a TLS-inspecting proxy
        or another ARM-compatible endpoint; E(EDGEFLEET_ARM_CA_BUNDLE) when not given, then the system's trust store.
    type: path
  disable_instance_discovery:
    description: Skip Microsoft Entra instance discovery (disconnected or private clouds).
    type: bool
  resource_group:
    description: Resource group of the connected cluster.
    type: str
    required: true
  retries:
    description:
      - How many times a request is retried on a connection failure, a 408, a 429 (after its
        C(Retry-After)) or a 5xx answer, with exponential back-off.
    type: int
    default: 3
  request_timeout:
    description: Seconds to connect and to wait for each answer.
    type: int
    default: 30
  wait_timeout:
    description: Seconds a long-running operation (PUT, PATCH, DELETE) may take before the task fails.
    type: int
    default: 600
  poll_interval:
    description: Seconds between polls of a long-running operation when ARM does not say (C(Retry-After)).
    type: int
    default: 5
  breaker:
    description:
      - The circuit breaker this call goes through (see the collection's cloud stage guide).
      - While the site's breaker for O(breaker.dependency) is open, the task fails at once with
        RV(ignore:breaker_open=true) and makes no request. After O(breaker.timeout) seconds one trial call
        goes through (half-open); success closes the breaker, an outage opens it again.
      - Outages (no answer, 408, 429 or 5xx after the retries) count; refused requests (other 4xx) do not.
      - The breaker's record lives in the ZTP database, so it survives between runs. Check mode never
        writes it.
      - Without this option the module makes its calls unguarded.
    type: dict
    suboptions:
      site:
        description: The site whose breaker guards the call.
        type: str
        required: true
      dependency:
        description: The cloud dependency (lower case letters, digits and C(_)).
        type: str
        default: arm
      database:
        description: URL of the ZTP database (E(EDGEFLEET_ZTP_DB) when not given).
        type: str
      threshold:
        description: Consecutive outages that open a closed breaker.
        type: int
        default: 3
      timeout:
        description: Seconds an open breaker fails fast before its half-open trial.
        type: int
        default: 900
requirements:
  - azure-identity >= 1.27
  - azure-mgmt-core >= 1.6
notes:
  - "These modules call Azure from the host they run on, usually the controller (C(delegate_to: localhost)),
    so no Azure credential is ever copied to an IPC."
"""
