# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster side of the cloud stage, as Kubernetes objects: rules in one place.

- the fleet GitOps layout: where a cluster's entry lives in the fleet repository;
- the Arc agents as a K3s ``HelmChart`` with ``chartContent`` (the chart from
  the bundle or the hub mirror) and the values ``az connectedk8s connect``
  sets, the onboarding private key in a Secret the chart reads
  (``valuesSecrets``), never in the HelmChart itself;
- upstream Flux, for sites without Arc: the controllers as a HelmChart, the
  source (GitRepository or OCIRepository) and the cluster's Kustomizations;
- the one-Flux-per-cluster rule.

Everything returns plain objects; the roles write them to K3s's manifests
folder, and the tests validate them against the CRDs in ../shared/specs.
"""

from __future__ import annotations

import re
import typing as t

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
FLUX_MODES = ("arc", "upstream", "none")
ARC_NAMESPACE = "azure-arc-release"
HELM_NAMESPACE = "kube-system"  # K3s's helm-controller watches HelmCharts here
ONBOARDING_SECRET = "azure-arc-onboarding"


class ManifestError(ValueError):
    """Input that cannot make a valid object; names the field."""


def _name(field: str, value: t.Any) -> str:
    if not isinstance(value, str) or not NAME.match(value) or len(value) > 63:
        raise ManifestError("%s: %r is not a DNS label (lower case letters, digits and -)" % (field, value))
    return value


# the fleet layout --------------------------------------------------------------------------

def fleet_path(region: str, site: str, cluster: str) -> str:
    """A cluster's folder in the fleet repository: clusters/<region>/<site>/<cluster>."""
    return "clusters/%s/%s/%s" % (_name("region", region), _name("site", site), _name("cluster", cluster))


def fleet_kustomizations(region: str, site: str, cluster: str, prune: bool = True) -> t.List[dict]:
    """The cluster's entry: infra first, then apps (flux_configuration's kustomizations option)."""
    base = "./" + fleet_path(region, site, cluster)
    return [{"name": "infra", "path": base + "/infra", "prune": prune, "depends_on": []},
            {"name": "apps", "path": base + "/apps", "prune": prune, "depends_on": ["infra"]}]


def check_flux_mode(mode: str, arc: bool) -> str:
    """One Flux per cluster: the Arc extension, upstream Flux, or none; never both."""
    if mode not in FLUX_MODES:
        raise ManifestError("flux_mode: %r is not one of %s" % (mode, ", ".join(FLUX_MODES)))
    if mode == "arc" and not arc:
        raise ManifestError("flux_mode: arc needs the cluster connected to Azure Arc (edgefleet_cloud_mode: arc); "
                            "use upstream for a site without Arc")
    return mode


def check_one_flux(mode: str, arc_flux_installed: bool, upstream_installed: bool) -> None:
    """A cluster that already runs the other Flux is refused with a clear error (two Flux fight)."""
    if arc_flux_installed and upstream_installed:
        raise ManifestError("the cluster runs both the microsoft.flux extension and upstream Flux; remove one of them")
    if mode == "upstream" and arc_flux_installed:
        raise ManifestError("flux_mode: upstream asked, but the cluster has the microsoft.flux extension; delete it first")
    if mode == "arc" and upstream_installed:
        raise ManifestError("flux_mode: arc asked, but the cluster runs upstream Flux; remove it first")


# the Arc agents ------------------------------------------------------------------------------

def arc_agent_values(subscription_id: str, resource_group: str, name: str, location: str, tenant_id: str,
                     distribution: str = "k3s", infrastructure: str = "generic", environment: str = "AZUREPUBLICCLOUD",
                     auto_upgrade: bool = True, proxy: dict | None = None) -> dict:
    """The chart values az connectedk8s connect passes (without the private key)."""
    values: dict = {
        "global": {"subscriptionId": subscription_id, "resourceGroupName": resource_group, "resourceName": name,
                   "location": location, "tenantId": tenant_id, "kubernetesDistro": distribution,
                   "kubernetesInfra": infrastructure, "azureEnvironment": environment, "isCustomCert": False},
        "systemDefaultValues": {"spnOnboarding": False, "clusterconnect-agent": {"enabled": True},
                                "azureArcAgents": {"autoUpdate": auto_upgrade}},
    }
    proxy = proxy or {}
    no_proxy = proxy.get("no_proxy")
    if isinstance(no_proxy, (list, tuple)):
        no_proxy = ",".join(str(item) for item in no_proxy)  # the chart takes one comma-separated string
    for key, value in (("httpsProxy", proxy.get("https_proxy")), ("httpProxy", proxy.get("http_proxy")),
                       ("noProxy", no_proxy), ("proxyCert", proxy.get("ca_cert"))):
        if value:
            values["global"][key] = value
    if proxy.get("ca_cert"):
        values["global"]["isCustomCert"] = True
    return values


def arc_agents_manifests(values: dict, chart_content_b64: str, private_key_pem: str, timeout: str = "600s") -> t.List[dict]:
    """The onboarding Secret and the HelmChart that installs the agents from the bundled chart."""
    if not chart_content_b64:
        raise ManifestError("chart_content: the Arc agents chart (.tgz, base64) is required")
    if "PRIVATE KEY-----" not in private_key_pem:
        raise ManifestError("private_key: a PEM private key is required")
    key_block = "\n".join("    " + line for line in private_key_pem.strip().splitlines())
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": ONBOARDING_SECRET, "namespace": HELM_NAMESPACE,
                           "labels": {"app.kubernetes.io/managed-by": "edgefleet.platform"}},
              "stringData": {"values.yaml": "global:\n  onboardingPrivateKey: |\n%s\n" % key_block}}
    chart = {"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
             "metadata": {"name": "azure-arc", "namespace": HELM_NAMESPACE,
                          "labels": {"app.kubernetes.io/managed-by": "edgefleet.platform"}},
             "spec": {"chartContent": chart_content_b64, "targetNamespace": ARC_NAMESPACE, "createNamespace": True,
                      "timeout": timeout, "values": values,
                      "valuesSecrets": [{"name": ONBOARDING_SECRET, "keys": ["values.yaml"]}]}}
    return [secret, chart]


# upstream Flux ---------------------------------------------------------------------------------

def flux_controllers_manifest(chart_content_b64: str, registry: str | None = None, timeout: str = "600s") -> dict:
    """The Flux controllers (the flux2 chart from the bundle or mirror) as a K3s HelmChart."""
    if not chart_content_b64:
        raise ManifestError("chart_content: the Flux chart (.tgz, base64) is required")
    values: dict = {"installCRDs": True}
    if registry:
        values["cli"] = {"image": "%s/fluxcd/flux-cli" % registry.rstrip("/")}
        for controller in ("sourceController", "kustomizeController", "helmController", "notificationController"):
            values[controller] = {"image": "%s/fluxcd/%s" % (registry.rstrip("/"), re.sub(r"([A-Z])", r"-\1", controller).lower())}
    return {"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
            "metadata": {"name": "flux2", "namespace": HELM_NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "edgefleet.platform"}},
            "spec": {"chartContent": chart_content_b64, "targetNamespace": "flux-system", "createNamespace": True,
                     "timeout": timeout, "values": values}}


def flux_source_manifest(kind: str, name: str, url: str, ref: dict, interval: str = "10m", secret: str | None = None) -> dict:
    """A GitRepository or OCIRepository (v1) in flux-system."""
    _name("name", name)
    allowed: t.Tuple[str, ...]
    if kind == "GitRepository":
        allowed, group = ("branch", "tag", "semver", "commit"), "source.toolkit.fluxcd.io/v1"
        if not re.match(r"^(https?|ssh)://|^git@", url or ""):
            raise ManifestError("url: %r is not a Git URL (https://, ssh:// or git@)" % (url,))
    elif kind == "OCIRepository":
        allowed, group = ("tag", "semver", "digest"), "source.toolkit.fluxcd.io/v1"
        if not (url or "").startswith("oci://"):
            raise ManifestError("url: %r is not an OCI URL (oci://)" % (url,))
    else:
        raise ManifestError("kind: %r is not GitRepository or OCIRepository" % (kind,))
    unknown = sorted(set(ref) - set(allowed))
    if unknown:
        raise ManifestError("ref: %s is not a reference of a %s (%s)" % (unknown[0], kind, ", ".join(allowed)))
    spec: dict = {"interval": interval, "url": url, "ref": dict((k, v) for k, v in ref.items() if v)}
    if secret:
        spec["secretRef"] = {"name": secret}
    return {"apiVersion": group, "kind": kind, "metadata": {"name": name, "namespace": "flux-system"}, "spec": spec}


def flux_kustomization_manifests(source_kind: str, source_name: str, kustomizations: t.List[dict], interval: str = "10m") -> t.List[dict]:
    """Kustomizations (v1) applying the cluster's entry, in order (dependsOn)."""
    names = [k["name"] for k in kustomizations]
    out = []
    for k in kustomizations:
        _name("kustomizations.name", k["name"])
        spec: dict = {"interval": interval, "path": k["path"], "prune": bool(k.get("prune")),
                      "sourceRef": {"kind": source_kind, "name": source_name}, "wait": bool(k.get("wait", True))}
        deps = list(k.get("depends_on") or [])
        for dep in deps:
            if dep not in names:
                raise ManifestError("kustomizations.%s.depends_on: %r is not a kustomization of this cluster" % (k["name"], dep))
        if deps:
            spec["dependsOn"] = [{"name": d} for d in deps]
        out.append({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": k["name"], "namespace": "flux-system"}, "spec": spec})
    return out
