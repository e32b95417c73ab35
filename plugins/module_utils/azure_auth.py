# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure credentials for the arc_* and flux_* modules, the way azure.azcollection finds them.

``auth_source`` picks where the service principal comes from:

- ``auto``: the module's options, else the environment (AZURE_CLIENT_ID,
  AZURE_SECRET, AZURE_TENANT, AZURE_SUBSCRIPTION_ID, ...), else the profile
  of ``~/.azure/credentials``, else the Azure CLI's login;
- ``env``, ``credential_file`` (with ``profile``), ``cli``, ``msi``: only that.

A service principal signs in with a client secret, a certificate
(``x509_certificate_path``, PEM with the private key), or a federated token
(``oidc_token`` or ``oidc_token_file_path``, read again at every token
request as Kubernetes rotates it). Nothing here writes a secret anywhere.
The environment names follow azure.azcollection, not azure-identity
(AZURE_SECRET and AZURE_TENANT, not AZURE_CLIENT_SECRET and AZURE_TENANT_ID).
"""

from __future__ import annotations

import configparser
import json
import os
import typing as t

from ansible.module_utils.basic import env_fallback

try:
    from azure.identity import (
        AzureCliCredential,
        CertificateCredential,
        ClientAssertionCredential,
        ClientSecretCredential,
        ManagedIdentityCredential,
    )
    HAS_AZURE_IDENTITY = True
    AZURE_IDENTITY_IMPORT_ERROR = None
except ImportError as exc:  # the module reports missing_required_lib
    HAS_AZURE_IDENTITY = False
    AZURE_IDENTITY_IMPORT_ERROR = exc

PUBLIC_ARM = "https://management.azure.com"
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
AUTH_SOURCES = ("auto", "cli", "credential_file", "env", "msi")

# option -> environment variable (azure.azcollection's names)
ENV = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "client_id": "AZURE_CLIENT_ID",
    "secret": "AZURE_SECRET",
    "tenant": "AZURE_TENANT",
    "x509_certificate_path": "AZURE_CERT_PATH",
    "oidc_token": "AZURE_FEDERATED_TOKEN",
    "oidc_token_file_path": "AZURE_FEDERATED_TOKEN_FILE",
}
CREDENTIAL_KEYS = ("client_id", "secret", "x509_certificate_path", "oidc_token", "oidc_token_file_path")

AUTH_ARGSPEC: t.Dict[str, t.Any] = dict(
    # the environment's choice wins over the default, as in azure.azcollection
    auth_source=dict(type="str", choices=list(AUTH_SOURCES), default="auto", fallback=(env_fallback, ["ANSIBLE_AZURE_AUTH_SOURCE"])),
    profile=dict(type="str"),
    subscription_id=dict(type="str"),
    client_id=dict(type="str"),
    secret=dict(type="str", no_log=True),
    tenant=dict(type="str"),
    x509_certificate_path=dict(type="path"),
    x509_certificate_password=dict(type="str", no_log=True),
    oidc_token=dict(type="str", no_log=True),
    oidc_token_file_path=dict(type="path"),
    arm_endpoint=dict(type="str"),
    authority_host=dict(type="str"),
    ca_bundle=dict(type="path"),
    disable_instance_discovery=dict(type="bool"),
)


class AzureAuthError(Exception):
    """No usable credential could be built from what was given."""


def _from_env(environ: t.Mapping[str, str]) -> dict:
    return dict((key, environ[name]) for key, name in ENV.items() if environ.get(name))


def _from_credential_file(profile: str | None, environ: t.Mapping[str, str]) -> dict:
    path = os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".azure", "credentials")
    name = profile or environ.get("AZURE_PROFILE") or "default"
    parser = configparser.ConfigParser()
    if not parser.read(path):
        raise AzureAuthError("auth_source credential_file: %s cannot be read" % path)
    if not parser.has_section(name):
        raise AzureAuthError("auth_source credential_file: %s has no [%s] profile" % (path, name))
    section = parser[name]
    keys = dict((k, section[k]) for k in ("subscription_id", "tenant") + CREDENTIAL_KEYS if section.get(k))
    # azure.azcollection's file names the certificate cert_path
    if section.get("cert_path") and "x509_certificate_path" not in keys:
        keys["x509_certificate_path"] = section["cert_path"]
    return keys


def _cli_subscription(environ: t.Mapping[str, str]) -> str | None:
    """The default subscription of the Azure CLI's login (~/.azure/azureProfile.json)."""
    path = os.path.join(environ.get("AZURE_CONFIG_DIR") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".azure"),
                        "azureProfile.json")
    try:
        with open(path, encoding="utf-8-sig") as fh:
            subs = json.load(fh).get("subscriptions") or []
    except (OSError, ValueError):
        return None
    for sub in subs:
        if sub.get("isDefault"):
            return sub.get("id")
    return None


def resolve(params: t.Mapping[str, t.Any], environ: t.Mapping[str, str] | None = None) -> dict:
    """Where the credential comes from: {source, subscription_id, tenant, client_id, ...}.

    Pure (environment passed in), so every branch is unit-tested.
    """
    environ = os.environ if environ is None else environ
    source = params.get("auth_source") or environ.get("ANSIBLE_AZURE_AUTH_SOURCE") or "auto"
    given = dict((k, params[k]) for k in ("subscription_id", "tenant") + CREDENTIAL_KEYS if params.get(k))
    if source == "auto":
        if any(given.get(k) for k in CREDENTIAL_KEYS):
            source, found = "params", given
        elif any(environ.get(ENV[k]) for k in CREDENTIAL_KEYS):
            source, found = "env", dict(_from_env(environ), **given)
        elif os.path.exists(os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".azure", "credentials")):
            source, found = "credential_file", dict(_from_credential_file(params.get("profile"), environ), **given)
        else:
            source, found = "cli", given
    elif source == "env":
        found = dict(_from_env(environ), **given)
    elif source == "credential_file":
        found = dict(_from_credential_file(params.get("profile"), environ), **given)
    elif source in ("cli", "msi"):
        found = given
    else:
        raise AzureAuthError("auth_source %r is not one of %s" % (source, ", ".join(AUTH_SOURCES)))
    if source == "cli" and not found.get("subscription_id"):
        sub = _cli_subscription(environ)
        if sub:
            found["subscription_id"] = sub
    if not found.get("subscription_id"):
        found["subscription_id"] = environ.get("AZURE_SUBSCRIPTION_ID")
    if not found.get("subscription_id"):
        raise AzureAuthError("no subscription: set subscription_id (or AZURE_SUBSCRIPTION_ID)")
    if source in ("params", "env", "credential_file"):
        kinds = [k for k in ("secret", "x509_certificate_path", "oidc_token", "oidc_token_file_path") if found.get(k)]
        if len(kinds) != 1:
            raise AzureAuthError("auth_source %s: a service principal needs exactly one of secret, x509_certificate_path,"
                                 " oidc_token, oidc_token_file_path (got %s)" % (source, ", ".join(kinds) or "none"))
        for key in ("client_id", "tenant"):
            if not found.get(key):
                raise AzureAuthError("auth_source %s: %s is required for a service principal" % (source, key))
        found["kind"] = kinds[0]
    found["source"] = source
    return found


def credential(found: dict, params: t.Mapping[str, t.Any]) -> t.Any:
    """The azure-identity credential for what resolve() found.

    The token requests get the module's timeout and retries too: an authority
    that accepts and never answers must not hold a task for azure-core's
    default of minutes.
    """
    if not HAS_AZURE_IDENTITY:
        raise AzureAuthError("azure-identity is required: %s" % AZURE_IDENTITY_IMPORT_ERROR)
    common: dict = {}
    if params.get("request_timeout"):
        common.update(connection_timeout=params["request_timeout"], read_timeout=params["request_timeout"])
    if params.get("retries") is not None:
        common["retry_total"] = params["retries"]
    authority = params.get("authority_host") or os.environ.get("AZURE_AUTHORITY_HOST")
    if authority:
        common["authority"] = authority
    if params.get("ca_bundle"):
        common["connection_verify"] = params["ca_bundle"]
    if params.get("disable_instance_discovery") or (authority and authority.rstrip("/") != PUBLIC_AUTHORITY):
        common["disable_instance_discovery"] = True
    source = found["source"]
    if source == "cli":
        return AzureCliCredential(tenant_id=found.get("tenant") or "")
    if source == "msi":
        return ManagedIdentityCredential(client_id=found.get("client_id"))
    tenant, client = found["tenant"], found["client_id"]
    kind = found["kind"]
    if kind == "secret":
        return ClientSecretCredential(tenant, client, found["secret"], **common)
    if kind == "x509_certificate_path":
        return CertificateCredential(tenant, client, certificate_path=found["x509_certificate_path"],
                                     password=params.get("x509_certificate_password"), **common)
    if kind == "oidc_token":
        token = found["oidc_token"]
        return ClientAssertionCredential(tenant, client, lambda: token, **common)
    token_file = found["oidc_token_file_path"]

    def read_token() -> str:
        with open(token_file, encoding="utf-8") as fh:
            return fh.read().strip()
    return ClientAssertionCredential(tenant, client, read_token, **common)
