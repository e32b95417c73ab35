# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render docs/sizing.md from the tables in plugins/module_utils/sizing.py.

    python docs/gen_sizing.py          # rewrite docs/sizing.md
    python docs/gen_sizing.py --check  # exit 1 if docs/sizing.md is stale

The examples of reports and errors are produced by running the functions,
so the page shows exactly what the filters say.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZING_PY = ROOT / "plugins" / "module_utils" / "sizing.py"
OUTPUT = ROOT / "docs" / "sizing.md"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_sizing():
    """Import module_utils/sizing.py by path, so the generator runs without an
    ansible_collections tree: its one collection import, the data model (pure
    Python as well), is loaded by path under its collection name first."""
    if "ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model" not in sys.modules:
        for package in ("ansible_collections", "ansible_collections.edgefleet", "ansible_collections.edgefleet.platform",
                        "ansible_collections.edgefleet.platform.plugins",
                        "ansible_collections.edgefleet.platform.plugins.module_utils"):
            sys.modules.setdefault(package, importlib.util.module_from_spec(importlib.machinery.ModuleSpec(package, None, is_package=True)))
        _load("ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model", SIZING_PY.parent / "ztp_model.py")
    spec = importlib.util.spec_from_file_location("edgefleet_sizing_for_docs", SIZING_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _qty(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def _guideline(res: str, pair: tuple) -> str:
    """A (request, limit) pair written as in the guideline: 100m, 512Mi-2Gi, 10Gi+."""
    fmt = (lambda v: f"{v}m") if res == "cpu_millicores" else _qty
    request, limit = pair
    if limit is None:
        return fmt(request) + "+"
    return fmt(request) if request == limit else f"{fmt(request)}-{fmt(limit)}"


def _table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _gib(value: float) -> str:
    return f"{value:.2f}"


def _gib_up(value: float) -> str:
    # Thresholds round up, as in the filters' messages.
    return f"{math.ceil(value * 100 - 1e-9) / 100:.2f}"


def workload_table(s) -> str:
    rows = []
    for name, spec in s.WORKLOAD_TYPES.items():
        label = f"`{name}` ({spec['example']})" if spec["example"] else f"`{name}`"
        rows.append([label] + [_guideline(res, spec[res]) for res in s.RESOURCES])
    return _table(["type", "CPU", "memory", "storage"], rows)


def _guideline_range(s, tier) -> str:
    # The guideline writes shared edges: 1-5, 5-15, 15-30, 30+.
    if tier is s.NODE_TIERS[0]:
        return s.tier_range(tier)
    low = tier["min_workloads"] - 1
    return f"{low}+" if tier["max_workloads"] is None else f"{low}-{tier['max_workloads']}"


def tier_table(s) -> str:
    rows = []
    for tier in s.NODE_TIERS:
        low, rec = tier["minimum"], tier["recommended"]
        rows.append([
            _guideline_range(s, tier),
            s.tier_range(tier),
            tier["name"],
            f"{low['cpu']} CPU, {low['memory_gb']}GB RAM, {low['disk_gb']}GB {low['disk_type'].upper()}",
            f"{rec['cpu']} CPU, {rec['memory_gb']}GB RAM",
        ])
    multi = s.MULTI_NODE_TIER
    rows.append([_guideline_range(s, multi), s.tier_range(multi), multi["name"], multi["minimum"], multi["recommended"]])
    return _table(["guideline", "read as", "tier", "minimum node", "recommended"], rows)


def nominal_table(s) -> str:
    rows = []
    for tier in s.NODE_TIERS:
        low, rec = tier["minimum"], tier["recommended"]
        rows.append([
            tier["name"],
            f"{low['memory_gb']}GB: {_gib_up(s.memory_floor_mib(low['memory_gb']) / 1024)} GiB",
            f"{rec['memory_gb']}GB: {_gib_up(s.memory_floor_mib(rec['memory_gb']) / 1024)} GiB",
            f"{low['disk_gb']}GB = {_gib(low['disk_gb'] * s.BYTES_PER_GB / s.BYTES_PER_GIB)} GiB: "
            f"{_gib_up(s.disk_floor_gib(low['disk_gb']))} GiB",
        ])
    return _table(["tier", "minimum memory: least MemTotal", "recommended memory: least MemTotal",
                   "minimum disk: least reported"], rows)


def min_nodes_table(s) -> str:
    counts = [1, s.MAX_WORKLOADS_PER_NODE, s.MAX_WORKLOADS_PER_NODE + 1, 40, 60, 61, 90, 100]
    rows = []
    for count in counts:
        nodes = s.min_nodes(count)
        per_node = count if nodes == 1 else -(-count // (nodes - 1))
        rows.append([count, nodes, per_node, s.tier_for(per_node)["name"]])
    return _table(["workloads", "fewest nodes", "per node, one down", "tier of each node"], rows)


def storage_table(s) -> str:
    rows = [[f"`{name}`", p["retention"], f"`{p['storage_class']}`", p["backup"]]
            for name, p in s.STORAGE_POLICIES.items()]
    return _table(["data type", "retention", "storage class", "backup"], rows)


def reserve_text(s) -> str:
    r = s.RESERVE
    return f"{r['cpu_millicores']}m CPU, {_qty(r['memory_mib'])} memory and {_qty(r['storage_mib'])} disk"


def example_report(s) -> str:
    node = {"inventory_hostname": "ipc-01", "ztp_cpu_cores": 2, "ztp_memory_mb": 3400,
            "ztp_disk_gb": 59.6, "ztp_disk_type": "hdd"}
    report = s.sizing_report(node, [{"type": "heavy", "count": 4}])
    lines = [f"violation: {v}" for v in report["violations"]] + [f"warning:   {w}" for w in report["warnings"]]
    return "\n".join(lines)


def example_errors(s) -> str:
    calls = [
        (s.workload_resources, ([{"type": "heavy"}, {"type": "gpu", "name": "vision"}],)),
        (s.workload_resources, ([{"type": "medium", "name": "gw", "count": True}],)),
        (s.sizing_report, ({"inventory_hostname": "ipc-02", "ztp_cpu_cores": 4, "ztp_memory_mb": 8000,
                            "ztp_disk_type": "ssd"}, [])),
        (s.sizing_report, ({"inventory_hostname": "ipc-03", "cpu_cores": "4", "memory_mb": 8000,
                            "disk_gb": 120, "disk_type": "ssd"}, [])),
        (s.storage_policy, ("audit_logs",)),
    ]
    lines = []
    for func, args in calls:
        try:
            func(*args)
        except s.SizingError as exc:
            lines.append(str(exc))
    return "\n".join(lines)


def render() -> str:
    s = load_sizing()
    small = s.NODE_TIERS[0]
    mem_pct = round(s.NOMINAL["memory_fraction"] * 100)
    disk_pct = round(s.NOMINAL["disk_fraction"] * 100)
    return f"""<!-- Generated by docs/gen_sizing.py from plugins/module_utils/sizing.py. Do not edit. -->
# Edge sizing

The preflight refuses an undersized node or cluster before anything changes on a host. The
tables below are rendered from `plugins/module_utils/sizing.py`, the data the filters read;
regenerate this page with `python docs/gen_sizing.py` (a unit test fails when it is stale).

Filters (all `edgefleet.platform.<name>`, documented with `ansible-doc -t filter`):
`workload_resources`, `node_requirements`, `sizing_report`, `enforce_sizing`,
`cluster_sizing`, `storage_policy`.

## Workload resources

{workload_table(s)}

For a range the **request** is the lower bound and the **limit** the upper bound. `10Gi+` means at
least 10Gi: both totals count 10Gi, so size database disks with headroom. Units are binary:
1Gi = 1024Mi; CPU is in millicores (1000m = one core). Workloads are dicts with a `type`, an optional
`name` and an optional `count` (integer >= 1, default 1).

## Node sizing

{tier_table(s)}

**Edge rule.** The guideline's ranges share their edges (5, 15, 30). Each tier's upper bound is
inclusive: 5 workloads are `small`, 6 are `medium`, 15 are `medium`, 16 are `large`, 30 are `large`
and 31 or more need a multi-node cluster. Zero workloads use the `{small['name']}` tier: a node with
nothing planned still runs K3s. The recommended column gives CPU and memory only; the recommended
disk is the minimum disk. NVMe counts as SSD; an HDD is a violation.

## Nominal sizes

Real hardware reports less than its nominal size. The tables' RAM is binary (a "4GB" module is
4 GiB) and the kernel's `MemTotal` (`ztp_memory_mb`, MiB, like `ansible_memtotal_mb`) misses what
firmware, kernel and graphics reserve: memory passes when at least **{mem_pct}%** of the nominal GiB
is reported (a 4GB IPC reports 3.7-3.9 GiB and passes; 3.4 GiB does not). Disk sizes are decimal
(a "64GB" SSD holds 64e9 bytes = 59.6 GiB) and `ztp_disk_gb` is the GiB reported: a disk passes when
it reports at least **{disk_pct}%** of its decimal bytes, which covers rounding and eMMC parts that
expose 62.5e9 bytes (58.2 GiB) as 64GB; 55 GiB does not pass. CPU cores are compared as they are.

{nominal_table(s)}

## Capacity

Besides the tier, the workload **requests** must fit in what the node offers after reserving
**{reserve_text(s)}** per node for the OS, containerd and K3s; otherwise it is a violation.
Workload **limits** that do not fit are a warning (Kubernetes overcommits limits).

## Multi-node clusters

31 or more workloads need a multi-node cluster; a single node asked for them is a violation. A
cluster promises rescheduling when a node fails, so `cluster_sizing` checks the cluster **with one
node down**:

- With N >= 2 nodes, each node must meet the tier for its share with one node down,
  ceil(workloads / (N - 1)). A share above {s.MAX_WORKLOADS_PER_NODE} is a violation naming the number
  of nodes needed, ceil(workloads / {s.MAX_WORKLOADS_PER_NODE}) + 1.
- For each resource, the requests must fit in the sum of the nodes' capacity (after the reserve
  above) less the node with the most of that resource, the worst one to lose. This is an aggregate
  check, not bin packing; the per-node tier keeps each node big enough for its share.
- A cluster of one node is checked like a single node: there is no failover.

`node_requirements` gives `min_nodes` and, for 31+ workloads, the size of each node at that count:

{min_nodes_table(s)}

## Storage per data type

{storage_table(s)}

## Reports and errors

A report (`sizing_report`, `cluster_sizing`) has `ok`, the `tier` applied, `violations` (below the
minimum, HDD for SSD, too many workloads for one node, requests beyond capacity) and `warnings`
(below the recommended size, limits beyond capacity). Each is one sentence naming the node or
cluster, the resource, what is needed and what is there. For an IPC with 2 cores, 3.4 GiB, a 64GB
HDD and four heavy workloads:

```text
{example_report(s)}
```

`enforce_sizing` returns the report when it has no violation and otherwise fails listing every
violation. Bad input is never a silent pass nor a traceback: the filter fails with a message that
names the input first (the workload index and name, the node and field, or the data type), then the
problem and the value received with its type:

```text
{example_errors(s)}
```

Hardware fields are `ztp_cpu_cores`, `ztp_memory_mb`, `ztp_disk_gb`, `ztp_disk_type` (`ssd`, `nvme`,
`hdd`) or the same keys without `ztp_`. Sizes must be numbers >= 0 (booleans and strings are
refused). The node is named by the first of {", ".join(f"`{k}`" for k in s.NODE_NAME_KEYS)} that is set.

## Enforcement in preflight

Before any change to any host, the preflight play in `site.yml` checks every cluster against its
planned workloads and fails the run listing every violation of every cluster at once.

`{s.ENFORCE_VARIABLE}` (bool, default `true`): when `false`, the preflight prints the violations as
warnings instead of failing. It is meant for labs on undersized hardware; an inventory that sets it
says why next to it.
"""


def main(argv: list) -> int:
    text = render()
    if "--check" in argv:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run python docs/gen_sizing.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
