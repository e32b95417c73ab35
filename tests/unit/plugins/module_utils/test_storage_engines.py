# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage engines' node-count rules, for every node count, and the kernel check."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.edgefleet.platform.plugins.module_utils import storage_engines as se

NODE_COUNTS = range(1, 10)


@pytest.mark.parametrize("nodes, replicas", [(1, 1), (2, 2), (3, 3), (4, 3), (5, 3), (9, 3)])
def test_longhorn_replicas_follow_the_storage_node_count(nodes, replicas):
    assert se.longhorn_replicas(nodes) == replicas


@pytest.mark.parametrize("nodes", NODE_COUNTS)
def test_longhorn_rules_for_every_node_count(nodes):
    replicas = se.longhorn_replicas(nodes)
    assert 1 <= replicas <= min(nodes, 3)  # never more replicas than nodes: no permanently degraded volume
    assert se.longhorn_csi_replicas(nodes) == min(nodes, 3)
    policy = se.longhorn_drain_policy(nodes)
    # the default (block-if-contains-last-replica) blocks K3s upgrades on small clusters
    assert policy != "block-if-contains-last-replica"
    assert policy == ("allow-if-replica-is-stopped" if nodes == 1 else "block-for-eviction-if-contains-last-replica")


def test_csi_sidecars_are_one_on_one_node():
    assert se.longhorn_csi_replicas(1) == 1


@pytest.mark.parametrize("nodes", NODE_COUNTS)
@pytest.mark.parametrize("volumes, cpus", [(0, 4), (3, 4), (10, 4), (30, 2), (5, 16)])
def test_guaranteed_instance_manager_cpu_upstream_formula(nodes, volumes, cpus):
    # engines and replicas on a node x 0.1 CPU / the node's CPUs x 100, within 1-40 %
    instances = math.ceil(volumes * (1 + se.longhorn_replicas(nodes)) / nodes)
    expected = max(1, min(40, math.ceil(round(instances * 0.1 / cpus * 100, 6))))
    assert se.longhorn_guaranteed_cpu_percent(nodes, volumes, cpus) == expected


def test_guaranteed_cpu_values_by_hand():
    # 1 node, 3 volumes: 3 engines + 3 replicas = 6 x 0.1 / 4 CPUs = 15 %
    assert se.longhorn_guaranteed_cpu_percent(1, 3, 4) == 15
    assert se.longhorn_guaranteed_cpu_percent(3, 10, 4) == 35
    assert se.longhorn_guaranteed_cpu_percent(3, 0, 4) == 1
    assert se.longhorn_guaranteed_cpu_percent(1, 100, 2) == 40
    assert se.longhorn_guaranteed_cpu_percent(2, 5, 8) == 10


@given(st.integers(1, 50), st.integers(0, 500), st.integers(1, 64))
def test_guaranteed_cpu_is_within_the_setting(nodes, volumes, cpus):
    assert 1 <= se.longhorn_guaranteed_cpu_percent(nodes, volumes, cpus) <= 40


@pytest.mark.parametrize("nodes", [3, 4, 5, 7])
def test_rook_from_three_nodes(nodes):
    shape = se.rook_shape(nodes)
    assert (shape["mons"], shape["mgrs"], shape["pool_size"], shape["failure_domain"]) == (3, 2, 3, "host")
    assert shape["allow_multiple_per_node"] is False and shape["supported"] is True


@pytest.mark.parametrize("nodes", [1, 2])
def test_rook_below_three_nodes_is_refused(nodes):
    with pytest.raises(se.StorageError) as err:
        se.rook_shape(nodes, cluster="line1")
    message = str(err.value)
    assert "cluster line1: rook_ceph needs at least 3 storage nodes" in message
    assert "it has %d" % nodes in message
    assert "rook_ceph_allow_unsupported_node_count: true" in message


@pytest.mark.parametrize("nodes, size, domain", [(1, 1, "osd"), (2, 2, "host")])
def test_rook_escape_hatch_gives_the_test_shape(nodes, size, domain):
    shape = se.rook_shape(nodes, allow_unsupported=True)
    assert (shape["mons"], shape["mgrs"], shape["pool_size"], shape["failure_domain"]) == (1, 1, size, domain)
    assert shape["supported"] is False and shape["require_safe_replica_size"] is False


@pytest.mark.parametrize("nodes", NODE_COUNTS)
def test_rook_requests_per_node_for_every_node_count(nodes):
    # a mon, a mgr and an OSD: about 2.5 CPU and 5.5 GiB per IPC before workloads
    assert se.rook_requests_per_node(nodes) == {"cpu_millicores": 2500, "memory_mib": 5632}
    assert se.rook_requests_per_node(nodes, 2) == {"cpu_millicores": 3500, "memory_mib": 9728}


@pytest.mark.parametrize("nodes", NODE_COUNTS)
def test_engine_requests_for_every_node_count(nodes):
    assert se.engine_requests("rook_ceph", nodes) == {"cpu_millicores": 2500, "memory_mib": 5632}
    assert se.engine_requests("local", nodes) == {"cpu_millicores": 0, "memory_mib": 0}
    assert se.engine_requests("none", nodes) == {"cpu_millicores": 0, "memory_mib": 0}
    percent = se.longhorn_guaranteed_cpu_percent(nodes, 6, 4)
    assert se.engine_requests("longhorn", nodes, 6, 4) == {"cpu_millicores": 40 * percent, "memory_mib": 0}


@pytest.mark.parametrize("members, engine", [
    ([{"ztp_topology": "multi_node"}] * 3, "longhorn"),
    ([{"ztp_topology": "single_node"}], "local"),
    ([{"ztp_topology": "multi_node", "edgefleet_storage_engine": "rook_ceph"}] * 3, "rook_ceph"),
    ([{"ztp_topology": "multi_node", "edgefleet_storage_engine": "none"}] * 3, "none"),
    ([{"ztp_topology": "single_node", "edgefleet_storage_engine": "longhorn"}], "longhorn"),
    ([{}], "local"),
])
def test_cluster_engine(members, engine):
    assert se.cluster_engine(members) == engine


def test_cluster_engine_refuses_unknown_and_mixed():
    with pytest.raises(se.StorageError, match="cluster c: edgefleet_storage_engine 'ceph' is not one of longhorn"):
        se.cluster_engine([{"edgefleet_storage_engine": "ceph"}], "c")
    with pytest.raises(se.StorageError, match="different storage engines .longhorn, rook_ceph."):
        se.cluster_engine([{"edgefleet_storage_engine": "rook_ceph"}, {"ztp_topology": "multi_node"}], "c")


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), ("false", False), ("no", False),
                                             ("true", True), (None, False)])
def test_storage_node_flag(value, expected):
    assert se.is_storage_node({"edgefleet_storage_node": value}) is expected
    assert se.is_storage_node({}) is True


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "3"])
def test_bad_node_counts_are_refused(bad):
    with pytest.raises(se.StorageError, match="storage nodes"):
        se.longhorn_replicas(bad)


# --- kernels -------------------------------------------------------------------------------------


@pytest.mark.parametrize("release", ["5.15.0-94-generic", "6.5.0-21-generic", "6.5.6", "6.5.6-arch1"])
def test_known_bad_kernels_are_problems_for_longhorn(release):
    found = se.kernel_check(release, "longhorn")
    assert found["problems"] and "known-bad" in found["problems"][0] and release in found["problems"][0]


@pytest.mark.parametrize("release", ["5.15.0-95-generic", "6.1.0-28-amd64", "6.5.0-210-generic", "6.12.9"])
def test_good_kernels_pass(release):
    assert se.kernel_check(release, "longhorn")["problems"] == []


def test_old_kernels():
    assert "older than 5.8" in se.kernel_check("5.4.0-150-generic", "longhorn")["problems"][0]
    assert "older than 5.17" in se.kernel_check("5.10.0-30-amd64", "longhorn")["warnings"][0]
    assert "older than 4.17" in se.kernel_check("4.14.1", "rook_ceph")["problems"][0]
    assert se.kernel_check("5.15.0-94-generic", "rook_ceph") == {"problems": [], "warnings": []}


@pytest.mark.parametrize("bad", [None, "", "linux", 6])
def test_unreadable_kernel_release(bad):
    with pytest.raises(se.StorageError, match="kernel release"):
        se.kernel_check(bad, "longhorn")


# --- host prerequisites ---------------------------------------------------------------------------


def test_longhorn_host_needs():
    plan = se.host_prereqs("longhorn", "host", "kvm")
    assert plan["packages"] == ["open-iscsi", "nfs-common", "cryptsetup", "dmsetup"]
    assert plan["modules"] == ["iscsi_tcp", "dm_crypt"] and plan["load_modules"]
    assert plan["enable"] == plan["start"] == ["iscsid.service"]
    # nfs-common's portmapper: NFSv4 needs none, and the hardening role keeps it off
    assert plan["stop"] == ["rpcbind.socket", "rpcbind.service"]
    assert plan["multipath"] and plan["waived"] == []


def test_rook_host_needs():
    plan = se.host_prereqs("rook_ceph", "guest", "kvm")  # a VM has its own kernel
    assert plan["packages"] == ["lvm2", "udev"] and plan["modules"] == ["rbd"] and plan["load_modules"]
    assert plan["start"] == ["systemd-udevd.service"] and not plan["multipath"]


def test_a_container_does_not_touch_the_host_kernel():
    plan = se.host_prereqs("longhorn", "guest", "podman")
    assert plan["container"] and not plan["load_modules"] and plan["start"] == []
    assert plan["enable"] == ["iscsid.service"]
    assert len(plan["waived"]) == 2


def test_local_and_none_need_nothing():
    for engine in ("local", "none"):
        plan = se.host_prereqs(engine)
        assert plan["packages"] == plan["modules"] == plan["start"] == [] and not plan["multipath"]


@pytest.mark.parametrize("installed, maps, stop, reconfigure", [
    (False, "", False, False),
    (True, "", True, False),
    (True, "mpatha (3600508b4000156d700012000000b0000) dm-0 HP,HSV200\\nsize=10G features='1'", False, True),
])
def test_multipath_keeps_a_host_that_uses_it(installed, maps, stop, reconfigure):
    plan = se.multipath_plan(installed, maps)
    assert plan["dropin"] is True
    assert (plan["stop"], plan["reconfigure"], plan["in_use"]) == (stop, reconfigure, reconfigure)
