# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Table-driven and property tests for module_utils/sizing.py.

Edge rule under test: each tier's upper bound is inclusive (1-5, 6-15, 16-30,
31+ multi-node); 0 workloads use the small tier.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.edgefleet.platform.plugins.module_utils import sizing
from ansible_collections.edgefleet.platform.plugins.module_utils.sizing import (
    SizingError,
    SizingViolationError,
    cluster_sizing,
    enforce_sizing,
    node_requirements,
    sizing_report,
    storage_policy,
    workload_resources,
)

COLLECTION_ROOT = Path(sizing.__file__).resolve().parents[2]


def node(cpu=2, mem_gib=3.7, disk_gib=59.6, disk_type="ssd", name="ipc-01", prefix="ztp_"):
    hw = {
        prefix + "cpu_cores": cpu,
        prefix + "memory_mb": round(mem_gib * 1024),
        prefix + "disk_gb": disk_gib,
        prefix + "disk_type": disk_type,
    }
    if name is not None:
        hw["inventory_hostname"] = name
    return hw


# What nominal hardware of each tier reports: "4GB" MemTotal ~3.8 GiB,
# a decimal-GB SSD in GiB.
NOMINAL = {
    "small": dict(cpu=2, mem_gib=3.7, disk_gib=59.6),
    "medium": dict(cpu=4, mem_gib=7.5, disk_gib=119.2),
    "large": dict(cpu=8, mem_gib=15.3, disk_gib=238.4),
}


def lightweight(count):
    return [{"type": "lightweight", "name": "monitor", "count": count}] if count else []


# --- workload_resources --------------------------------------------------------


@pytest.mark.parametrize(
    "wtype, request_, limit",
    [
        ("lightweight", (100, 64, 100), (100, 64, 100)),
        ("medium", (200, 128, 500), (200, 128, 500)),
        ("heavy", (500, 256, 1024), (500, 256, 1024)),
        # ranges: request = lower bound, limit = upper bound; 10Gi+ counts 10Gi
        ("database", (500, 512, 10240), (2000, 2048, 10240)),
    ],
)
def test_workload_resources_per_type(wtype, request_, limit):
    totals = workload_resources([{"type": wtype}])
    assert (totals["cpu_millicores"], totals["memory_mib"], totals["storage_mib"]) == request_
    assert (
        totals["cpu_millicores_limit"],
        totals["memory_mib_limit"],
        totals["storage_mib_limit"],
    ) == limit
    assert totals["workload_count"] == 1


def test_workload_resources_counts_and_sums():
    totals = workload_resources(
        [{"type": "heavy", "name": "analytics", "count": 3}, {"type": "database", "name": "historian"}]
    )
    assert totals == {
        "cpu_millicores": 3 * 500 + 500,
        "memory_mib": 3 * 256 + 512,
        "storage_mib": 3 * 1024 + 10240,
        "cpu_millicores_limit": 3 * 500 + 2000,
        "memory_mib_limit": 3 * 256 + 2048,
        "storage_mib_limit": 3 * 1024 + 10240,
        "workload_count": 4,
    }


def test_workload_resources_empty_and_extra_keys():
    assert workload_resources([]) == dict.fromkeys(
        [
            "cpu_millicores", "cpu_millicores_limit", "memory_mib", "memory_mib_limit",
            "storage_mib", "storage_mib_limit", "workload_count",
        ],
        0,
    )
    # Planned workloads from the ZTP database may carry more fields.
    assert workload_resources([{"type": "medium", "image": "gw:1.2"}])["workload_count"] == 1


# --- tiers and the edge rule ------------------------------------------------------


@pytest.mark.parametrize(
    "count, tier, label, multi, min_nodes",
    [
        (0, "small", "1-5", False, 1),
        (1, "small", "1-5", False, 1),
        (5, "small", "1-5", False, 1),
        (6, "medium", "6-15", False, 1),
        (15, "medium", "6-15", False, 1),
        (16, "large", "16-30", False, 1),
        (30, "large", "16-30", False, 1),
        (31, "multi-node", "31+", True, 3),
        (40, "multi-node", "31+", True, 3),
        (60, "multi-node", "31+", True, 3),
        (61, "multi-node", "31+", True, 4),
    ],
)
def test_tier_edges(count, tier, label, multi, min_nodes):
    req = node_requirements(count)
    assert req["tier"]["name"] == tier
    assert req["tier"]["range"] == label
    assert req["multi_node_required"] is multi
    assert req["min_nodes"] == min_nodes
    assert req["workload_count"] == count


@pytest.mark.parametrize(
    "count, minimum, recommended",
    [
        (5, (2, 4, 64), (4, 8, 64)),
        (15, (4, 8, 128), (8, 16, 128)),
        (30, (8, 16, 256), (16, 32, 256)),
        # multi-node: each node of the fewest-node cluster is large
        (31, (8, 16, 256), (16, 32, 256)),
    ],
)
def test_requirements_values(count, minimum, recommended):
    req = node_requirements(count)
    for key, expected in (("minimum", minimum), ("recommended", recommended)):
        spec = req[key]
        assert (spec["cpu"], spec["memory_gb"], spec["disk_gb"]) == expected
        assert spec["disk_type"] == "ssd"


def test_requirements_from_workload_list():
    workloads = [{"type": "medium", "count": 4}, {"type": "heavy", "count": 2}]
    assert node_requirements(workloads)["tier"]["name"] == "medium"


def test_requirements_are_copies():
    node_requirements(1)["minimum"]["cpu"] = 99
    assert node_requirements(1)["minimum"]["cpu"] == 2


# --- nominal-size rule ----------------------------------------------------------


@pytest.mark.parametrize("mem_gib", [3.61, 3.7, 3.8, 3.9, 4.0, 7.8])
def test_nominal_4gb_memory_passes(mem_gib):
    assert not _violations_about("memory", node(mem_gib=mem_gib), lightweight(1))


@pytest.mark.parametrize("mem_gib", [3.2, 3.4, 3.5])
def test_real_memory_shortfall_fails(mem_gib):
    found = _violations_about("memory", node(mem_gib=mem_gib), lightweight(1))
    assert len(found) == 1
    assert f"memory {mem_gib} GiB is below the minimum 4 GB for 1-5 workloads (tier small)" in found[0]
    assert "at least 3.6 GiB" in found[0]


@pytest.mark.parametrize("memory_mb, ok", [(3686, False), (3687, True)])
def test_memory_boundary_is_90_percent(memory_mb, ok):
    # 90% of 4 GiB is 3686.4 MiB.
    hw = dict(node(), ztp_memory_mb=memory_mb)
    assert bool(_violations_about("memory", hw, [])) is not ok


@pytest.mark.parametrize("disk_gib", [58.2, 59.6, 64, 119.2])
def test_nominal_64gb_disk_passes(disk_gib):
    assert not _violations_about("disk", node(disk_gib=disk_gib), lightweight(1))


@pytest.mark.parametrize("disk_gib", [55, 57.8])
def test_real_disk_shortfall_fails(disk_gib):
    found = _violations_about("disk", node(disk_gib=disk_gib), lightweight(1))
    assert found == [
        f"node ipc-01: disk {disk_gib} GiB is below the minimum 64 GB for 1-5 workloads "
        "(tier small); at least 57.82 GiB must be reported"
    ]


@pytest.mark.parametrize(
    "tier, count", [("small", 1), ("small", 5), ("medium", 6), ("medium", 15), ("large", 16), ("large", 30)]
)
def test_nominal_hardware_passes_its_tier(tier, count):
    report = sizing_report(node(**NOMINAL[tier]), lightweight(count))
    assert report["ok"], report["violations"]
    assert report["tier"]["name"] == tier


@pytest.mark.parametrize("count, tier", [(6, "medium"), (16, "large")])
def test_one_more_workload_than_the_tier_fails(count, tier):
    smaller = {"medium": "small", "large": "medium"}[tier]
    report = sizing_report(node(**NOMINAL[smaller]), lightweight(count))
    assert not report["ok"]
    assert all(f"(tier {tier})" in v for v in report["violations"])


def _violations_about(word, hw, workloads):
    return [v for v in sizing_report(hw, workloads)["violations"] if f": {word} " in v]


# --- sizing_report -----------------------------------------------------------------


@pytest.mark.parametrize("disk_type, ok", [("ssd", True), ("nvme", True), ("SSD", True), ("NVMe", True), ("hdd", False)])
def test_disk_type(disk_type, ok):
    report = sizing_report(node(disk_type=disk_type), lightweight(1))
    assert report["ok"] is ok
    if not ok:
        assert report["violations"] == [
            "node ipc-01: disk type hdd is below the minimum SSD (ssd or nvme) for 1-5 workloads (tier small)"
        ]


def test_brief_example_message():
    report = sizing_report(node(mem_gib=3.2), lightweight(2))
    assert report["violations"][0].startswith(
        "node ipc-01: memory 3.2 GiB is below the minimum 4 GB for 1-5 workloads (tier small)"
    )


def test_cpu_violation_and_no_duplicate_warning():
    report = sizing_report(node(cpu=1), lightweight(1))
    assert report["violations"] == [
        "node ipc-01: CPU 1 cores is below the minimum 2 cores for 1-5 workloads (tier small)"
    ]
    # CPU already violates the minimum; only memory is reported below recommended.
    assert report["warnings"] == [
        "node ipc-01: memory 3.7 GiB is below the recommended 8 GB for 1-5 workloads (tier small); "
        "at least 7.2 GiB must be reported"
    ]


def test_single_node_with_31_workloads_needs_multi_node():
    report = sizing_report(node(**NOMINAL["large"]), lightweight(31))
    assert not report["ok"]
    assert report["tier"]["name"] == "multi-node"
    assert report["violations"] == [
        "node ipc-01: 31 workloads need a multi-node cluster; a node carries at most 30, "
        "so plan at least 3 nodes"
    ]


def test_requests_beyond_capacity_are_violations():
    # 4 heavy = 2000m; 2 cores less the 500m reserve leave 1500m.
    report = sizing_report(node(), [{"type": "heavy", "count": 4}])
    assert report["allocatable"]["cpu_millicores"] == 1500
    assert report["violations"] == [
        "node ipc-01: workload CPU requests 2000m exceed the 1500m allocatable on the node "
        "(after reserving 500m for OS and K3s)"
    ]


def test_limits_beyond_capacity_are_warnings():
    report = sizing_report(node(), [{"type": "database", "name": "historian"}])
    assert report["ok"]
    assert (
        "node ipc-01: workload CPU limits 2000m exceed the 1500m allocatable on the node "
        "(after reserving 500m for OS and K3s)"
    ) in report["warnings"]


def test_report_shape():
    report = sizing_report(node(), lightweight(2))
    assert set(report) == {
        "ok", "node", "tier", "violations", "warnings", "requirements", "workloads", "hardware", "allocatable",
    }
    assert report["hardware"] == {"cpu_cores": 2, "memory_mb": 3789, "disk_gb": 59.6, "disk_type": "ssd"}
    assert report["workloads"]["workload_count"] == 2
    assert report["requirements"] == node_requirements(2)


def test_zero_workloads_use_small_tier():
    report = sizing_report(node(), [])
    assert report["ok"] and report["tier"]["name"] == "small"
    assert not sizing_report(node(cpu=1), [])["ok"]


def test_unprefixed_keys_and_prefix_precedence():
    bare = node(prefix="")
    assert sizing_report(bare, lightweight(1))["hardware"] == sizing_report(node(), lightweight(1))["hardware"]
    mixed = dict(node(), cpu_cores=64)
    assert sizing_report(mixed, [])["hardware"]["cpu_cores"] == 2


@pytest.mark.parametrize(
    "names, expected",
    [
        ({"inventory_hostname": "a", "name": "b", "ztp_hostname": "c", "ztp_serial": "d"}, "a"),
        ({"name": "b", "ztp_hostname": "c"}, "b"),
        ({"ztp_hostname": "c", "ztp_serial": "d"}, "c"),
        ({"ztp_serial": "SN123"}, "SN123"),
        ({}, "(unnamed)"),
    ],
)
def test_node_naming(names, expected):
    hw = dict(node(name=None), **names)
    assert sizing_report(hw, [])["node"] == expected


# --- cluster_sizing -----------------------------------------------------------------


def cluster(*tiers):
    return [node(name=f"n{i}", **NOMINAL[tier]) for i, tier in enumerate(tiers)]


def test_cluster_share_uses_one_node_down():
    # 40 workloads on 3 nodes: 20 per node with one down -> large.
    report = cluster_sizing(cluster("large", "large", "large"), lightweight(40), "site-a")
    assert report["ok"], report["violations"]
    assert report["per_node_workloads"] == 20
    assert report["tier"]["name"] == "large"
    assert [r["node"] for r in report["nodes"]] == ["n0", "n1", "n2"]


def test_cluster_small_node_for_its_share():
    report = cluster_sizing(cluster("large", "large", "medium"), lightweight(40), "site-a")
    assert not report["ok"]
    assert all(v.startswith("node n2: ") for v in report["violations"])
    assert report["nodes"][2]["ok"] is False and report["nodes"][0]["ok"] is True


def test_cluster_too_few_nodes():
    report = cluster_sizing(cluster("large", "large"), lightweight(31), "site-a")
    assert report["violations"][0] == (
        "cluster site-a: 31 workloads on 2 nodes leave 31 per node with one node down; "
        "a node carries at most 30, so plan at least 3 nodes"
    )


def test_cluster_capacity_with_biggest_node_down():
    # 3 medium nodes (3500m each) with 8 heavy = 4000m: fits all up (10500m)
    # and with one down (7000m). 15 heavy = 7500m does not fit with one down.
    ok = cluster_sizing(cluster("medium", "medium", "medium"), [{"type": "heavy", "count": 8}], "site-a")
    assert ok["ok"], ok["violations"]
    # Losing the large node (7500m) leaves 2 x 3500m: 14 heavy fit exactly, 15 do not.
    exact = cluster_sizing(cluster("medium", "medium", "large"), [{"type": "heavy", "count": 14}], "site-a")
    assert exact["ok"], exact["violations"]
    short = cluster_sizing(cluster("medium", "medium", "large"), [{"type": "heavy", "count": 15}], "site-a")
    assert short["violations"] == [
        "cluster site-a: workload CPU requests 7500m exceed the 7000m allocatable on the other 2 nodes "
        "with node n2 down (after reserving 500m per node for OS and K3s)"
    ]


def test_cluster_of_one_is_a_single_node():
    for hw, workloads in ((node(), lightweight(3)), (node(cpu=1, disk_type="hdd"), lightweight(31))):
        single = sizing_report(hw, workloads)
        one = cluster_sizing([hw], workloads)
        assert (one["ok"], one["violations"], one["warnings"]) == (
            single["ok"], single["violations"], single["warnings"],
        )


def test_cluster_default_node_names():
    report = cluster_sizing([node(name=None, cpu=1), node(name=None)], [])
    assert report["violations"][0].startswith("node nodes[0]: CPU 1 cores")


def test_cluster_zero_workloads():
    assert cluster_sizing(cluster("small", "small"), [])["ok"]


# --- enforce_sizing -------------------------------------------------------------------


def test_enforce_returns_report_when_ok():
    assert enforce_sizing(node(), lightweight(2)) == sizing_report(node(), lightweight(2))


def test_enforce_lists_every_violation():
    hw = node(cpu=1, mem_gib=3.2, disk_gib=50, disk_type="hdd")
    with pytest.raises(SizingViolationError) as info:
        enforce_sizing(hw, lightweight(3))
    report = sizing_report(hw, lightweight(3))
    assert len(report["violations"]) == 4
    assert info.value.violations == report["violations"]
    message = str(info.value)
    assert message.startswith("node ipc-01 does not meet the edge sizing guidelines (4 violation(s)):")
    for violation in report["violations"]:
        assert "\n- " + violation in message


def test_enforce_accepts_a_cluster():
    with pytest.raises(SizingViolationError, match=r"^cluster site-b does not meet"):
        enforce_sizing(cluster("large", "large"), lightweight(31), cluster_name="site-b")
    assert enforce_sizing(cluster("large", "large", "large"), lightweight(40))["ok"]


# --- storage_policy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data_type, retention, storage_class, backup, required",
    [
        ("telemetry_buffer", "hours", "fast-ssd", "none", False),
        ("application_logs", "days", "standard", "optional", False),
        ("configuration", "permanent", "replicated", "required", True),
        ("compliance_logs", "90+ days", "durable", "offsite", True),
    ],
)
def test_storage_policy(data_type, retention, storage_class, backup, required):
    policy = storage_policy(data_type)
    assert policy["data_type"] == data_type
    assert (policy["retention"], policy["storage_class"], policy["backup"], policy["backup_required"]) == (
        retention, storage_class, backup, required,
    )


# --- bad input ----------------------------------------------------------------------------


def _hw_without(field):
    hw = node()
    del hw["ztp_" + field]
    return hw


BAD_INPUT = [
    (workload_resources, (None,), ["workloads must be a list", "None (NoneType)"]),
    (workload_resources, ("heavy",), ["workloads must be a list", "'heavy' (str)"]),
    (workload_resources, ({"type": "heavy"},), ["workloads must be a list", "(dict)"]),
    (workload_resources, ([1],), ["workloads[0] must be a dict", "1 (int)"]),
    (workload_resources, ([{"type": "heavy"}, {"type": "gpu", "name": "vision"}],),
     ["workloads[1] ('vision')", "unknown type 'gpu'", "lightweight, medium, heavy, database"]),
    (workload_resources, ([{"name": "x"}],), ["workloads[0] ('x')", "missing 'type'"]),
    (workload_resources, ([{"type": None}],), ["workloads[0]", "missing 'type'"]),
    (workload_resources, ([{"type": ["heavy"]}],), ["workloads[0]", "unknown type ['heavy']"]),
    (workload_resources, ([{"type": "Heavy"}],), ["unknown type 'Heavy'"]),
    (workload_resources, ([{"type": "heavy", "name": 7}],), ["workloads[0]: name must be a string", "7 (int)"]),
    (workload_resources, ([{"type": "heavy", "name": "a", "count": True}],),
     ["workloads[0] ('a'): count must be an integer", "True (bool)"]),
    (workload_resources, ([{"type": "heavy", "count": 0}],), ["workloads[0]: count must be >= 1", "got 0"]),
    (workload_resources, ([{"type": "heavy", "count": -2}],), ["count must be >= 1", "got -2"]),
    (workload_resources, ([{"type": "heavy", "count": "2"}],), ["count must be an integer", "'2' (str)"]),
    (workload_resources, ([{"type": "heavy", "count": 1.5}],), ["count must be an integer", "1.5"]),
    (workload_resources, ([{"type": "heavy", "count": None}],), ["count must be an integer", "None"]),
    (node_requirements, (-1,), ["workload_count must be >= 0", "-1"]),
    (node_requirements, ("3",), ["workload_count must be an integer", "'3' (str)"]),
    (node_requirements, (True,), ["workload_count must be an integer", "True (bool)"]),
    (node_requirements, (None,), ["workload_count must be an integer", "None"]),
    (node_requirements, (2.5,), ["workload_count must be an integer", "2.5"]),
    (node_requirements, (float("nan"),), ["workload_count must be a finite number", "nan"]),
    (sizing_report, (None, []), ["node must be a dict", "None (NoneType)"]),
    (sizing_report, ([node()], []), ["node must be a dict", "(list)"]),
    (sizing_report, (_hw_without("cpu_cores"), []), ["node ipc-01: missing hardware field ztp_cpu_cores (or cpu_cores)"]),
    (sizing_report, (_hw_without("memory_mb"), []), ["node ipc-01: missing hardware field ztp_memory_mb (or memory_mb)"]),
    (sizing_report, (_hw_without("disk_gb"), []), ["node ipc-01: missing hardware field ztp_disk_gb (or disk_gb)"]),
    (sizing_report, (_hw_without("disk_type"), []), ["node ipc-01: missing hardware field ztp_disk_type"]),
    (sizing_report, (dict(node(), ztp_memory_mb=None), []), ["node ipc-01: missing hardware field ztp_memory_mb"]),
    (sizing_report, (dict(node(), ztp_memory_mb="4096"), []), ["node ipc-01: ztp_memory_mb must be a number", "'4096' (str)"]),
    (sizing_report, (dict(node(), ztp_cpu_cores=True), []), ["node ipc-01: ztp_cpu_cores must be a number", "True (bool)"]),
    (sizing_report, (dict(node(), ztp_disk_gb=-64), []), ["node ipc-01: ztp_disk_gb must be >= 0", "-64"]),
    (sizing_report, (dict(node(), ztp_disk_gb=float("inf")), []), ["ztp_disk_gb must be a finite number"]),
    (sizing_report, (dict(node(), ztp_disk_type="emmc"), []), ["node ipc-01: ztp_disk_type must be one of hdd, nvme, ssd", "'emmc'"]),
    (sizing_report, (dict(node(), ztp_disk_type=1), []), ["ztp_disk_type must be one of", "1 (int)"]),
    (sizing_report, (node(), [{"type": "gpu"}]), ["workloads[0]: unknown type 'gpu'"]),
    (sizing_report, (node(), None), ["workloads must be a list"]),
    (cluster_sizing, ([], []), ["nodes must be a non-empty list", "[] (list)"]),
    (cluster_sizing, (node(), []), ["nodes must be a non-empty list", "(dict)"]),
    (cluster_sizing, ([node(), "ipc-02"], []), ["node must be a dict", "'ipc-02' (str)"]),
    (cluster_sizing, ([node(), dict(node(name=None), ztp_cpu_cores="x")], []), ["node nodes[1]: ztp_cpu_cores must be a number"]),
    (cluster_sizing, ([node()], [], 5), ["cluster_name must be a string", "5 (int)"]),
    (enforce_sizing, ({}, []), ["node (unnamed): missing hardware field ztp_cpu_cores"]),
    (storage_policy, ("audit_logs",), ["unknown data type 'audit_logs'", "telemetry_buffer, application_logs"]),
    (storage_policy, (None,), ["unknown data type None"]),
    (storage_policy, (["configuration"],), ["unknown data type ['configuration'] (list)"]),
]


@pytest.mark.parametrize("func, args, fragments", BAD_INPUT)
def test_bad_input_names_the_input(func, args, fragments):
    with pytest.raises(SizingError) as info:
        func(*args)
    assert not isinstance(info.value, SizingViolationError)
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)


# --- properties --------------------------------------------------------------------------------

workload_st = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(sizing.WORKLOAD_TYPES))},
    optional={"name": st.text(max_size=8), "count": st.integers(1, 12)},
)
workloads_st = st.lists(workload_st, max_size=8)
hardware_st = st.fixed_dictionaries(
    {
        "ztp_cpu_cores": st.integers(0, 32),
        "ztp_memory_mb": st.integers(0, 40 * 1024),
        "ztp_disk_gb": st.floats(0, 600, allow_nan=False),
        "ztp_disk_type": st.sampled_from(sorted(sizing.DISK_TYPES)),
    }
)
SPEC_KEYS = ("cpu", "memory_gb", "disk_gb")
# No per-example deadline: CI shares 2 cores with other suites, and timing
# noise must not fail a property.
relaxed = settings(deadline=None)


@relaxed
@given(st.integers(0, 500), st.integers(0, 500))
def test_more_workloads_never_lower_a_requirement(a, b):
    low, high = node_requirements(min(a, b)), node_requirements(max(a, b))
    for level in ("minimum", "recommended"):
        for key in SPEC_KEYS:
            assert low[level][key] <= high[level][key]
    assert low["min_nodes"] <= high["min_nodes"]
    assert low["multi_node_required"] <= high["multi_node_required"]


@relaxed
@given(workloads_st, workloads_st)
def test_totals_are_additive(a, b):
    left, right, both = workload_resources(a), workload_resources(b), workload_resources(a + b)
    assert both == {key: left[key] + right[key] for key in both}


@relaxed
@given(st.sampled_from(sorted(sizing.WORKLOAD_TYPES)), st.integers(1, 40))
def test_count_equals_copies(wtype, count):
    assert workload_resources([{"type": wtype, "count": count}]) == workload_resources([{"type": wtype}] * count)


@relaxed
@given(workloads_st)
def test_limits_never_below_requests(workloads):
    totals = workload_resources(workloads)
    for res in sizing.RESOURCES:
        assert totals[res + "_limit"] >= totals[res]


@relaxed
@given(hardware_st, workloads_st, st.integers(0, 8), st.integers(0, 8192), st.floats(0, 200), st.booleans())
def test_more_hardware_never_adds_violations(hw, workloads, cpu, mem, disk, to_ssd):
    bigger = dict(hw)
    bigger["ztp_cpu_cores"] += cpu
    bigger["ztp_memory_mb"] += mem
    bigger["ztp_disk_gb"] += disk
    if to_ssd:
        bigger["ztp_disk_type"] = "nvme"
    before, after = sizing_report(hw, workloads), sizing_report(bigger, workloads)
    assert len(after["violations"]) <= len(before["violations"])
    if before["ok"]:
        assert after["ok"]


@relaxed
@given(hardware_st, workloads_st, workload_st)
def test_more_workloads_never_turn_a_failure_into_ok(hw, workloads, extra):
    if not sizing_report(hw, workloads)["ok"]:
        assert not sizing_report(hw, workloads + [extra])["ok"]


@relaxed
@given(
    st.sampled_from(sizing.NODE_TIERS),
    st.floats(sizing.NOMINAL["memory_fraction"], 1.0),
    st.floats(sizing.NOMINAL["disk_fraction"], 1.0),
    st.data(),
)
def test_nominal_hardware_always_passes_its_tier(tier, mem_share, disk_share, data):
    spec = tier["minimum"]
    count = data.draw(st.integers(tier["min_workloads"], tier["max_workloads"]))
    hw = {
        "ztp_cpu_cores": spec["cpu"],
        # ceil: MemTotal is a whole number of MiB at or above the fraction
        "ztp_memory_mb": math.ceil(spec["memory_gb"] * 1024 * mem_share),
        "ztp_disk_gb": spec["disk_gb"] * sizing.BYTES_PER_GB / sizing.BYTES_PER_GIB * disk_share,
        "ztp_disk_type": spec["disk_type"],
    }
    report = sizing_report(hw, lightweight(count))
    assert report["ok"], report["violations"]


@relaxed
@given(st.sampled_from(sizing.NODE_TIERS), st.floats(0.0, 0.89), st.floats(0.0, 0.96))
def test_real_shortfalls_always_fail(tier, mem_share, disk_share):
    spec = tier["minimum"]
    hw = {
        "ztp_cpu_cores": spec["cpu"],
        "ztp_memory_mb": spec["memory_gb"] * 1024 * mem_share,
        "ztp_disk_gb": spec["disk_gb"] * sizing.BYTES_PER_GB / sizing.BYTES_PER_GIB * disk_share,
        "ztp_disk_type": spec["disk_type"],
    }
    report = sizing_report(hw, lightweight(tier["max_workloads"]))
    assert any(": memory " in v for v in report["violations"])
    assert any(": disk " in v for v in report["violations"])


@relaxed
@given(hardware_st, workloads_st)
def test_enforce_agrees_with_report(hw, workloads):
    report = sizing_report(hw, workloads)
    if report["ok"]:
        assert enforce_sizing(hw, workloads) == report
    else:
        with pytest.raises(SizingViolationError) as info:
            enforce_sizing(hw, workloads)
        assert info.value.violations == report["violations"]


@relaxed
@given(st.lists(hardware_st, min_size=2, max_size=5), workloads_st, hardware_st)
def test_cluster_capacity_never_shrinks_with_another_node(nodes, workloads, extra):
    before = cluster_sizing(nodes, workloads)
    after = cluster_sizing(nodes + [extra], workloads)
    before_capacity = [v for v in before["violations"] if v.startswith("cluster: workload")]
    after_capacity = [v for v in after["violations"] if v.startswith("cluster: workload")]
    assert len(after_capacity) <= len(before_capacity)
    assert after["per_node_workloads"] <= before["per_node_workloads"]


garbage = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 50) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=8,
)
maybe_workload = st.dictionaries(
    st.sampled_from(["type", "name", "count", "extra"]),
    garbage | st.sampled_from(sorted(sizing.WORKLOAD_TYPES)),
)
maybe_node = st.dictionaries(
    st.sampled_from(["ztp_cpu_cores", "memory_mb", "ztp_memory_mb", "disk_gb", "ztp_disk_gb",
                     "ztp_disk_type", "inventory_hostname"]),
    garbage | st.sampled_from(["ssd", "hdd", "nvme"]) | st.integers(0, 64),
)


@settings(max_examples=300, deadline=None)
@given(garbage | maybe_node, garbage | st.lists(maybe_workload | garbage, max_size=4))
def test_any_input_gives_a_report_or_a_sizing_error(node_input, workloads):
    for call in (
        lambda: sizing_report(node_input, workloads),
        lambda: cluster_sizing([node_input, node_input], workloads),
        lambda: node_requirements(workloads),
        lambda: storage_policy(node_input),
    ):
        try:
            result = call()
        except SizingError as exc:
            assert str(exc)
        else:
            assert isinstance(result, dict)


# --- docs ----------------------------------------------------------------------------------------


def test_docs_sizing_md_is_current():
    spec = importlib.util.spec_from_file_location("gen_sizing", COLLECTION_ROOT / "docs" / "gen_sizing.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    current = (COLLECTION_ROOT / "docs" / "sizing.md").read_text(encoding="utf-8")
    assert current == gen.render(), "docs/sizing.md is stale: run python docs/gen_sizing.py"


def test_docs_show_the_tables():
    text = (COLLECTION_ROOT / "docs" / "sizing.md").read_text(encoding="utf-8")
    for row in (
        "| `lightweight` (monitor) | 100m | 64Mi | 100Mi |",
        "| `database` | 500m-2000m | 512Mi-2Gi | 10Gi+ |",
        "| 5-15 | 6-15 | medium | 4 CPU, 8GB RAM, 128GB SSD | 8 CPU, 16GB RAM |",
        "| 30+ | 31+ | multi-node | multi-node cluster | scale horizontally |",
    ):
        assert row in text
    assert sizing.ENFORCE_VARIABLE == "edgefleet_sizing_enforce"
    assert "`edgefleet_sizing_enforce` (bool, default `true`)" in text


# --- fleet_sizing (the preflight play) ------------------------------------------

def _host(name, cluster, cores=4, memory=8192, disk=128, kind="ssd", workloads=None):
    return {"inventory_hostname": name, "ztp_cluster": cluster, "ztp_cpu_cores": cores, "ztp_memory_mb": memory,
            "ztp_disk_gb": disk, "ztp_disk_type": kind,
            "ztp_cluster_workloads": workloads if workloads is not None else [{"name": "gw", "type": "medium"}]}


def test_fleet_sizing_lists_every_violation_of_every_cluster():
    many = [{"name": "w%d" % i, "type": "heavy"} for i in range(20)]
    report = sizing.fleet_sizing([
        _host("a1", "line-a", memory=2048),                 # below 4 GB
        _host("b1", "line-b", kind="hdd"),                  # HDD where an SSD is needed
        _host("c1", "single", workloads=many),              # 20 workloads on 4 cores
        _host("ok1", "fine"),
        {"inventory_hostname": "loose", "ztp_cluster": None},
    ])
    assert not report["ok"]
    assert sorted(report["clusters"]) == ["fine", "line-a", "line-b", "single"]
    text = "\n".join(report["violations"])
    assert "a1" in text and "b1" in text and "c1" in text and "ok1" not in text
    assert report["clusters"]["fine"]["ok"]


def test_fleet_sizing_leaves_clusters_with_unrecorded_hardware_pending():
    unknown = {"inventory_hostname": "new", "ztp_cluster": "line-a", "ztp_cpu_cores": None,
               "ztp_memory_mb": None, "ztp_disk_gb": None, "ztp_disk_type": None, "ztp_cluster_workloads": []}
    report = sizing.fleet_sizing([_host("a1", "line-a"), unknown])
    assert report["ok"] and report["pending"] == {"line-a": ["new"]} and report["clusters"] == {}


def test_fleet_sizing_bad_input():
    with pytest.raises(sizing.SizingError, match="devices must be a list"):
        sizing.fleet_sizing({"a": 1})
    with pytest.raises(sizing.SizingError, match=r"devices\[0\] must be a dict"):
        sizing.fleet_sizing(["x"])


def test_fleet_sizing_with_observed_hardware_sizes_what_discover_saw():
    # recorded: fits; observed by discover: 2 GiB of memory, which no longer fits
    recorded = _host("a1", "line-a")
    seen = dict(recorded, edgefleet_stage_record={"hardware": {"cpu_cores": 8, "memory_mb": 2048, "disk_gb": 512, "disk_type": "nvme"}})
    assert sizing.fleet_sizing([recorded])["ok"]
    report = sizing.fleet_sizing([seen], observed="edgefleet_stage_record")
    assert not report["ok"] and "a1" in "\n".join(report["clusters"]["line-a"]["violations"])
    # no observation (a host that failed before recording one): the recorded hardware is sized
    assert sizing.fleet_sizing([recorded], observed="edgefleet_stage_record")["ok"]
    # observed hardware fills in what was never recorded: no longer pending
    blank = dict(recorded, ztp_cpu_cores=None, ztp_memory_mb=None, ztp_disk_gb=None, ztp_disk_type=None)
    assert sizing.fleet_sizing([blank])["pending"] == {"line-a": ["a1"]}
    filled = dict(blank, edgefleet_stage_record={"hardware": {"cpu_cores": 8, "memory_mb": 16384, "disk_gb": 512, "disk_type": "ssd"}})
    assert sizing.fleet_sizing([filled], observed="edgefleet_stage_record")["clusters"]["line-a"]["ok"]
    with pytest.raises(sizing.SizingError, match="observed must be the name of a host variable"):
        sizing.fleet_sizing([recorded], observed=3)


def test_sizing_vocabularies_are_the_data_model_s():
    from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_model

    assert set(sizing.WORKLOAD_TYPES) == set(ztp_model.WORKLOAD_TYPES)
    assert set(sizing.DISK_TYPES) == set(ztp_model.DISK_TYPES)
    assert sizing.HARDWARE_FIELDS is ztp_model.HARDWARE_FIELDS
