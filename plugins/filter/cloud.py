# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud stage filters; the rules live in module_utils/cloud_manifests.py.

Documentation: fleet_kustomizations.yml, arc_agent_values.yml, arc_agents_manifests.yml and flux_upstream_manifests.yml
next to this plugin.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.module_utils import cloud_manifests as cm


def fleet_kustomizations(region: t.Any, site: t.Any, cluster: t.Any, prune: bool = True) -> list:
    """The cluster's entry of the fleet repository, as flux_configuration kustomizations."""
    try:
        return cm.fleet_kustomizations(region, site, cluster, bool(prune))
    except cm.ManifestError as exc:
        raise AnsibleFilterError(str(exc)) from None


def arc_agent_values(proxy: t.Any, subscription_id: t.Any, resource_group: t.Any, name: t.Any, location: t.Any, tenant_id: t.Any,
                     distribution: str = "k3s", infrastructure: str = "generic", auto_upgrade: bool = False) -> dict:
    """The agents chart's values as az connectedk8s connect sets them, with the site's proxy."""
    if proxy is not None and not isinstance(proxy, t.Mapping):
        raise AnsibleFilterError("the input must be the site's proxy (a mapping), got %s" % type(proxy).__name__)
    missing = [k for k, v in (("subscription_id", subscription_id), ("resource_group", resource_group), ("name", name),
                              ("location", location), ("tenant_id", tenant_id)) if not v]
    if missing:
        raise AnsibleFilterError("arc_agent_values: %s is required" % ", ".join(missing))
    return cm.arc_agent_values(str(subscription_id), str(resource_group), str(name), str(location), str(tenant_id),
                               str(distribution), str(infrastructure), auto_upgrade=bool(auto_upgrade), proxy=dict(proxy or {}))


def arc_agents_manifests(values: t.Any, chart_content: t.Any, private_key: t.Any, timeout: str = "600s") -> list:
    """The onboarding Secret and the agents' HelmChart."""
    if not isinstance(values, t.Mapping):
        raise AnsibleFilterError("the input must be the chart values (a mapping), got %s" % type(values).__name__)
    try:
        return cm.arc_agents_manifests(dict(values), str(chart_content or ""), str(private_key or ""), timeout)
    except cm.ManifestError as exc:
        raise AnsibleFilterError(str(exc)) from None


def flux_upstream_manifests(kustomizations: t.Any, chart_content: t.Any, source_kind: str, url: str, ref: t.Any,
                            source_name: str = "fleet", registry: t.Any = None, secret: t.Any = None, interval: str = "10m") -> list:
    """Upstream Flux: the controllers' HelmChart, the source and the Kustomizations."""
    if not isinstance(kustomizations, list) or not isinstance(ref, t.Mapping):
        raise AnsibleFilterError("the input must be a list of kustomizations and ref a mapping")
    try:
        out = [cm.flux_controllers_manifest(str(chart_content or ""), registry or None),
               cm.flux_source_manifest(source_kind, source_name, url, dict(ref), interval, secret or None)]
        return out + cm.flux_kustomization_manifests(source_kind, source_name, kustomizations, interval)
    except cm.ManifestError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Cloud stage filters."""

    def filters(self) -> dict:
        return {"fleet_kustomizations": fleet_kustomizations, "arc_agent_values": arc_agent_values,
                "arc_agents_manifests": arc_agents_manifests,
                "flux_upstream_manifests": flux_upstream_manifests}
