# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake ARM (tests/fakes/arm): strict against Microsoft's specs, and as the SDK pipeline sees it.

The fake runs in this process on 127.0.0.1 (TLS, its own CA). Requests go either raw (to prove what
the fake refuses) or through the collection's own ArmClient and azure-identity credentials (to prove
the fake speaks what azure-core and MSAL expect: token endpoint, LRO polling, Retry-After).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils.azure_arm import (
    API_VERSIONS,
    ArmClient,
    ArmError,
    child_path,
    cluster_path,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.azure_auth import credential, resolve

REPO = os.environ.get("EDGEFLEET_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "fakes", "arm"))
import server  # noqa: E402
import spec  # noqa: E402

SUB = "00000000-0000-0000-0000-000000000001"
CC = cluster_path(SUB, "rg1", "c1")
CC_V = API_VERSIONS["connectedClusters"]
EXT = child_path(SUB, "rg1", "c1", "extensions", "flux")
FLUX = child_path(SUB, "rg1", "c1", "fluxConfigurations", "cluster-config")
CLUSTER_BODY = {"location": "westeurope", "identity": {"type": "SystemAssigned"},
                "properties": {"agentPublicKeyCertificate": "MIIBCgKCAQEA", "distribution": "k3s", "infrastructure": "generic"}}


@pytest.fixture
def fake(tmp_path):
    httpd, state = server.serve(str(tmp_path / "fake"))
    url = "https://127.0.0.1:%d" % httpd.server_address[1]
    yield url, state, str(tmp_path / "fake")
    httpd.shutdown()
    httpd.server_close()


def params(url, directory, **extra):
    base = {"subscription_id": SUB, "tenant": server.TENANT, "client_id": server.CLIENT_ID, "authority_host": url,
            "ca_bundle": os.path.join(directory, "ca.pem")}
    base.update(extra)
    return base


def arm_client(url, directory, retries=3, **extra):
    p = params(url, directory, **extra)
    if not any(k in p for k in ("x509_certificate_path", "oidc_token")):
        p["secret"] = server.CLIENT_SECRET
    return ArmClient(credential(resolve(p, {"HOME": directory}), p), url, ca_bundle=p["ca_bundle"], retries=retries,
                     backoff=0.01, timeout=5, lro_timeout=30, poll_interval=1)


def raw(url, directory, method, path, body=None, token=None, version=CC_V):
    req = urllib.request.Request("%s%s?api-version=%s" % (url, path, version), method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json", **({"Authorization": "Bearer " + token} if token else {})})
    ctx = ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def token(state):
    code, body = state.issue_token({"grant_type": ["client_credentials"], "client_id": [server.CLIENT_ID],
                                    "client_secret": [server.CLIENT_SECRET], "scope": ["https://x/.default"]})
    assert code == 200
    return body["access_token"]


# the spec validator on Microsoft's own examples ------------------------------------------

EXAMPLES = [
    ("connectedClusters@2026-05-01", "PUT", CC,
     "hybridkubernetes/HybridKubernetes.Management/examples/2026-05-01/CreateClusterExample.json", "ConnectedCluster"),
    ("extensions@2025-03-01", "PUT", EXT,
     "kubernetesconfiguration/resource-manager/Microsoft.KubernetesConfiguration/extensions/stable/2025-03-01/examples/CreateExtension.json",
     "extension"),
    ("fluxConfigurations@2025-04-01", "PUT", FLUX,
     "kubernetesconfiguration/resource-manager/Microsoft.KubernetesConfiguration/fluxConfigurations/stable/2025-04-01/examples/"
     "CreateFluxConfiguration.json", "fluxConfiguration"),
]


@pytest.mark.parametrize("key,method,path,example,param", EXAMPLES)
def test_microsofts_examples_validate(key, method, path, example, param):
    specs = spec.load_specs()
    with open(os.path.join(spec.find_specs_root(), "azure", example), encoding="utf-8") as fh:
        ex = json.load(fh)
    op, path_params = specs[key].match(method, path)
    op.check_request(path_params, {"api-version": specs[key].version}, ex["parameters"][param])
    for code, response in ex["responses"].items():
        op.check_response(int(code), response.get("body"))


def test_a_property_the_spec_lacks_is_refused_at_any_depth():
    specs = spec.load_specs()
    op, pp = specs["connectedClusters@2026-05-01"].match("PUT", CC)
    for body in (dict(CLUSTER_BODY, extra=1),
                 dict(CLUSTER_BODY, properties=dict(CLUSTER_BODY["properties"], agentPublicKey="x")),
                 dict(CLUSTER_BODY, identity={"type": "SystemAssigned", "kind": "x"})):
        with pytest.raises(spec.SpecError, match="Additional properties are not allowed"):
            op.check_request(pp, {"api-version": "2026-05-01"}, body)


def test_read_only_properties_are_refused_in_requests():
    specs = spec.load_specs()
    op, pp = specs["connectedClusters@2026-05-01"].match("PUT", CC)
    body = dict(CLUSTER_BODY, properties=dict(CLUSTER_BODY["properties"], connectivityStatus="Connected"))
    with pytest.raises(spec.SpecError, match="connectivityStatus"):
        op.check_request(pp, {"api-version": "2026-05-01"}, body)


def test_required_properties_enums_and_api_version_are_checked():
    specs = spec.load_specs()
    op, pp = specs["connectedClusters@2026-05-01"].match("PUT", CC)
    with pytest.raises(spec.SpecError, match="agentPublicKeyCertificate"):
        op.check_request(pp, {"api-version": "2026-05-01"}, dict(CLUSTER_BODY, properties={"distribution": "k3s"}))
    with pytest.raises(spec.SpecError, match="is not one of"):
        op.check_request(pp, {"api-version": "2026-05-01"}, dict(CLUSTER_BODY, identity={"type": "UserAssigned"}))
    with pytest.raises(spec.SpecError, match="api-version"):
        op.check_request(pp, {"api-version": "2024-01-01"}, CLUSTER_BODY)


def test_secrets_are_never_in_a_response():
    specs = spec.load_specs()
    op, pp = specs["extensions@2025-03-01"].match("GET", EXT)
    body = {"properties": {"extensionType": "microsoft.flux", "configurationProtectedSettings": {"k": "v"}}}
    with pytest.raises(spec.SpecError, match="configurationProtectedSettings"):
        op.check_response(200, body)


# the fake over HTTPS -------------------------------------------------------------------------

def test_arm_needs_a_token_the_fake_issued(fake):
    url, state, d = fake
    assert raw(url, d, "GET", CC)[0] == 401
    assert raw(url, d, "GET", CC, token="made-up")[0] == 401
    assert raw(url, d, "GET", CC, token=token(state))[0] == 404


def test_an_unknown_property_is_answered_400_and_logged(fake):
    url, state, d = fake
    status, body = raw(url, d, "PUT", CC, dict(CLUSTER_BODY, surprise=True), token=token(state))
    assert status == 400 and "surprise" in body["error"]["message"]
    assert len(state.violations) == 1 and "surprise" in state.violations[0]["error"]
    assert state.resources == {}


def test_an_api_version_the_fake_has_no_spec_for_is_refused(fake):
    url, state, d = fake
    assert raw(url, d, "GET", CC, token=token(state), version="2021-03-01")[0] == 400


def test_a_response_that_breaks_the_spec_becomes_a_500(fake):
    url, state, d = fake
    client = arm_client(url, d)
    client.put(CC, CC_V, CLUSTER_BODY)
    state.resources[CC.lower()]["properties"]["notInTheSpec"] = 1
    status, body = raw(url, d, "GET", CC, token=token(state))
    assert status == 500 and body["error"]["code"] == "FakeResponseInvalid"
    assert "notInTheSpec" in state.violations[-1]["error"]


def test_lro_put_patch_delete_through_the_sdk_pipeline(fake):
    url, state, d = fake
    client = arm_client(url, d)
    created = client.put(CC, CC_V, CLUSTER_BODY)
    assert created["properties"]["provisioningState"] == "Succeeded"
    polls = [r for r in state.log if "operationStatuses" in r["path"]]
    assert len(polls) >= 2  # InProgress, then Succeeded
    patched = client.patch(CC, CC_V, {"tags": {"a": "b"}}, final_state="location")
    assert patched["tags"] == {"a": "b"}
    client.delete(CC, CC_V)
    assert client.get(CC, CC_V) is None
    assert state.violations == []


def test_extension_and_flux_need_their_parents(fake):
    url, state, d = fake
    client = arm_client(url, d)
    flux = {"properties": {"sourceKind": "GitRepository", "gitRepository": {"url": "https://git.example/fleet"},
                           "kustomizations": {"k": {"path": "./"}}}}
    with pytest.raises(ArmError) as err:
        client.put(FLUX, API_VERSIONS["fluxConfigurations"], flux)
    assert err.value.status == 404 and not err.value.outage
    client.put(CC, CC_V, CLUSTER_BODY)
    with pytest.raises(ArmError, match="microsoft.flux"):
        client.put(FLUX, API_VERSIONS["fluxConfigurations"], flux)
    extension = {"properties": {"extensionType": "microsoft.flux", "configurationProtectedSettings": {"s": "v"}}}
    client.put(EXT, API_VERSIONS["extensions"], extension)
    ext = client.get(EXT, API_VERSIONS["extensions"])
    assert "configurationProtectedSettings" not in ext["properties"]
    made = client.put(FLUX, API_VERSIONS["fluxConfigurations"], flux)
    assert made["properties"]["complianceState"] in ("Pending", "Compliant")
    assert client.get(FLUX, API_VERSIONS["fluxConfigurations"])["properties"]["complianceState"] == "Compliant"
    assert state.violations == []


def test_certificate_service_principal(fake):
    url, state, d = fake
    client = arm_client(url, d, x509_certificate_path=os.path.join(d, "client.pem"))
    assert client.get(CC, CC_V) is None


def test_a_certificate_not_registered_is_refused(fake, tmp_path):
    import trustme
    other = trustme.CA().issue_cert("intruder.test", key_type=trustme.KeyType.RSA)
    pem = tmp_path / "other.pem"
    pem.write_bytes(other.private_key_pem.bytes() + other.cert_chain_pems[0].bytes())
    url, state, d = fake
    client = arm_client(url, d, x509_certificate_path=str(pem))
    with pytest.raises(ArmError, match="AADSTS700027") as err:
        client.get(CC, CC_V)
    assert not err.value.outage


def jwt(claims):
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return "%s.%s.%s" % (enc({"alg": "RS256", "typ": "JWT"}), enc(claims), "c2ln")


def test_federated_token(fake):
    url, state, d = fake
    good = jwt({"iss": server.FEDERATED_ISSUER, "sub": server.FEDERATED_SUBJECT, "exp": time.time() + 600})
    assert arm_client(url, d, oidc_token=good).get(CC, CC_V) is None
    bad = jwt({"iss": server.FEDERATED_ISSUER, "sub": "system:serviceaccount:other:sa", "exp": time.time() + 600})
    with pytest.raises(ArmError, match="AADSTS70021"):
        arm_client(url, d, oidc_token=bad).get(CC, CC_V)


def test_429_with_retry_after_is_waited_for_then_succeeds(fake):
    url, state, d = fake
    client = arm_client(url, d)
    state.faults.append({"method": "GET", "path_contains": "connectedClusters", "status": 429, "retry_after": 1, "times": 2})
    start = time.monotonic()
    assert client.get(CC, CC_V) is None
    assert time.monotonic() - start >= 2.0  # Retry-After honoured twice
    assert [r["status"] for r in state.log if r["method"] == "GET"] == [429, 429, 404]


def test_500_series_beyond_the_retries_is_an_outage(fake):
    url, state, d = fake
    client = arm_client(url, d, retries=2)
    state.faults.append({"path_contains": "connectedClusters", "status": 500, "times": 3})
    with pytest.raises(ArmError) as err:
        client.get(CC, CC_V)
    assert err.value.status == 500 and err.value.outage
    assert [r["status"] for r in state.log] == [500, 500, 500]


def test_401_is_a_refusal_not_an_outage(fake):
    url, state, d = fake
    client = arm_client(url, d)
    state.faults.append({"path_contains": "connectedClusters", "status": 401, "times": 5})
    with pytest.raises(ArmError) as err:
        client.get(CC, CC_V)
    assert err.value.status == 401 and not err.value.outage and "authentication refused" in str(err.value)


def test_a_closed_port_is_an_outage_and_fails_fast(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = "https://127.0.0.1:%d" % port
    p = params(url, str(tmp_path), secret=server.CLIENT_SECRET, ca_bundle=None)
    client = ArmClient(credential(resolve(p, {"HOME": str(tmp_path)}), p), url, retries=1, backoff=0.01, timeout=2)
    start = time.monotonic()
    with pytest.raises(ArmError) as err:
        client.get(CC, CC_V)
    assert err.value.outage and err.value.status is None
    assert time.monotonic() - start < 10


def token_get(url, directory, path, query, headers, method="GET"):
    """A request to one of the fake's token endpoints: (status, body)."""
    req = urllib.request.Request("%s%s?%s" % (url, path, query), method=method, headers=headers)
    ctx = ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def msi_get(url, directory, query, header=server.MSI_HEADER):
    return token_get(url, directory, server.MSI_PATH, query, {"X-IDENTITY-HEADER": header} if header is not None else {})


def test_the_managed_identity_endpoint_is_strict(fake):
    url, state, directory = fake
    good = "api-version=2019-08-01&resource=" + url
    assert msi_get(url, directory, good, header=None)[0] == 401
    assert msi_get(url, directory, good, header="wrong")[0] == 401
    assert msi_get(url, directory, "api-version=2018-02-01&resource=" + url)[0] == 400
    assert msi_get(url, directory, "api-version=2019-08-01")[0] == 400
    assert msi_get(url, directory, good + "&client_id=00000000-0000-0000-0000-0000000000ff")[0] == 400
    assert msi_get(url, directory, good + "&bogus=1")[0] == 400
    assert not state.tokens
    status, body = msi_get(url, directory, good + "&client_id=" + server.MSI_CLIENT_ID)
    assert status == 200 and body["resource"] == url and int(body["expires_on"]) > time.time()
    assert body["access_token"] in state.tokens  # ARM takes it
    assert raw(url, directory, "GET", CC, token=body["access_token"])[0] == 404


def imds_get(url, directory, query, headers=None, method="GET"):
    return token_get(url, directory, server.IMDS_PATH, query, {"Metadata": "true"} if headers is None else headers, method)


IMDS_GOOD = "api-version=2018-02-01&resource="


@pytest.mark.parametrize("headers, method, error", [
    ({}, "GET", "bad_request_102"),
    ({"Metadata": "True"}, "GET", "bad_request_102"),  # "true", in all lower case
    ({"Metadata": "false"}, "GET", "bad_request_102"),
    ({"Metadata": "true", "X-Forwarded-For": "10.0.0.7"}, "GET", "invalid_request"),
    ({"Metadata": "true"}, "POST", "invalid_request"),
], ids=["no-metadata-header", "metadata-True", "metadata-false", "x-forwarded-for", "post"])
def test_imds_refuses_requests_not_meant_for_it(fake, headers, method, error):
    url, state, directory = fake
    status, body = imds_get(url, directory, IMDS_GOOD + url, headers, method)
    assert (status, body["error"]) == (405 if method == "POST" else 400, error)
    assert body["error_description"] and not state.tokens
    assert state.log[-1]["path"] == server.IMDS_PATH and state.log[-1]["status"] == status


@pytest.mark.parametrize("query, why", [
    ("resource={url}", "api-version was not specified"),
    ("api-version=2017-12-01&resource={url}", "api-version is invalid"),  # before /metadata/identity existed
    ("api-version=2019-08-01x&resource={url}", "api-version is invalid"),
    ("api-version=2018-02-01", "'resource' is missing"),
    ("api-version=2018-02-01&resource=", "'resource' is missing"),
    ("api-version=2018-02-01&resource={url}&bogus=1", "Unknown query parameters: bogus"),
    ("api-version=2018-02-01&api-version=2018-02-01&resource={url}", "more than once: api-version"),
    ("api-version=2018-02-01&resource={url}&resource={url}", "more than once: resource"),
    ("api-version=2018-02-01&resource={url}&client_id=00000000-0000-0000-0000-0000000000ff", "Identity not found"),
    ("api-version=2018-02-01&resource={url}&object_id=00000000-0000-0000-0000-0000000000ff", "Identity not found"),
    ("api-version=2018-02-01&resource={url}&msi_res_id=/subscriptions/x/resourcegroups/rg1/providers/"
     "Microsoft.ManagedIdentity/userAssignedIdentities/other", "Identity not found"),
    ("api-version=2018-02-01&resource={url}&client_id=%s&object_id=%s" % (
        server.IMDS_USER_ASSIGNED["client_id"], server.IMDS_USER_ASSIGNED["object_id"]), "Only one of"),
], ids=["no-api-version", "old-api-version", "bad-api-version", "no-resource", "empty-resource", "unknown-parameter",
        "api-version-twice", "resource-twice", "unassigned-client-id", "unassigned-object-id", "unassigned-msi-res-id",
        "two-selectors"])
def test_imds_refuses_bad_queries(fake, query, why):
    url, state, directory = fake
    status, body = imds_get(url, directory, query.format(url=url))
    assert status == 400
    assert why in (body.get("error_description") or body["error"]), body
    assert not state.tokens


@pytest.mark.parametrize("selector, client_id", [
    ("", "00000000-0000-0000-0000-0000000000e1"),  # the VM's system-assigned identity
    ("&client_id=" + server.IMDS_USER_ASSIGNED["client_id"], server.MSI_CLIENT_ID),
    ("&object_id=" + server.IMDS_USER_ASSIGNED["object_id"], server.MSI_CLIENT_ID),
    ("&msi_res_id=" + server.IMDS_USER_ASSIGNED["msi_res_id"], server.MSI_CLIENT_ID),
    ("&mi_res_id=" + server.IMDS_USER_ASSIGNED["msi_res_id"], server.MSI_CLIENT_ID),
], ids=["system-assigned", "client_id", "object_id", "msi_res_id", "mi_res_id"])
def test_imds_issues_a_token_arm_takes(fake, selector, client_id):
    url, state, directory = fake
    before = int(time.time())
    status, body = imds_get(url, directory, "api-version=2021-02-01&resource=" + url + selector)
    assert status == 200
    assert sorted(body) == ["access_token", "client_id", "expires_in", "expires_on", "ext_expires_in", "not_before",
                            "resource", "token_type"]
    assert all(isinstance(value, str) for value in body.values())  # IMDS answers every primitive as a string
    assert body["resource"] == url and body["token_type"] == "Bearer" and body["client_id"] == client_id
    assert int(body["expires_on"]) - int(body["not_before"]) == int(body["expires_in"]) and int(body["not_before"]) >= before
    assert body["access_token"] in state.tokens  # ARM takes it
    assert raw(url, directory, "GET", CC, token=body["access_token"])[0] == 404
    assert state.log[-1]["token_from"] == "imds"  # the ARM call, logged with its token's issuer, never the token
    entry = [r for r in state.log if r["path"] == server.IMDS_PATH][-1]
    assert entry == dict(entry, method="GET", api_version="2021-02-01", metadata="true", status=200)
    assert body["access_token"] not in json.dumps(state.log)


def test_imds_through_managed_identity_credential(fake, monkeypatch):
    """azure-identity's IMDS flow (MSAL's Azure VM flow), pointed at the fake: one request, no probe, a token ARM takes."""
    url, state, directory = fake
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT",
                 "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", os.path.join(directory, "ca.pem"))
    client = ArmClient(credential(resolve({"auth_source": "msi", "subscription_id": SUB}, {"HOME": directory}),
                                  {"auth_source": "msi", "subscription_id": SUB}),
                       url, ca_bundle=os.path.join(directory, "ca.pem"), retries=0, backoff=0.01, timeout=5)
    assert client.get(CC, CC_V) is None  # authenticated: ARM answered 404 for the resource, not 401
    imds = [(r["method"], r["api_version"], r["metadata"], r["status"]) for r in state.log if r["path"] == server.IMDS_PATH]
    assert imds == [("GET", "2018-02-01", "true", 200)]
    assert [r.get("token_from") for r in state.log if r["path"] == CC] == ["imds"]
