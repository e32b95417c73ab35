# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every resource and values key the storage plan renders, against the published schemas
(tests/unit/storage_specs.py: the HelmChart CRD, the charts' values.yaml, the Longhorn and
Rook CRDs, the Kubernetes OpenAPI), for 1, 2 and 3 nodes; a typo fails."""

from __future__ import annotations

import copy

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import storage as st
from ansible_collections.edgefleet.platform.tests.unit.plugins.module_utils.test_storage import members, rook_members
from ansible_collections.edgefleet.platform.tests.unit.storage_specs import chart_values, unknown_keys, validate


def _all_resources(plan, values_yaml):
    chart = "rook-ceph-cluster" if plan["engine"] == "rook_ceph" else "longhorn"
    yield st.helm_chart(chart, chart, "1.0.0", "ns", values_yaml, repo="https://charts.example")
    yield st.helm_chart(chart, chart, "1.0.0", "ns", values_yaml, chart_content="H4sIAAAA")
    yield from plan["classes"]
    yield from plan["recurring_jobs"]
    yield from plan.get("backup_targets", [])
    yield from plan.get("longhorn_values", {}).get("extraObjects", [])


OPTIONS = {"backup_target": "nfs://hub:/b", "offsite_backup_target": "s3://b@r/", "offsite_backup_target_secret": "s"}


@pytest.mark.parametrize("count", [1, 2, 3])
def test_longhorn_resources_and_values_against_the_published_schemas(count):
    plan = st.storage_plan(members(count), options=OPTIONS)
    values = plan["longhorn_values"]
    assert unknown_keys(values, chart_values("longhorn")) == []
    for resource in _all_resources(plan, yaml.safe_dump(values)):
        validate(resource)


@pytest.mark.parametrize("count, options", [(1, {"allow_unsupported": True}), (2, {"allow_unsupported": True}), (3, {})])
def test_rook_resources_and_values_against_the_published_schemas(count, options):
    plan = st.storage_plan(rook_members(count), options=options)
    values = copy.deepcopy(plan["rook_cluster_values"])
    defaults = chart_values("rook-ceph-cluster")
    # the CephCluster spec and the pools' specs against their CRDs (the chart passes them through)
    validate({"apiVersion": "ceph.rook.io/v1", "kind": "CephCluster", "metadata": {"name": "c"},
              "spec": values.pop("cephClusterSpec")})
    sample_class = defaults["cephBlockPools"][0]["storageClass"]
    for pool in values.pop("cephBlockPools"):
        validate({"apiVersion": "ceph.rook.io/v1", "kind": "CephBlockPool", "metadata": {"name": pool["name"]},
                  "spec": pool["spec"]})
        assert unknown_keys(pool["storageClass"], sample_class, "storageClass") == []
    assert unknown_keys(values, defaults) == []
    assert unknown_keys(plan["rook_operator_values"], chart_values("rook-ceph")) == []
    for resource in _all_resources(plan, yaml.safe_dump(plan["rook_cluster_values"])):
        validate(resource)


def test_the_schema_check_catches_a_typo():
    values = st.storage_plan(members(3))["longhorn_values"]
    values["defaultSettings"]["nodeDrainPolcy"] = "always-allow"
    values["persistence"]["defaultClassReplicaCount"] = "3"
    found = unknown_keys(values, chart_values("longhorn"))
    assert "defaultSettings.nodeDrainPolcy" in found
    assert any(f.startswith("persistence.defaultClassReplicaCount: '3'") for f in found)
    chart = st.helm_chart("longhorn", "longhorn", "1.12.1", "longhorn-system", "{}", repo="https://x")
    chart["spec"]["valueContent"] = "{}"
    with pytest.raises(Exception, match="valueContent"):
        validate(chart)
    cls = st.storage_plan(members(3))["classes"][0]
    cls["reclaimPolcy"] = "Delete"
    with pytest.raises(Exception, match="reclaimPolcy"):
        validate(cls)
