# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster side of the cloud stage, rendered and validated against the CRDs in ../shared/specs.

Outside tests/unit/plugins: it needs jsonschema, which `make compat`'s venvs (plugin units only) do not carry.

The CRDs' OpenAPI v3 schemas are made strict the way the API server's strict field validation is:
a field a schema does not declare is an error (unless the schema preserves unknown fields).
"""

from __future__ import annotations

import base64
import copy
import os

import jsonschema
import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import cloud_manifests as cm


def specs_root():
    # the repository's copy (tests/specs, left out of the .build tree), else a shared/specs folder upwards
    repo = os.environ.get("EDGEFLEET_REPO_ROOT")
    if repo and os.path.isdir(os.path.join(repo, "tests", "specs", "flux")):
        return os.path.join(repo, "tests", "specs")
    here = os.path.dirname(os.path.abspath(__file__))
    for _level in range(12):
        if os.path.isdir(os.path.join(here, "shared", "specs", "flux")):
            return os.path.join(here, "shared", "specs")
        here = os.path.dirname(here)
    raise RuntimeError("../shared/specs not found")


CRDS = {
    ("helm.cattle.io/v1", "HelmChart"): "k3s/helm.cattle.io_helmcharts.yaml",
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): "flux/source-controller/source.toolkit.fluxcd.io_gitrepositories.yaml",
    ("source.toolkit.fluxcd.io/v1", "OCIRepository"): "flux/source-controller/source.toolkit.fluxcd.io_ocirepositories.yaml",
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): "flux/kustomize-controller/kustomize.toolkit.fluxcd.io_kustomizations.yaml",
}


def strict(schema):
    schema = copy.deepcopy(schema)
    if isinstance(schema, dict):
        if schema.get("nullable") and "type" in schema:
            schema["type"] = [schema["type"], "null"]
        if schema.get("x-kubernetes-int-or-string"):
            schema.pop("type", None)
            schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if "properties" in schema and "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        for key, value in list(schema.items()):
            if key == "properties":
                schema[key] = dict((k, strict(v)) for k, v in value.items())
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                schema[key] = strict(value)
            elif key in ("anyOf", "allOf", "oneOf"):
                schema[key] = [strict(v) for v in value]
    return schema


def validate(obj):
    """Against the CRD's served version (metadata as the API server sees it: name and namespace)."""
    api, kind = obj["apiVersion"], obj["kind"]
    if (api, kind) == ("v1", "Secret"):
        assert set(obj) <= {"apiVersion", "kind", "metadata", "type", "stringData", "data"}
        assert all(isinstance(v, str) for v in obj["stringData"].values())
        return
    with open(os.path.join(specs_root(), CRDS[(api, kind)]), encoding="utf-8") as fh:
        crd = yaml.safe_load(fh)
    version = api.split("/")[1]
    served = [v for v in crd["spec"]["versions"] if v["name"] == version and v.get("served")]
    assert served, "%s %s is not served by the CRD" % (api, kind)
    schema = strict(served[0]["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object", "required": ["name", "namespace"]}
    jsonschema.Draft7Validator(schema).validate(obj)


CHART = base64.b64encode(b"\x1f\x8b fake chart archive").decode()
KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIJKAIBAAKCAgEA\n-----END RSA PRIVATE KEY-----\n"


def test_fleet_layout():
    assert cm.fleet_path("emea", "plant-a", "line1") == "clusters/emea/plant-a/line1"
    ks = cm.fleet_kustomizations("emea", "plant-a", "line1")
    assert [(k["name"], k["path"], k["depends_on"]) for k in ks] == [
        ("infra", "./clusters/emea/plant-a/line1/infra", []), ("apps", "./clusters/emea/plant-a/line1/apps", ["infra"])]
    with pytest.raises(cm.ManifestError, match="site"):
        cm.fleet_path("emea", "../etc", "x")


def test_arc_agents_render_and_validate():
    values = cm.arc_agent_values("sub", "rg", "c1", "westeurope", "tenant",
                                 proxy={"https_proxy": "http://proxy:3128", "no_proxy": "10.0.0.0/8,.svc", "ca_cert": "PEM"})
    objs = cm.arc_agents_manifests(values, CHART, KEY)
    for obj in objs:
        validate(obj)
    secret, chart = objs
    assert chart["spec"]["chartContent"] == CHART and chart["spec"]["valuesSecrets"][0]["name"] == secret["metadata"]["name"]
    assert "PRIVATE KEY" not in yaml.safe_dump(chart)  # the key is only in the Secret
    assert yaml.safe_load(secret["stringData"]["values.yaml"])["global"]["onboardingPrivateKey"].startswith("-----BEGIN")
    g = chart["spec"]["values"]["global"]
    assert (g["httpsProxy"], g["noProxy"], g["isCustomCert"], g["kubernetesDistro"]) == ("http://proxy:3128", "10.0.0.0/8,.svc", True, "k3s")


def test_an_unknown_field_fails_the_crd_validation():
    chart = cm.arc_agents_manifests(cm.arc_agent_values("s", "r", "n", "l", "t"), CHART, KEY)[1]
    chart["spec"]["chartContents"] = "typo"
    with pytest.raises(jsonschema.ValidationError, match="chartContents"):
        validate(chart)


@pytest.mark.parametrize("kind,url,ref", [("GitRepository", "https://git.example.com/fleet.git", {"branch": "main"}),
                                          ("OCIRepository", "oci://registry.example.com/fleet", {"tag": "v1"})])
def test_upstream_flux_renders_and_validates(kind, url, ref):
    ks = cm.fleet_kustomizations("emea", "plant-a", "line1")
    objs = [cm.flux_controllers_manifest(CHART, registry="hub.local:5000"), cm.flux_source_manifest(kind, "fleet", url, ref)]
    objs += cm.flux_kustomization_manifests(kind, "fleet", ks)
    for obj in objs:
        validate(obj)
    assert objs[-1]["spec"]["dependsOn"] == [{"name": "infra"}]
    assert objs[0]["spec"]["values"]["sourceController"]["image"] == "hub.local:5000/fluxcd/source-controller"


def test_bad_sources_are_refused_naming_the_field():
    with pytest.raises(cm.ManifestError, match="ref: digest"):
        cm.flux_source_manifest("GitRepository", "fleet", "https://x/y.git", {"digest": "sha256:0"})
    with pytest.raises(cm.ManifestError, match="url"):
        cm.flux_source_manifest("OCIRepository", "fleet", "https://x/y", {"tag": "v1"})
    with pytest.raises(cm.ManifestError, match="depends_on"):
        cm.flux_kustomization_manifests("GitRepository", "fleet", [{"name": "apps", "path": "./", "depends_on": ["nope"]}])


def test_one_flux_per_cluster():
    assert cm.check_flux_mode("arc", arc=True) == "arc"
    with pytest.raises(cm.ManifestError, match="needs the cluster connected"):
        cm.check_flux_mode("arc", arc=False)
    with pytest.raises(cm.ManifestError, match="not one of"):
        cm.check_flux_mode("both", arc=True)
    with pytest.raises(cm.ManifestError, match="both"):
        cm.check_one_flux("arc", True, True)
    with pytest.raises(cm.ManifestError, match="microsoft.flux extension"):
        cm.check_one_flux("upstream", True, False)
    with pytest.raises(cm.ManifestError, match="runs upstream Flux"):
        cm.check_one_flux("arc", False, True)
    cm.check_one_flux("upstream", False, True)


def test_arc_agent_values_filter_takes_the_sites_proxy():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.edgefleet.platform.plugins.filter import cloud

    site_proxy = {"https_proxy": "http://proxy.plant-b.example:3128", "no_proxy": ["10.42.0.0/16", ".svc"]}
    values = cloud.arc_agent_values(site_proxy, "sub", "rg", "c1", "westeurope", "tenant")
    assert values == cm.arc_agent_values("sub", "rg", "c1", "westeurope", "tenant", auto_upgrade=False, proxy=site_proxy)
    g = values["global"]
    assert (g["httpsProxy"], g["noProxy"], g["isCustomCert"]) == ("http://proxy.plant-b.example:3128", "10.42.0.0/16,.svc", False)
    assert "httpsProxy" not in cloud.arc_agent_values({}, "sub", "rg", "c1", "westeurope", "tenant")["global"]
    with pytest.raises(AnsibleFilterError, match="tenant_id is required"):
        cloud.arc_agent_values({}, "sub", "rg", "c1", "westeurope", "")
    with pytest.raises(AnsibleFilterError, match="a mapping"):
        cloud.arc_agent_values("http://proxy:3128", "sub", "rg", "c1", "westeurope", "tenant")
