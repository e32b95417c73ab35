# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake Azure Resource Manager (and token endpoint) for tests and the lab: a stand-in for Azure.

Never used outside tests/ and the lab. It serves HTTPS on loopback with a
certificate from a throw-away CA (trustme), and it is as strict as the real
service where the collection could go wrong:

- every ARM request is matched to the operation of Microsoft's OpenAPI file
  for its resource type and api-version (../shared/specs/azure) and its body
  validated against the operation's schema, unknown and read-only properties
  refused (400, and the violation is logged for the tests to fail on);
- every response it sends is validated the same way before it leaves (a
  broken fake answers 500 rather than teach the modules a wrong shape);
- PUT and DELETE are long-running operations polled the way azure-mgmt-core's
  ARMPolling does (201/202 + Azure-AsyncOperation or Location + Retry-After,
  InProgress once, then Succeeded);
- ARM calls need a Bearer token it issued: the token endpoint speaks the
  OAuth2 client-credentials grant of Microsoft Entra ID (client secret, a
  certificate-signed client assertion checked against the registered
  certificate, or a federated token with the registered issuer and subject),
  /msi/token is a managed identity endpoint (IDENTITY_ENDPOINT of App
  Service / Azure Arc style hosts: GET, api-version 2019-08-01, the host's
  X-IDENTITY-HEADER, else refused), and /metadata/identity/oauth2/token is an
  Azure VM's IMDS token endpoint (what AZURE_POD_IDENTITY_AUTHORITY_HOST points
  the SDKs at: GET, ``Metadata: true``, no X-Forwarded-For, a supported
  api-version, each parameter once, only assigned identities, else refused);
- faults can be queued (401, 429 with Retry-After, 500 series, a hang) and
  every request is logged, through /_fake/* control endpoints (loopback only,
  no token).

What the agents would do on a real cluster (connect, Flux reconciling) is
simulated: a connected cluster turns Connected and a Flux configuration
Compliant after ``settle`` reads, unless a test sets them through /_fake/set.

Run: python server.py --dir DIR [--port N]  (writes DIR/ca.pem, DIR/port; state in DIR/state.json)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import ssl
import sys
import threading
import time
import typing as t
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec as specmod  # noqa: E402  (a script next to this one)

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"  # any subscription is served; the lab uses this one
TENANT = "00000000-0000-0000-0000-0000000000aa"
CLIENT_ID = "00000000-0000-0000-0000-0000000000c1"
CLIENT_SECRET = "fake-client-secret"  # nosec: a test double's credential
FEDERATED_ISSUER = "https://fake-oidc.edgefleet.test"
FEDERATED_SUBJECT = "system:serviceaccount:edgefleet:arc-onboarding"
MSI_PATH = "/msi/token"  # the App Service style managed identity endpoint (IDENTITY_ENDPOINT)
MSI_HEADER = "fake-identity-header"  # nosec: IDENTITY_HEADER, the secret the host injects
MSI_API_VERSION = "2019-08-01"
MSI_CLIENT_ID = "00000000-0000-0000-0000-0000000000d1"  # the one user-assigned identity the host has
IMDS_PATH = "/metadata/identity/oauth2/token"  # an Azure VM's Instance Metadata Service, managed identity category
# the documented IMDS api-versions from the one that introduced /metadata/identity on
IMDS_API_VERSIONS = ("2018-02-01", "2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01",
                     "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15", "2020-09-01",
                     "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01", "2021-05-01", "2021-08-01",
                     "2021-10-01", "2021-11-01", "2021-11-15", "2021-12-13")
# the VM's identities: its system-assigned one (no selector) and one user-assigned, by any of its three names
IMDS_SYSTEM_CLIENT_ID = "00000000-0000-0000-0000-0000000000e1"
IMDS_USER_ASSIGNED = {"client_id": MSI_CLIENT_ID, "object_id": "00000000-0000-0000-0000-0000000000d2",
                      "msi_res_id": "/subscriptions/%s/resourcegroups/rg1/providers/Microsoft.ManagedIdentity/"
                                    "userAssignedIdentities/edgefleet-onboarding" % SUBSCRIPTION}
ARM_KINDS = (("/providers/microsoft.kubernetesconfiguration/extensions/", "extensions"),
             ("/providers/microsoft.kubernetesconfiguration/fluxconfigurations/", "fluxConfigurations"),
             ("/providers/microsoft.kubernetes/connectedclusters/", "connectedClusters"))
TYPES = {"connectedClusters": "Microsoft.Kubernetes/connectedClusters",
         "extensions": "Microsoft.KubernetesConfiguration/extensions",
         "fluxConfigurations": "Microsoft.KubernetesConfiguration/fluxConfigurations"}


def now_iso(delta: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class FakeArm:
    """The fake's state: resources, operations, tokens, queued faults and the request log."""

    def __init__(self, directory: str, settle: int = 1, certificate_pem: bytes | None = None,
                 client_secret: str = CLIENT_SECRET) -> None:
        self.dir = directory
        self.client_secret = client_secret
        self.specs = specmod.load_specs()
        self.lock = threading.RLock()
        self.settle = settle
        self.state_path = os.path.join(directory, "state.json")
        self.resources: dict = {}
        self.operations: dict = {}
        self.tokens: set = set()
        self.faults: list = []
        self.log: list = []
        self.violations: list = []
        self.certificates: list = [certificate_pem] if certificate_pem else []
        if os.path.exists(self.state_path):
            with open(self.state_path, encoding="utf-8") as fh:
                saved = json.load(fh)
            self.resources = saved.get("resources", {})
            self.tokens = set(saved.get("tokens", []))

    def save(self) -> None:
        tmp = self.state_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"resources": self.resources, "tokens": sorted(self.tokens)}, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.state_path)

    # faults --------------------------------------------------------------------
    def take_fault(self, method: str, path: str) -> dict | None:
        for fault in self.faults:
            if fault.get("method", method) == method and fault.get("path_contains", "").lower() in path.lower():
                fault["times"] = fault.get("times", 1) - 1
                if fault["times"] <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    # tokens ----------------------------------------------------------------------
    def issue_token(self, form: dict) -> t.Tuple[int, dict]:
        def one(key: str) -> str:
            return (form.get(key) or [""])[0]
        if one("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "only client_credentials"}
        if not one("scope").endswith("/.default"):
            return 400, {"error": "invalid_scope", "error_description": "scope must end in /.default"}
        if one("client_id") != CLIENT_ID:
            return 400, {"error": "unauthorized_client", "error_description": "AADSTS700016: unknown application"}
        if one("client_secret"):
            if one("client_secret") != self.client_secret:
                return 401, {"error": "invalid_client", "error_description": "AADSTS7000215: invalid client secret"}
        elif one("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            problem = self.check_assertion(one("client_assertion"))
            if problem:
                return 401, {"error": "invalid_client", "error_description": problem}
        else:
            return 401, {"error": "invalid_client", "error_description": "no client credential"}
        token = "fake-arm-" + uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
            self.save()
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}

    def issue_msi_token(self, header: str, query: dict) -> t.Tuple[int, dict]:
        """The managed identity endpoint of App Service / Azure Arc style hosts (GET, X-IDENTITY-HEADER)."""
        if header != MSI_HEADER:
            return 401, {"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER is missing or wrong"}
        if query.get("api-version") != MSI_API_VERSION:
            return 400, {"statusCode": 400, "message": "api-version %r is not supported" % query.get("api-version")}
        if not query.get("resource"):
            return 400, {"statusCode": 400, "message": "resource is required"}
        unknown = set(query) - {"api-version", "resource", "client_id", "object_id", "mi_res_id"}
        if unknown:
            return 400, {"statusCode": 400, "message": "unknown parameters %s" % ", ".join(sorted(unknown))}
        if query.get("client_id") not in (None, MSI_CLIENT_ID) or query.get("object_id") or query.get("mi_res_id"):
            return 400, {"statusCode": 400, "message": "no such identity is assigned to this host"}
        token = "fake-arm-msi-" + uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
            self.save()
        return 200, {"access_token": token, "expires_on": str(int(time.time()) + 86399), "resource": query["resource"],
                     "token_type": "Bearer", "client_id": query.get("client_id") or MSI_CLIENT_ID}

    def issue_imds_token(self, headers: t.Any, pairs: t.List[t.Tuple[str, str]]) -> t.Tuple[int, dict]:
        """An Azure VM's IMDS token endpoint (GET), refusing what the real one refuses, with its error bodies."""
        def bad(error_code: str, description: str) -> t.Tuple[int, dict]:
            return 400, {"error": error_code, "error_description": description}
        if headers.get("Metadata") != "true":  # exactly "true", lower case: the SSRF mitigation
            return bad("bad_request_102", "Required metadata header not specified")
        if headers.get("X-Forwarded-For") is not None:  # a proxied request is never meant for IMDS
            return bad("invalid_request", "Requests with an X-Forwarded-For header are not accepted")
        names = [pair[0] for pair in pairs]
        twice = sorted(set(name for name in names if names.count(name) > 1))
        if twice:
            return bad("invalid_request", "The request includes a parameter more than once: %s" % ", ".join(twice))
        query = dict(pairs)
        if not query.get("api-version"):
            return 400, {"error": "Bad request. api-version was not specified in the request.",
                         "newest-versions": list(reversed(IMDS_API_VERSIONS[-3:]))}
        if query["api-version"] not in IMDS_API_VERSIONS:
            return 400, {"error": "Bad request. api-version is invalid or was not specified in the request.",
                         "newest-versions": list(reversed(IMDS_API_VERSIONS[-3:]))}
        unknown = set(query) - {"api-version", "resource", "client_id", "object_id", "msi_res_id", "mi_res_id"}
        if unknown:
            return bad("invalid_request", "Unknown query parameters: %s" % ", ".join(sorted(unknown)))
        if not query.get("resource"):
            return bad("invalid_request", "Required query variable 'resource' is missing")
        selectors = dict((("msi_res_id" if k == "mi_res_id" else k), v) for k, v in query.items()
                         if k in ("client_id", "object_id", "msi_res_id", "mi_res_id"))
        if len(selectors) > 1:
            return bad("invalid_request", "Only one of client_id, object_id and msi_res_id may be given")
        for name, value in selectors.items():
            if value.lower() != IMDS_USER_ASSIGNED[name].lower():
                return bad("invalid_request", "Identity not found")
        issued = int(time.time())
        token = "fake-arm-imds-" + uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
            self.save()
        # every primitive a string, as IMDS answers
        return 200, {"access_token": token, "client_id": IMDS_USER_ASSIGNED["client_id"] if selectors else IMDS_SYSTEM_CLIENT_ID,
                     "expires_in": "86399", "expires_on": str(issued + 86399), "ext_expires_in": "86399",
                     "not_before": str(issued), "resource": query["resource"], "token_type": "Bearer"}

    def check_assertion(self, assertion: str) -> str | None:
        """A certificate-signed assertion (verified) or a federated token (issuer and subject)."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return "AADSTS50027: the assertion is not a JWT"
        header, claims = json.loads(b64url(parts[0])), json.loads(b64url(parts[1]))
        if claims.get("exp", 0) < time.time():
            return "AADSTS700024: the assertion has expired"
        if "x5t" in header or "x5t#S256" in header:
            return self.verify_signature(header, parts)
        if claims.get("iss") == FEDERATED_ISSUER and claims.get("sub") == FEDERATED_SUBJECT:
            return None
        return "AADSTS70021: no federated credential matches issuer %r subject %r" % (claims.get("iss"), claims.get("sub"))

    def verify_signature(self, header: dict, parts: list) -> str | None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        signed, signature = ("%s.%s" % (parts[0], parts[1])).encode("ascii"), b64url(parts[2])
        pad: t.Any = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if header.get("alg") == "PS256" else padding.PKCS1v15()
        for pem in self.certificates:
            try:
                x509.load_pem_x509_certificate(pem).public_key().verify(signature, signed, pad, hashes.SHA256())  # type: ignore[union-attr,call-arg]
                return None
            except Exception:  # noqa: BLE001 - not this certificate
                continue
        return "AADSTS700027: the assertion's signature matches no registered certificate"

    # ARM ---------------------------------------------------------------------------
    def kind_of(self, path: str) -> str | None:
        low = path.lower()
        for marker, kind in ARM_KINDS:
            if marker in low:
                return kind
        return None

    def operation(self, method: str, path: str, query: dict) -> t.Tuple[t.Any, dict, str]:
        kind = self.kind_of(path)
        version = query.get("api-version", "")
        spec = self.specs.get("%s@%s" % (kind, version))
        if spec is None:
            raise specmod.SpecError("no spec for %s at api-version %r (served: %s)" % (kind, version, ", ".join(sorted(self.specs))))
        found = spec.match(method, path)
        if found is None:
            raise specmod.SpecError("%s %s is not an operation of %s@%s" % (method, path, kind, version))
        return found[0], found[1], kind or ""

    def arm(self, method: str, path: str, query: dict, body: t.Any, version: str) -> t.Tuple[int, dict, t.Any]:
        """One validated ARM call: (status, headers, body)."""
        key = path.lower().rstrip("/")
        kind = self.kind_of(path) or ""
        stored = self.resources.get(key)
        if method == "GET":
            if stored is None:
                return 404, {}, error("ResourceNotFound", "The Resource '%s' under resource group was not found." % path.rsplit("/", 1)[-1])
            return 200, {}, self.view(key, version, read=True)
        if method == "PUT":
            parent = self.parent_problem(key, kind)
            if parent:
                return 404, {}, error("ParentResourceNotFound", parent)
            created = stored is None
            self.resources[key] = self.build(kind, path, body, stored, version)
            return self.start_lro(key, version, 201 if created else 200, "azure-async-operation")
        if method == "PATCH":
            if stored is None:
                return 404, {}, error("ResourceNotFound", "The Resource '%s' was not found." % path.rsplit("/", 1)[-1])
            self.patch(stored, body)
            if kind == "connectedClusters":
                return self.start_lro(key, version, 202, "location")
            return self.start_lro(key, version, 202, "azure-async-operation")
        if method == "DELETE":
            if stored is None:
                return 204, {}, None
            for other in list(self.resources):
                if other.startswith(key + "/"):
                    del self.resources[other]
            del self.resources[key]
            return self.start_lro(None, version, 202, "location", path=path)
        return 405, {}, error("MethodNotAllowed", method)

    def parent_problem(self, key: str, kind: str) -> str | None:
        if kind == "connectedClusters":
            return None
        cluster = key.split("/providers/microsoft.kubernetesconfiguration/")[0]
        if cluster not in self.resources:
            return "The connected cluster %s does not exist" % cluster.rsplit("/", 1)[-1]
        if kind == "fluxConfigurations":
            prefix = cluster + "/providers/microsoft.kubernetesconfiguration/extensions/"
            flux = [r for k, r in self.resources.items() if k.startswith(prefix)
                    and r["properties"].get("extensionType", "").lower() == "microsoft.flux"]
            if not flux:
                return "The microsoft.flux extension is not installed on cluster %s" % cluster.rsplit("/", 1)[-1]
        return None

    def build(self, kind: str, path: str, body: dict, old: dict | None, version: str) -> dict:
        props = dict(body.get("properties") or {})
        res: dict = {"id": path, "name": path.rsplit("/", 1)[-1], "type": TYPES[kind], "properties": props}
        for key in ("location", "tags", "identity", "kind"):
            if key in body:
                res[key] = body[key]
        internal: dict = {"reads": 0, "version": version}
        if kind == "connectedClusters":
            if "identity" in res and res["identity"].get("type") == "SystemAssigned":
                res["identity"] = dict(res["identity"], principalId=str(uuid.uuid4()), tenantId=TENANT)
            keep = (old or {}).get("properties", {})
            same_key = keep.get("agentPublicKeyCertificate") == props.get("agentPublicKeyCertificate")
            expiry = keep.get("managedIdentityCertificateExpirationTime") if same_key else None
            props.update(kubernetesVersion="1.31.4+k3s1", totalNodeCount=1, totalCoreCount=4, agentVersion="1.24.4",
                         managedIdentityCertificateExpirationTime=expiry or now_iso(90 * 86400),
                         connectivityStatus=keep.get("connectivityStatus", "Connecting") if same_key else "Connecting")
            props["provisioningState"] = "Succeeded"
            internal["connected_after"] = self.settle
        elif kind == "extensions":
            props.update(provisioningState="Succeeded", currentVersion=props.get("version") or "1.15.1")
            if "identity" in res:
                res["identity"] = dict(res["identity"], principalId=str(uuid.uuid4()), tenantId=TENANT)
        else:
            props.update(provisioningState="Succeeded", complianceState="Pending", statuses=[],
                         sourceUpdatedAt=now_iso(), errorMessage="")
            internal["compliant_after"] = self.settle
        res["_fake"] = internal
        return res

    def patch(self, stored: dict, body: dict) -> None:
        if "tags" in body:
            stored["tags"] = body["tags"]
        for name, value in (body.get("properties") or {}).items():
            if value is None:
                stored["properties"].pop(name, None)
            elif name == "kustomizations" and isinstance(value, dict):
                merged = dict(stored["properties"].get("kustomizations") or {})
                for k, v in value.items():
                    if v is None:
                        merged.pop(k, None)
                    else:
                        merged[k] = v
                stored["properties"]["kustomizations"] = merged
            else:
                stored["properties"][name] = value

    def view(self, key: str, version: str, read: bool = False) -> dict:
        """What GET returns: the stored resource less the fake's own bookkeeping, agents simulated."""
        res = self.resources[key]
        internal = res.setdefault("_fake", {})
        if read:
            internal["reads"] = internal.get("reads", 0) + 1
            props = res["properties"]
            settled = internal["reads"] >= internal.get("connected_after", internal.get("compliant_after", 0))
            if "connected_after" in internal and settled and props.get("connectivityStatus") == "Connecting":
                props.update(connectivityStatus="Connected", lastConnectivityTime=now_iso())
            if "compliant_after" in internal and settled and props.get("complianceState") == "Pending":
                props["complianceState"] = "Compliant"
        out = dict((k, v) for k, v in res.items() if k != "_fake")
        if res["type"] == TYPES["connectedClusters"] and version >= "2026-05-01":
            out["properties"] = dict(out["properties"], arcAgentProfile=dict(
                out["properties"].get("arcAgentProfile") or {},
                agentState="Succeeded" if out["properties"].get("connectivityStatus") == "Connected" else "Pending"))
        if res["type"] != TYPES["connectedClusters"]:
            out["properties"] = dict((k, v) for k, v in out["properties"].items() if k != "configurationProtectedSettings")
        return out

    def start_lro(self, key: str | None, version: str, status: int, via: str, path: str = "") -> t.Tuple[int, dict, t.Any]:
        op_id = uuid.uuid4().hex
        self.operations[op_id] = {"key": key, "polls": 0, "version": version, "path": path, "via": via}
        location = "/subscriptions/%s/providers/Microsoft.Kubernetes/locations/fake/operationStatuses/%s?api-version=%s" % (
            "fake", op_id, version)
        headers = {"Retry-After": "0"}
        headers["Azure-AsyncOperation" if via == "azure-async-operation" else "Location"] = "{base}" + location
        body = self.view(key, version) if key is not None and status in (200, 201) else None
        return status, headers, body

    def poll(self, op_id: str) -> t.Tuple[int, dict, t.Any]:
        op = self.operations.get(op_id)
        if op is None:
            return 404, {}, error("OperationNotFound", op_id)
        op["polls"] += 1
        done = op["polls"] > 1
        headers = {"Retry-After": "0"}
        if op["via"] == "location":
            # the Location monitor: 202 while running, then the final result itself
            if not done:
                return 202, headers, None
            if op["key"] is None or op["key"] not in self.resources:
                return 204, {}, None
            return 200, {}, self.view(op["key"], op["version"])
        return 200, headers, {"id": op_id, "name": op_id, "status": "Succeeded" if done else "InProgress"}


def token_issuer(token: str) -> str:
    """Which of the fake's endpoints issued a token (what the log records instead of the token)."""
    for prefix, issuer in (("fake-arm-imds-", "imds"), ("fake-arm-msi-", "msi")):
        if token.startswith(prefix):
            return issuer
    return "entra"


def error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


class Handler(BaseHTTPRequestHandler):
    server_version = "FakeARM/1"
    protocol_version = "HTTP/1.1"
    fake: FakeArm

    def log_message(self, fmt: str, *args: t.Any) -> None:  # quiet: the log is /_fake/log
        pass

    def _base(self) -> str:
        return "https://%s" % (self.headers.get("Host") or "127.0.0.1")

    def _send(self, status: int, body: t.Any, headers: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value.replace("{base}", self._base()))
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        self.route("GET")

    def do_PUT(self) -> None:
        self.route("PUT")

    def do_PATCH(self) -> None:
        self.route("PATCH")

    def do_DELETE(self) -> None:
        self.route("DELETE")

    def do_POST(self) -> None:
        self.route("POST")

    def route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict((k, v[0]) for k, v in parse_qs(url.query).items())
        raw = self._body()
        fake = self.fake
        if url.path.startswith("/_fake/"):
            self.control(method, url.path, raw)
            return
        if url.path == MSI_PATH:
            if method != "GET":
                self._send(405, {"statusCode": 405, "message": "GET only"})
                return
            # parse_qs keeps the last of repeated keys above; the real endpoint takes one of each
            status, body = fake.issue_msi_token(self.headers.get("X-IDENTITY-HEADER") or "", query)
            with fake.lock:
                fake.log.append({"method": method, "path": url.path, "api_version": query.get("api-version"),
                                 "at": time.time(), "status": status})
            self._send(status, body)
            return
        if url.path == IMDS_PATH:
            if method != "GET":
                status, body = 405, {"error": "invalid_request", "error_description": "Only GET requests are supported"}
            else:
                status, body = fake.issue_imds_token(self.headers, parse_qsl(url.query, keep_blank_values=True))
            with fake.lock:  # what the tests check: the Metadata header as sent, never the token
                fake.log.append({"method": method, "path": url.path, "api_version": query.get("api-version"),
                                 "metadata": self.headers.get("Metadata"), "at": time.time(), "status": status})
            self._send(status, body)
            return
        tenant_paths = re.match(r"^/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)$", url.path)
        if tenant_paths:
            self.identity(method, tenant_paths.group(1), tenant_paths.group(2), raw)
            return
        entry = {"method": method, "path": url.path, "api_version": query.get("api-version"), "at": time.time()}
        with fake.lock:
            fake.log.append(entry)
            fault = fake.take_fault(method, url.path)
        if fault is not None:
            entry["status"] = fault["status"]
            if fault.get("hang"):
                time.sleep(float(fault["hang"]))
            headers = {}
            if fault.get("retry_after") is not None:
                headers["Retry-After"] = str(fault["retry_after"])
            if fault["status"] == 401:
                headers["WWW-Authenticate"] = 'Bearer authorization_uri="%s/%s", error="invalid_token"' % (self._base(), TENANT)
            self._send(fault["status"], error(fault.get("code", "Fault"), fault.get("message", "injected by the test")), headers)
            return
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or auth[7:] not in fake.tokens:
            entry["status"] = 401
            self._send(401, error("InvalidAuthenticationToken", "The access token is invalid."),
                       {"WWW-Authenticate": 'Bearer authorization_uri="%s/%s", error="invalid_token"' % (self._base(), TENANT)})
            return
        entry["token_from"] = token_issuer(auth[7:])
        poll = re.match(r"^/subscriptions/[^/]+/providers/Microsoft\.Kubernetes/locations/fake/operationStatuses/(\w+)$", url.path)
        if poll and method == "GET":
            # ARM's generic async-operation resource: not part of the RP's spec file
            with fake.lock:
                status, headers, body = fake.poll(poll.group(1))
            entry["status"] = status
            self._send(status, body, headers)
            return
        with fake.lock:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                entry["status"] = 400
                self._send(400, error("InvalidRequestContent", "The request content is not valid JSON."))
                return
            try:
                op, path_params, kind = fake.operation(method, url.path, query)
                op.check_request(path_params, query, body)
            except specmod.SpecError as exc:
                fake.violations.append({"request": "%s %s" % (method, url.path), "error": str(exc)})
                entry["status"] = 400
                self._send(400, error("InvalidRequestContent", str(exc)))
                return
            status, headers, out = fake.arm(method, url.path, query, body, query["api-version"])
            try:
                op.check_response(status, out)
            except specmod.SpecError as exc:
                fake.violations.append({"response": "%s %s" % (method, url.path), "error": str(exc)})
                status, headers, out = 500, {}, error("FakeResponseInvalid", str(exc))
            fake.save()
        entry["status"] = status
        self._send(status, out, headers)

    def identity(self, method: str, tenant: str, what: str, raw: bytes) -> None:
        if tenant != TENANT:
            self._send(400, {"error": "invalid_tenant", "error_description": "AADSTS90002: tenant %r not found" % tenant})
            return
        base = "%s/%s" % (self._base(), tenant)
        if what.startswith("v2.0") and method == "GET":
            self._send(200, {"token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                             "issuer": base + "/v2.0", "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                             "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"]})
            return
        if method != "POST":
            self._send(405, {"error": "invalid_request"})
            return
        status, body = self.fake.issue_token(parse_qs(raw.decode("utf-8")))
        self._send(status, body, {"Cache-Control": "no-store"})

    def control(self, method: str, path: str, raw: bytes) -> None:
        fake = self.fake
        with fake.lock:
            data = json.loads(raw) if raw else {}
            if path == "/_fake/log" and method == "GET":
                self._send(200, {"requests": fake.log, "violations": fake.violations})
            elif path == "/_fake/faults" and method == "POST":
                fake.faults.extend(data if isinstance(data, list) else [data])
                self._send(200, {"queued": len(fake.faults)})
            elif path == "/_fake/resources" and method == "GET":
                self._send(200, fake.resources)
            elif path == "/_fake/set" and method == "POST":
                res = fake.resources.get(data["id"].lower())
                if res is None:
                    self._send(404, {"error": "no such resource"})
                    return
                res["properties"].update(data.get("properties") or {})
                res.setdefault("_fake", {}).update(data.get("fake") or {})
                fake.save()
                self._send(200, res)
            elif path == "/_fake/reset" and method == "POST":
                fake.resources, fake.operations, fake.faults, fake.log, fake.violations = {}, {}, [], [], []
                fake.save()
                self._send(200, {})
            else:
                self._send(404, {"error": "unknown control %s %s" % (method, path)})


def serve(directory: str, port: int = 0, settle: int = 1,
          client_secret: str = CLIENT_SECRET) -> t.Tuple[ThreadingHTTPServer, FakeArm]:
    """Start the fake in a thread: a fresh CA in directory (ca.pem) unless one is there."""
    import trustme
    os.makedirs(directory, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(os.path.join(directory, "ca.pem"))
    # the certificate service principal's credential (a PEM with key and certificate) and its public half
    client = ca.issue_cert("edgefleet-onboarding.test", key_type=trustme.KeyType.RSA)  # Entra needs RSA
    with open(os.path.join(directory, "client.pem"), "wb") as fh:
        fh.write(client.private_key_pem.bytes() + client.cert_chain_pems[0].bytes())
    os.chmod(os.path.join(directory, "client.pem"), 0o600)
    fake = FakeArm(directory, settle, client.cert_chain_pems[0].bytes(), client_secret)
    handler = type("BoundHandler", (Handler,), {"fake": fake})
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.daemon_threads = True
    with open(os.path.join(directory, "port"), "w", encoding="utf-8") as fh:
        fh.write(str(httpd.server_address[1]))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, fake


def write_env_file(path: str, port: int, ca: str, secret: str) -> None:
    """The variables that point the collection's Azure modules at this fake, sourceable by a shell (`set -a`)."""
    url = "https://127.0.0.1:%d" % port
    lines = ["# The fake ARM (tests/fakes/arm), a stand-in for Azure: its endpoint, CA and throw-away credentials.",
             "AZURE_SUBSCRIPTION_ID=%s" % SUBSCRIPTION, "AZURE_TENANT=%s" % TENANT, "AZURE_CLIENT_ID=%s" % CLIENT_ID,
             "AZURE_SECRET=%s" % secret, "AZURE_AUTHORITY_HOST=%s" % url, "EDGEFLEET_ARM_ENDPOINT=%s" % url,
             "EDGEFLEET_ARM_CA_BUNDLE=%s" % os.path.abspath(ca)]
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even for a moment
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--settle", type=int, default=1, help="reads before Connected / Compliant")
    parser.add_argument("--env-file", help="accept a fresh random client secret (instead of the fixed one) and write it, "
                        "with the endpoint, CA and the other throw-away credentials, to this file (0600)")
    args = parser.parse_args()
    secret = secrets.token_urlsafe(32) if args.env_file else CLIENT_SECRET
    httpd = serve(args.dir, args.port, args.settle, secret)[0]
    if args.env_file:
        write_env_file(args.env_file, httpd.server_address[1], os.path.join(args.dir, "ca.pem"), secret)
    print("fake ARM on https://127.0.0.1:%d (CA %s)" % (httpd.server_address[1], os.path.join(args.dir, "ca.pem")), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        httpd.shutdown()


if __name__ == "__main__":
    main()
