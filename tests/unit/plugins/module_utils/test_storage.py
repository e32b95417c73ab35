# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage plan of a cluster: values per node count, classes per data type,
the guarantees a site cannot give. The rendered resources against the published
schemas: tests/unit/render/test_storage_manifests.py (it needs jsonschema, which
make compat's venvs of older ansible-core minors do not carry)."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import sizing
from ansible_collections.edgefleet.platform.plugins.module_utils import storage as st
from ansible_collections.edgefleet.platform.plugins.module_utils.storage_engines import StorageError

WORKLOADS = [{"name": "gateway", "type": "medium", "count": 2}, {"name": "historian", "type": "database"}]


def members(count, topology="multi_node", **extra):
    return [dict({"inventory_hostname": "ipc%d" % i, "ztp_cluster": "line1", "ztp_topology": topology,
                  "ztp_cpu_cores": 4, "ztp_memory_mb": 16384, "ztp_cluster_workloads": WORKLOADS}, **extra)
            for i in range(count)]


def rook_members(count, **extra):
    nodes = members(count, edgefleet_storage_engine="rook_ceph", **extra)
    for i, node in enumerate(nodes):
        node["edgefleet_storage_disks"] = [{"id": "/dev/disk/by-id/nvme-IPC_SSD_%d" % i}]
    return nodes


# --- Longhorn ------------------------------------------------------------------------------------


@pytest.mark.parametrize("count, replicas, csi, drain", [
    (1, 1, 1, "allow-if-replica-is-stopped"),
    (2, 2, 2, "block-for-eviction-if-contains-last-replica"),
    (3, 3, 3, "block-for-eviction-if-contains-last-replica"),
    (5, 3, 3, "block-for-eviction-if-contains-last-replica"),
])
def test_longhorn_values_follow_the_node_count(count, replicas, csi, drain):
    plan = st.storage_plan(members(count))
    values = plan["longhorn_values"]
    assert plan["engine"] == "longhorn" and plan["copies"] == replicas
    assert values["persistence"]["defaultClassReplicaCount"] == replicas
    assert values["defaultSettings"]["defaultReplicaCount"] == '{"v1":"%d","v2":"%d"}' % (replicas, replicas)
    assert {values["csi"][k] for k in ("attacherReplicaCount", "provisionerReplicaCount",
                                       "resizerReplicaCount", "snapshotterReplicaCount")} == {csi}
    assert values["defaultSettings"]["nodeDrainPolicy"] == drain
    assert values["defaultSettings"]["allowVolumeCreationWithDegradedAvailability"] is False
    # 3 volumes (one per planned workload), 4 CPUs
    expected_cpu = st.se.longhorn_guaranteed_cpu_percent(count, 3, 4)
    assert values["defaultSettings"]["guaranteedInstanceManagerCPU"] == '{"v1":"%d","v2":"%d"}' % (expected_cpu, expected_cpu)
    for cls in values["extraObjects"]:
        assert cls["parameters"]["numberOfReplicas"] == str(replicas)


def test_longhorn_on_the_root_disk_says_so_and_keeps_more_free():
    plan = st.storage_plan(members(3))
    assert plan["dedicated_disks"] is False
    assert plan["longhorn_values"]["defaultSettings"]["storageMinimalAvailablePercentage"] == 25
    assert any("root disk" in line for line in plan["report"])
    with_disks = members(3, edgefleet_storage_disks=["ata-IPC_SSD_1"])
    plan = st.storage_plan(with_disks)
    assert plan["dedicated_disks"] is True
    assert plan["longhorn_values"]["defaultSettings"]["storageMinimalAvailablePercentage"] == 10
    assert not any("root disk" in line for line in plan["report"])


def test_the_cpus_observed_in_this_run_win_over_the_inventory():
    # a first run: the inventory was read before the discover stage recorded the hardware
    fresh = [dict(m, ztp_cpu_cores=None, discover_observed={"hardware": {"cpu_cores": 4}}) for m in members(3)]
    recorded = members(3)
    assert st.storage_plan(fresh)["longhorn_values"] == st.storage_plan(recorded)["longhorn_values"]
    unknown = [dict(m, ztp_cpu_cores=None) for m in members(3)]
    setting = "guaranteedInstanceManagerCPU"
    assert st.storage_plan(unknown)["longhorn_values"]["defaultSettings"][setting] == '{"v1":"40","v2":"40"}'
    assert st.storage_plan(recorded)["longhorn_values"]["defaultSettings"][setting] == '{"v1":"10","v2":"10"}'


def test_storage_nodes_exclude_devices_marked_so():
    nodes = members(4)
    nodes[3]["edgefleet_storage_node"] = False
    plan = st.storage_plan(nodes)
    assert plan["storage_nodes"] == ["ipc0", "ipc1", "ipc2"] and plan["copies"] == 3


def test_backup_targets_and_recurring_jobs_come_from_the_policy_table():
    plan = st.storage_plan(members(3), options={"backup_target": "nfs://hub.example:/backups",
                                                "offsite_backup_target": "s3://offsite@eu-west-1/",
                                                "offsite_backup_target_secret": "offsite-creds"})
    jobs = {job["metadata"]["name"]: job["spec"] for job in plan["recurring_jobs"]}
    for data_type, policy in sizing.STORAGE_POLICIES.items():
        if policy.get("backup_schedule"):
            job = jobs[st.backup_group(policy)]
            assert (job["cron"], job["retain"], job["task"]) == (policy["backup_schedule"], policy["backup_retain"], "backup")
    assert jobs["edgefleet-durable-backup"]["retain"] == 90  # compliance logs: 90 daily backups
    assert plan["longhorn_values"]["defaultBackupStore"] == {"backupTarget": "nfs://hub.example:/backups"}
    assert plan["backup_targets"][0]["spec"] == {"backupTargetURL": "s3://offsite@eu-west-1/", "pollInterval": "300s",
                                                 "credentialSecret": "offsite-creds"}
    assert all(not entry["unmet"] for entry in plan["guarantees"].values())


def test_classes_one_per_data_type_named_by_the_policy_table():
    plan = st.storage_plan(members(3))
    classes = plan["classes"] + plan["longhorn_values"]["extraObjects"]
    by_type = {c["metadata"]["labels"]["edgefleet.io/data-type"]: c for c in classes}
    assert set(by_type) == set(sizing.STORAGE_POLICIES)
    for data_type, policy in sizing.STORAGE_POLICIES.items():
        cls = by_type[data_type]
        assert cls["metadata"]["name"] == policy["storage_class"]
        assert cls["reclaimPolicy"] == policy["reclaim_policy"]
        local = policy["replication"] == "none"
        assert cls["provisioner"] == (st.LOCAL_PROVISIONER if local else st.LONGHORN_PROVISIONER)
        assert ("recurringJobSelector" in cls.get("parameters", {})) == bool(policy.get("backup_schedule"))


def test_single_node_maps_every_class_to_local_storage_and_says_what_it_cannot_give():
    plan = st.storage_plan(members(1, topology="single_node"))
    assert plan["engine"] == "local" and "longhorn_values" not in plan
    assert {c["provisioner"] for c in plan["classes"]} == {st.LOCAL_PROVISIONER}
    assert len(plan["classes"]) == len(sizing.STORAGE_POLICIES)
    unmet = {k: v["unmet"] for k, v in plan["guarantees"].items()}
    assert unmet["telemetry_buffer"] == []  # fast local, no replication, no backup: all given
    assert any(u.startswith("replication:") for u in unmet["application_logs"])
    assert any(u.startswith("backup (required)") for u in unmet["configuration"])
    assert any(u.startswith("backup (offsite)") for u in unmet["compliance_logs"])
    assert any("compliance_logs -> class durable on local: cannot give" in line for line in plan["report"])


def test_engine_none_installs_nothing():
    plan = st.storage_plan(members(3, edgefleet_storage_engine="none"))
    assert plan["classes"] == [] and plan["recurring_jobs"] == [] and plan["copies"] == 0


# --- Rook ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 4, 6])
def test_rook_values_from_three_nodes(count):
    plan = st.storage_plan(rook_members(count))
    spec = plan["rook_cluster_values"]["cephClusterSpec"]
    assert (spec["mon"]["count"], spec["mgr"]["count"]) == (3, 2)
    assert spec["storage"]["useAllDevices"] is False and spec["storage"]["useAllNodes"] is False
    assert spec["storage"]["nodes"] == [{"name": "ipc%d" % i, "devices": [{"name": "/dev/disk/by-id/nvme-IPC_SSD_%d" % i}]}
                                        for i in range(count)]
    for pool in plan["rook_cluster_values"]["cephBlockPools"]:
        assert pool["spec"]["failureDomain"] == "host" and pool["spec"]["replicated"]["size"] == 3
    assert plan["requests"] == {"cpu_millicores": 2500, "memory_mib": 5632}
    assert "configOverride" not in plan["rook_cluster_values"]


@pytest.mark.parametrize("count", [1, 2])
def test_rook_refused_below_three_nodes_unless_the_escape_hatch(count):
    with pytest.raises(StorageError, match="cluster line1: rook_ceph needs at least 3 storage nodes"):
        st.storage_plan(rook_members(count))
    plan = st.storage_plan(rook_members(count), options={"allow_unsupported": True})
    spec = plan["rook_cluster_values"]["cephClusterSpec"]
    assert (spec["mon"]["count"], spec["mgr"]["count"], spec["mon"]["allowMultiplePerNode"]) == (1, 1, True)
    assert "osd_pool_default_size = %d" % count in plan["rook_cluster_values"]["configOverride"]


def test_rook_needs_a_disk_on_every_storage_node():
    nodes = rook_members(3)
    nodes[1]["edgefleet_storage_disks"] = []
    with pytest.raises(StorageError, match="ipc1 has no disk"):
        st.storage_plan(nodes)


# --- disk records ---------------------------------------------------------------------------------


def test_disks_by_id_only():
    assert st.check_disks("ipc0", ["ata-X_1", {"id": "/dev/disk/by-id/nvme-Y", "wipe_allowed": True}]) == [
        {"id": "/dev/disk/by-id/ata-X_1", "wipe_allowed": False},
        {"id": "/dev/disk/by-id/nvme-Y", "wipe_allowed": True}]
    for bad, message in ((["/dev/sdb"], r"host ipc0: field 'storage disks\[0\].id': '/dev/sdb' is not a /dev/disk/by-id/ name"),
                         ([{"id": "x", "wipe": True}], r"'storage disks\[0\].wipe': unknown key"),
                         ([{"id": "x", "wipe_allowed": "yes"}], "wipe_allowed': must be true or false"),
                         (["a", "a"], "listed twice"), ("ata-x", "must be a list")):
        with pytest.raises(StorageError, match=message):
            st.check_disks("ipc0", bad)


def test_disks_from_the_ztp_record_unless_given():
    node = dict(members(1)[0], ztp_storage={"disks": [{"id": "/dev/disk/by-id/nvme-A", "wipe_allowed": True}]})
    assert st.member_disks(node) == [{"id": "/dev/disk/by-id/nvme-A", "wipe_allowed": True}]
    assert st.member_disks(dict(node, edgefleet_storage_disks=[])) == []
    assert st.member_disks(dict(node, ztp_storage={})) == []


def test_bad_options_and_members():
    with pytest.raises(StorageError, match="unknown option data_dir"):
        st.storage_plan(members(1), options={"data_dir": "/x"})
    with pytest.raises(StorageError, match="host variables"):
        st.storage_plan([])


def test_helm_chart_needs_a_source():
    with pytest.raises(StorageError, match="give the chart archive"):
        st.helm_chart("longhorn", "longhorn", "1.12.1", "longhorn-system", "{}")
    with pytest.raises(StorageError, match="valuesContent"):
        st.helm_chart("longhorn", "longhorn", "1.12.1", "longhorn-system", {})
