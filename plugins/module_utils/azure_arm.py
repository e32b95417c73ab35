# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small ARM REST client on azure-mgmt-core, with pinned api-versions.

The SDKs for connected clusters and Kubernetes configuration churn (renamed
operations between betas, split packages); ARM's REST contract at a pinned
api-version does not. So the modules speak REST through azure-mgmt-core's
pipeline, which brings what the SDKs do on the wire: bearer tokens with ARM's
challenge handling, resource-provider auto-registration, retries honouring
Retry-After (429 and the 5xx series), and ARMPolling for long-running
operations. Errors come out as ArmError, which says whether the failure is an
outage (counted by the circuit breaker) or a refusal of the request.
"""

from __future__ import annotations

import json
import typing as t

try:
    from azure.core.exceptions import AzureError, ServiceRequestError, ServiceResponseError
    from azure.core.pipeline import policies
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.polling import LROPoller
    from azure.core.rest import HttpRequest
    from azure.mgmt.core import ARMPipelineClient
    from azure.mgmt.core.policies import ARMAutoResourceProviderRegistrationPolicy, ARMChallengeAuthenticationPolicy
    from azure.mgmt.core.polling.arm_polling import ARMPolling
    HAS_AZURE_MGMT_CORE = True
    AZURE_MGMT_CORE_IMPORT_ERROR = None
except ImportError as exc:  # the module reports missing_required_lib
    HAS_AZURE_MGMT_CORE = False
    AZURE_MGMT_CORE_IMPORT_ERROR = exc

from ansible_collections.edgefleet.platform.plugins.module_utils.cloud_breaker import is_outage

# The api-versions the modules speak (and the fake ARM validates against).
API_VERSIONS = {
    "connectedClusters": "2026-05-01",
    "extensions": "2025-03-01",
    "fluxConfigurations": "2025-04-01",
}
USER_AGENT = "edgefleet.platform"

# What the modules return of a resource, by kind: (the key holding the whole resource, its status fields).
RESULT_KEYS = {
    "connectedClusters": "connected_cluster",
    "extensions": "extension",
    "fluxConfigurations": "configuration",
}


def status_of(kind: str, resource: t.Optional[dict]) -> dict:
    """A resource's state as the modules (and their _info twins) return it: the resource and its status fields."""
    out: dict = {RESULT_KEYS[kind]: resource}
    if resource is None:
        return out
    props = resource.get("properties") or {}
    if kind == "connectedClusters":
        out.update(connectivity_status=props.get("connectivityStatus"),
                   agent_state=(props.get("arcAgentProfile") or {}).get("agentState"),
                   certificate_expiry=props.get("managedIdentityCertificateExpirationTime"))
    elif kind == "extensions":
        out.update(provisioning_state=props.get("provisioningState"), current_version=props.get("currentVersion"))
    else:
        out.update(compliance_state=props.get("complianceState"), provisioning_state=props.get("provisioningState"),
                   statuses=props.get("statuses") or [], error_message=props.get("errorMessage") or "")
    return out


class ArmError(Exception):
    """An ARM call failed; ``outage`` says whether it counts against the breaker."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.outage = is_outage(status)


def cluster_path(subscription: str, group: str, cluster: str) -> str:
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Kubernetes/connectedClusters/%s" % (subscription, group, cluster)


def child_path(subscription: str, group: str, cluster: str, kind: str, name: str) -> str:
    """An extension or Flux configuration of a connected cluster."""
    return "%s/providers/Microsoft.KubernetesConfiguration/%s/%s" % (cluster_path(subscription, group, cluster), kind, name)


def _error_of(status: int, text: str) -> ArmError:
    code, message = None, text.strip()[:500]
    try:
        err = json.loads(text).get("error") or {}
        code, message = err.get("code"), err.get("message") or message
    except (ValueError, AttributeError):
        pass
    hint = {401: "authentication refused", 403: "authorization refused", 429: "throttled (retries used up)"}.get(status)
    if hint is None and status >= 500:
        hint = "ARM failed (retries used up)"
    return ArmError("ARM answered %d%s: %s%s" % (status, " (%s)" % hint if hint else "", "%s: " % code if code else "", message),
                    status, code)


def _outage_of(exc: Exception) -> ArmError:
    """An exception from the pipeline or the credential: outage when nothing answered."""
    chain: t.List[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    if HAS_AZURE_MGMT_CORE and any(isinstance(e, (ServiceRequestError, ServiceResponseError)) for e in chain):
        return ArmError("Azure unreachable: %s" % str(exc).splitlines()[0][:500], None)
    status = getattr(exc, "status_code", None)
    return ArmError("Azure refused: %s" % str(exc).splitlines()[0][:500], status or 400, getattr(exc, "error_code", None))


class ArmClient:
    """GET, PUT, PATCH and DELETE of ARM resources, long-running operations awaited."""

    def __init__(self, credential: t.Any, endpoint: str, ca_bundle: str | None = None, retries: int = 3,
                 backoff: float = 0.8, timeout: int = 30, lro_timeout: int = 600, poll_interval: int = 5) -> None:
        if not HAS_AZURE_MGMT_CORE:
            raise ArmError("azure-mgmt-core is required: %s" % AZURE_MGMT_CORE_IMPORT_ERROR, 400)
        self.endpoint = endpoint.rstrip("/")
        self.lro_timeout = lro_timeout
        self.poll_interval = poll_interval
        scope = self.endpoint + "/.default"
        pipeline_policies = [
            policies.RequestIdPolicy(),
            policies.HeadersPolicy(),
            policies.UserAgentPolicy(user_agent=USER_AGENT),
            ARMAutoResourceProviderRegistrationPolicy(),
            policies.RetryPolicy(retry_total=retries, retry_connect=retries, retry_read=retries, retry_status=retries,
                                 retry_backoff_factor=backoff, retry_backoff_max=60, timeout=max(timeout * (retries + 1), timeout)),
            ARMChallengeAuthenticationPolicy(credential, scope),
            policies.ContentDecodePolicy(),
            policies.RedirectPolicy(),
        ]
        transport = RequestsTransport(connection_verify=ca_bundle or True, connection_timeout=timeout, read_timeout=timeout)
        self.client: t.Any = ARMPipelineClient(base_url=self.endpoint, policies=pipeline_policies, transport=transport)

    def _send(self, method: str, path: str, api_version: str, body: t.Any = None, params: dict | None = None) -> t.Any:
        kwargs: dict = {"params": dict(params or {}, **{"api-version": api_version})}
        if body is not None:
            kwargs["json"] = body
        request = HttpRequest(method, self.endpoint + path, **kwargs)
        try:
            return self.client.send_request(request, _return_pipeline_response=True)
        except AzureError as exc:
            raise _outage_of(exc) from None

    def get(self, path: str, api_version: str) -> dict | None:
        """The resource, or None when ARM says 404."""
        response = self._send("GET", path, api_version).http_response
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _error_of(response.status_code, response.text())
        return json.loads(response.text())

    def _lro(self, method: str, path: str, api_version: str, body: t.Any, final_state: str, params: dict | None = None) -> dict | None:
        initial = self._send(method, path, api_version, body, params)
        status = initial.http_response.status_code
        if status not in (200, 201, 202, 204):
            raise _error_of(status, initial.http_response.text())

        def deserialize(pipeline_response: t.Any) -> t.Any:
            text = pipeline_response.http_response.text()
            return json.loads(text) if text else None

        polling = ARMPolling(self.poll_interval, lro_options={"final-state-via": final_state})
        try:
            poller = LROPoller(self.client, initial, deserialize, polling)
            result = poller.result(timeout=self.lro_timeout)
            if not poller.done():
                raise ArmError("%s %s: the operation did not finish in %ds" % (method, path, self.lro_timeout), None)
        except AzureError as exc:
            response = getattr(exc, "response", None)
            if response is not None and getattr(response, "status_code", None):
                raise _error_of(response.status_code, response.text()) from None
            raise _outage_of(exc) from None
        return result

    def put(self, path: str, api_version: str, body: dict) -> dict | None:
        return self._lro("PUT", path, api_version, body, "azure-async-operation")

    def patch(self, path: str, api_version: str, body: dict, final_state: str = "azure-async-operation") -> dict | None:
        return self._lro("PATCH", path, api_version, body, final_state)

    def delete(self, path: str, api_version: str, params: dict | None = None) -> None:
        self._lro("DELETE", path, api_version, None, "location", params)
