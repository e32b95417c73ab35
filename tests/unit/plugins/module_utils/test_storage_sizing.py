# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage engine's own requests in the sizing: the preflight and the gate
after discover (fleet_sizing) size a cluster with them, for every node count."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import sizing
from ansible_collections.edgefleet.platform.plugins.module_utils import storage_engines as se

WORKLOADS = [{"name": "historian", "type": "database"}]  # 500m, 512 MiB requested


def device(i, cores=4, memory_mb=8192, engine=None, cluster="line1", topology="multi_node", **extra):
    hv = {"inventory_hostname": "ipc%d" % i, "ztp_cluster": cluster, "ztp_topology": topology,
          "ztp_cpu_cores": cores, "ztp_memory_mb": memory_mb, "ztp_disk_gb": 256, "ztp_disk_type": "ssd",
          "ztp_cluster_workloads": WORKLOADS}
    if engine:
        hv["edgefleet_storage_engine"] = engine
    hv.update(extra)
    return hv


@pytest.mark.parametrize("count", [3, 4, 5])
def test_rook_requests_come_off_every_storage_node(count):
    report = sizing.fleet_sizing([device(i, engine="rook_ceph") for i in range(count)])
    cluster = report["clusters"]["line1"]
    assert cluster["storage"] == {"engine": "rook_ceph", "cpu_millicores": 2500, "memory_mib": 5632,
                                  "nodes": ["ipc%d" % i for i in range(count)]}
    assert report["ok"]  # 4 cores, 8 GiB: 3.5 cores and 7 GiB allocatable hold Ceph and one database


def test_a_cluster_that_no_longer_fits_fails_naming_the_numbers():
    # 4 cores / 6 GiB: 3.5 cores and 5 GiB allocatable, less than Ceph's 5.5 GiB on each node
    devices = [device(i, memory_mb=6144, engine="rook_ceph") for i in range(3)]
    without = sizing.fleet_sizing([device(i, memory_mb=6144) for i in range(3)])
    assert without["ok"]
    report = sizing.fleet_sizing(devices)
    assert not report["ok"]
    assert "node ipc0: the storage engine rook_ceph requests 5.5 GiB memory per storage node, more than the 5 GiB" \
           " allocatable after the OS and K3s reserve" in report["violations"]
    assert ("cluster line1: workload memory requests 512 MiB exceed the 0 MiB allocatable on the other 2 nodes with"
            " node ipc0 down (after reserving 1 GiB per node for OS and K3s and 5.5 GiB per storage node for"
            " rook_ceph)") in report["violations"]


def test_capacity_with_one_node_down_counts_the_engine():
    # 4 cores each: 3.5 allocatable, 1 left per node after Ceph's 2.5; with one down 2 cores for 3 databases (1.5)
    ok = sizing.fleet_sizing([device(i, engine="rook_ceph", ztp_cluster_workloads=[
        {"name": "db", "type": "database", "count": 3}]) for i in range(3)])
    assert ok["ok"], ok["violations"]
    tight = sizing.fleet_sizing([device(i, engine="rook_ceph", ztp_cluster_workloads=[
        {"name": "db", "type": "database", "count": 5}]) for i in range(3)])
    assert ("cluster line1: workload CPU requests 2500m exceed the 2000m allocatable on the other 2 nodes with node ipc0"
            " down (after reserving 500m per node for OS and K3s and 2500m per storage node for rook_ceph)"
            ) in tight["violations"]


@pytest.mark.parametrize("count", [1, 2])
def test_rook_below_three_nodes_fails_the_preflight(count):
    report = sizing.fleet_sizing([device(i, engine="rook_ceph") for i in range(count)])
    assert not report["ok"]
    assert report["violations"][0].startswith("cluster line1: rook_ceph needs at least 3 storage nodes")
    hatch = sizing.fleet_sizing([device(i, engine="rook_ceph", rook_ceph_allow_unsupported_node_count=True)
                                 for i in range(count)])
    assert not any("needs at least 3" in v for v in hatch["violations"])
    assert hatch["clusters"]["line1"]["storage"]["cpu_millicores"] == 2500


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_longhorn_by_default_on_multi_node_sites(count):
    report = sizing.fleet_sizing([device(i) for i in range(count)])
    storage = report["clusters"]["line1"]["storage"]
    percent = se.longhorn_guaranteed_cpu_percent(count, 1, 4)
    assert storage == {"engine": "longhorn", "cpu_millicores": 40 * percent, "memory_mib": 0,
                       "nodes": ["ipc%d" % i for i in range(count)]}


def test_local_storage_adds_nothing():
    report = sizing.fleet_sizing([device(0, topology="single_node")])
    assert report["clusters"]["line1"]["storage"] is None
    assert sizing.cluster_sizing([device(0)], WORKLOADS)["storage"]["engine"] == "longhorn"
    assert sizing.cluster_sizing([{"cpu_cores": 4, "memory_mb": 8192, "disk_gb": 256, "disk_type": "ssd"}],
                                 WORKLOADS)["storage"] is None


def test_non_storage_nodes_carry_no_engine_requests():
    devices = [device(i, engine="rook_ceph") for i in range(4)]
    devices[3]["edgefleet_storage_node"] = False
    storage = sizing.fleet_sizing(devices)["clusters"]["line1"]["storage"]
    assert storage["nodes"] == ["ipc0", "ipc1", "ipc2"]
