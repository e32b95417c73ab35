# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge sizing guidelines: the tables as data, and pure functions enforcing them.

The filters in ``plugins/filter/sizing.py`` and ``docs/gen_sizing.py`` both read
the tables below, so the documentation cannot drift from what is enforced.
Nothing here imports Ansible; every bad input raises :class:`SizingError`.

Decisions (rendered into docs/sizing.md):

* Edge rule: each tier's upper bound is inclusive (1-5, 6-15, 16-30, 31+).
  Zero workloads use the smallest tier: a node still has to run K3s.
* Nominal sizes: RAM in the tables is binary (a "4GB" module is 4 GiB) and
  passes when at least ``NOMINAL["memory_fraction"]`` of it is reported
  (firmware and kernel reserve some); disks are decimal (64GB = 64e9 bytes) and
  pass when at least ``NOMINAL["disk_fraction"]`` of those bytes is reported.
* Capacity: workload requests must fit in what a node reports minus
  ``RESERVE`` (OS + K3s); limits that do not fit are only warnings.
* Multi-node: with n >= 2 nodes any one may fail, so each node is sized for
  ceil(workloads / (n - 1)) workloads and the requests must fit on the nodes
  left after removing the one with the most of that resource.
"""

from __future__ import annotations

import math
import typing as t
from collections import ChainMap
from collections.abc import Mapping

from ansible_collections.edgefleet.platform.plugins.module_utils import storage_engines
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import HARDWARE_FIELDS

# --- tables -----------------------------------------------------------------

MIB_PER_GIB = 1024
BYTES_PER_GIB = 1024 ** 3
BYTES_PER_GB = 1000 ** 3

RESOURCES = ("cpu_millicores", "memory_mib", "storage_mib")

# Per workload type: (request, limit) for each resource. A range in the
# guideline gives request = lower bound and limit = upper bound; a limit of
# None is open-ended ("10Gi+"), and totals then count the lower bound.
WORKLOAD_TYPES: dict[str, dict[str, t.Any]] = {
    "lightweight": {
        "example": "monitor",
        "cpu_millicores": (100, 100),
        "memory_mib": (64, 64),
        "storage_mib": (100, 100),
    },
    "medium": {
        "example": "gateway",
        "cpu_millicores": (200, 200),
        "memory_mib": (128, 128),
        "storage_mib": (500, 500),
    },
    "heavy": {
        "example": "analytics",
        "cpu_millicores": (500, 500),
        "memory_mib": (256, 256),
        "storage_mib": (1024, 1024),
    },
    "database": {
        "example": None,
        "cpu_millicores": (500, 2000),
        "memory_mib": (512, 2048),
        "storage_mib": (10240, None),
    },
}

# Node tiers by workload count; max_workloads is inclusive (the edge rule).
# The guideline recommends CPU and memory only; the disk stays at the minimum.
NODE_TIERS: tuple[dict[str, t.Any], ...] = (
    {
        "name": "small",
        "min_workloads": 1,
        "max_workloads": 5,
        "minimum": {"cpu": 2, "memory_gb": 4, "disk_gb": 64, "disk_type": "ssd"},
        "recommended": {"cpu": 4, "memory_gb": 8},
    },
    {
        "name": "medium",
        "min_workloads": 6,
        "max_workloads": 15,
        "minimum": {"cpu": 4, "memory_gb": 8, "disk_gb": 128, "disk_type": "ssd"},
        "recommended": {"cpu": 8, "memory_gb": 16},
    },
    {
        "name": "large",
        "min_workloads": 16,
        "max_workloads": 30,
        "minimum": {"cpu": 8, "memory_gb": 16, "disk_gb": 256, "disk_type": "ssd"},
        "recommended": {"cpu": 16, "memory_gb": 32},
    },
)

# Beyond the largest tier no single node qualifies: "multi-node cluster",
# "scale horizontally". Each node of such a cluster is sized by its share.
MULTI_NODE_TIER: dict[str, t.Any] = {
    "name": "multi-node",
    "min_workloads": NODE_TIERS[-1]["max_workloads"] + 1,
    "max_workloads": None,
    "minimum": "multi-node cluster",
    "recommended": "scale horizontally",
}

MAX_WORKLOADS_PER_NODE: int = NODE_TIERS[-1]["max_workloads"]

# Reported disk types and the class they count as; the tables ask for SSD.
DISK_TYPES = {"ssd": "ssd", "nvme": "ssd", "hdd": "hdd"}

# Share of the nominal size that must be reported for nominal hardware to pass.
NOMINAL = {
    # MemTotal of a 4 GiB IPC is 3.7-3.9 GiB (firmware, kernel, iGPU carve-out).
    "memory_fraction": 0.90,
    # Reported GiB of a decimal-GB disk; 3% covers rounding and eMMC parts
    # that expose 62.5e9 of 64e9 bytes.
    "disk_fraction": 0.97,
}

# Subtracted from every node before workload requests are compared:
# the OS, containerd and the K3s server/agent need these to stay healthy.
RESERVE = {"cpu_millicores": 500, "memory_mib": 1024, "storage_mib": 8 * 1024}

# The storage guideline per data type, and what the storage stage makes of it
# (plugins/module_utils/storage.py): replication "none" stays on the node's
# own disk (K3s local-path), "cluster" is replicated by the cluster's engine;
# reclaim_policy of the class; a backup_schedule (cron) with backup_retain
# backups kept, sent to the backup_target ("default" or "offsite").
STORAGE_POLICIES = {
    "telemetry_buffer": {
        "retention": "hours",
        "storage_class": "fast-ssd",
        "backup": "none",
        "backup_required": False,
        "replication": "none",
        "reclaim_policy": "Delete",
    },
    "application_logs": {
        "retention": "days",
        "storage_class": "standard",
        "backup": "optional",
        "backup_required": False,
        "replication": "cluster",
        "reclaim_policy": "Delete",
    },
    "configuration": {
        "retention": "permanent",
        "storage_class": "replicated",
        "backup": "required",
        "backup_required": True,
        "replication": "cluster",
        "reclaim_policy": "Retain",
        "backup_schedule": "0 1 * * *",
        "backup_retain": 14,
        "backup_target": "default",
    },
    "compliance_logs": {
        "retention": "90+ days",
        "min_retention_days": 90,
        "storage_class": "durable",
        "backup": "offsite",
        "backup_required": True,
        "replication": "cluster",
        "reclaim_policy": "Retain",
        # daily, so 90 backups are the 90 days
        "backup_schedule": "0 2 * * *",
        "backup_retain": 90,
        "backup_target": "offsite",
    },
}

# Keys that may name a node in messages, in order of preference.
NODE_NAME_KEYS = ("inventory_hostname", "name", "ztp_hostname", "ztp_serial")
UNNAMED = "(unnamed)"

ENFORCE_VARIABLE = "edgefleet_sizing_enforce"


class SizingError(ValueError):
    """Bad input to a sizing function; the message names the input."""


class SizingViolationError(SizingError):
    """Raised by enforce_sizing; carries the full report."""

    def __init__(self, report: dict[str, t.Any]) -> None:
        self.report = report
        self.violations = list(report["violations"])
        subject = f"node {report['node']}" if "node" in report else _cluster_subject(report["cluster"])
        lines = "\n".join("- " + v for v in self.violations)
        super().__init__(
            f"{subject} does not meet the edge sizing guidelines "
            f"({len(self.violations)} violation(s)):\n{lines}"
        )


# --- input validation ---------------------------------------------------------


def _describe(value: t.Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _number(value: t.Any, what: str, minimum: float = 0, integer: bool = False) -> t.Any:
    """Return value if it is a real number >= minimum (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise SizingError(f"{what} must be {kind}, got {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SizingError(f"{what} must be a finite number, got {value!r}")
    if integer and value != int(value):
        raise SizingError(f"{what} must be an integer, got {value!r}")
    if value < minimum:
        raise SizingError(f"{what} must be >= {minimum}, got {value!r}")
    return int(value) if integer else value


def _is_list(value: t.Any) -> bool:
    return isinstance(value, (list, tuple))


def _parse_workloads(workloads: t.Any) -> list[tuple[str, int]]:
    """Validate a workload list; return (type, count) pairs."""
    if not _is_list(workloads):
        raise SizingError(
            f"workloads must be a list of dicts with a 'type', got {_describe(workloads)}"
        )
    parsed = []
    for index, workload in enumerate(workloads):
        label = f"workloads[{index}]"
        if not isinstance(workload, Mapping):
            raise SizingError(f"{label} must be a dict with a 'type', got {_describe(workload)}")
        name = workload.get("name")
        if name is not None:
            if not isinstance(name, str):
                raise SizingError(f"{label}: name must be a string, got {_describe(name)}")
            label = f"{label} ({name!r})"
        wtype = workload.get("type")
        if not isinstance(wtype, str) or wtype not in WORKLOAD_TYPES:
            problem = "missing 'type'" if wtype is None else f"unknown type {wtype!r}"
            raise SizingError(
                f"{label}: {problem}; expected one of {', '.join(WORKLOAD_TYPES)}"
            )
        count = _number(workload.get("count", 1), f"{label}: count", minimum=1, integer=True)
        parsed.append((wtype, count))
    return parsed


def _workload_count(value: t.Any) -> int:
    """A workload count, or the summed counts of a workload list."""
    if _is_list(value):
        return sum(count for _wtype, count in _parse_workloads(value))
    return _number(value, "workload_count", minimum=0, integer=True)


def node_name(node: Mapping, default: str = UNNAMED) -> str:
    """The name used for a node in messages."""
    for key in NODE_NAME_KEYS:
        value = node.get(key)
        if value is not None and value != "":
            return str(value)
    return default


def read_hardware(node: t.Any, default_name: str = UNNAMED) -> dict[str, t.Any]:
    """Normalize a node's hardware facts (ztp_-prefixed or bare keys)."""
    if not isinstance(node, Mapping):
        raise SizingError(
            "node must be a dict with ztp_cpu_cores, ztp_memory_mb, ztp_disk_gb and "
            f"ztp_disk_type, got {_describe(node)}"
        )
    name = node_name(node, default_name)
    hardware = {"name": name}
    for field in HARDWARE_FIELDS:
        key = "ztp_" + field if node.get("ztp_" + field) is not None else field
        value = node.get(key)
        what = f"node {name}: {key}"
        if value is None:
            raise SizingError(f"node {name}: missing hardware field ztp_{field} (or {field})")
        if field == "disk_type":
            kind = value.strip().lower() if isinstance(value, str) else None
            if kind not in DISK_TYPES:
                raise SizingError(
                    f"{what} must be one of {', '.join(sorted(DISK_TYPES))}, got {_describe(value)}"
                )
            hardware[field] = kind
        else:
            hardware[field] = _number(value, what)
    return hardware


# --- requirements -------------------------------------------------------------


def workload_resources(workloads: t.Any) -> dict[str, int]:
    """Total requests and limits of a workload list (MiB: 1Gi = 1024Mi)."""
    totals = {key: 0 for res in RESOURCES for key in (res, res + "_limit")}
    count_total = 0
    for wtype, count in _parse_workloads(workloads):
        spec = WORKLOAD_TYPES[wtype]
        for res in RESOURCES:
            request, limit = spec[res]
            totals[res] += request * count
            totals[res + "_limit"] += (request if limit is None else limit) * count
        count_total += count
    totals["workload_count"] = count_total
    return totals


def tier_range(tier: Mapping) -> str:
    if tier["max_workloads"] is None:
        return f"{tier['min_workloads']}+"
    return f"{tier['min_workloads']}-{tier['max_workloads']}"


def tier_for(workload_count: int) -> Mapping:
    """The tier whose inclusive range holds the count; 0 maps to the smallest."""
    for tier in NODE_TIERS:
        if workload_count <= tier["max_workloads"]:
            return tier
    return MULTI_NODE_TIER


def min_nodes(workload_count: int) -> int:
    """Fewest nodes that carry the count with one node down."""
    if workload_count <= MAX_WORKLOADS_PER_NODE:
        return 1
    return math.ceil(workload_count / MAX_WORKLOADS_PER_NODE) + 1


def node_requirements(workload_count: t.Any) -> dict[str, t.Any]:
    """Minimum and recommended node for a workload count (or workload list).

    For the multi-node tier the dicts give the per-node size at min_nodes with
    one node down, which is always the largest single-node tier.
    """
    count = _workload_count(workload_count)
    tier = tier_for(count)
    sized = NODE_TIERS[-1] if tier is MULTI_NODE_TIER else tier
    minimum = dict(sized["minimum"])
    return {
        "workload_count": count,
        "tier": {
            "name": tier["name"],
            "range": tier_range(tier),
            "min_workloads": tier["min_workloads"],
            "max_workloads": tier["max_workloads"],
        },
        "minimum": minimum,
        "recommended": dict(minimum, **sized["recommended"]),
        "multi_node_required": tier is MULTI_NODE_TIER,
        "min_nodes": min_nodes(count),
    }


def storage_policy(data_type: t.Any) -> dict[str, t.Any]:
    """Retention, storage class and backup for a data type."""
    if not isinstance(data_type, str) or data_type not in STORAGE_POLICIES:
        raise SizingError(
            f"unknown data type {_describe(data_type)}; expected one of "
            f"{', '.join(STORAGE_POLICIES)}"
        )
    return dict(STORAGE_POLICIES[data_type], data_type=data_type)


# --- nominal sizes and formatting -----------------------------------------------


def memory_floor_mib(memory_gb: float) -> float:
    """Least reported MemTotal (MiB) that passes as memory_gb nominal."""
    return memory_gb * MIB_PER_GIB * NOMINAL["memory_fraction"]


def disk_floor_gib(disk_gb: float) -> float:
    """Least reported size (GiB) that passes as a disk_gb (decimal) disk."""
    return disk_gb * BYTES_PER_GB / BYTES_PER_GIB * NOMINAL["disk_fraction"]


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _floor2(value: float) -> str:
    # Measured values round down and thresholds up, so a shortfall never
    # prints as "3.6 GiB is below ... at least 3.6 GiB".
    return _fmt(math.floor(value * 100 + 1e-9) / 100)


def _ceil2(value: float) -> str:
    return _fmt(math.ceil(value * 100 - 1e-9) / 100)


def _fmt_resource(res: str, value: float) -> str:
    if res == "cpu_millicores":
        return f"{_fmt(value)}m"
    if value >= MIB_PER_GIB:
        return f"{_fmt(value / MIB_PER_GIB)} GiB"
    return f"{_fmt(value)} MiB"


RESOURCE_LABELS = {"cpu_millicores": "CPU", "memory_mib": "memory", "storage_mib": "storage"}


# --- checks -------------------------------------------------------------------


def _tier_label(requirements: Mapping) -> str:
    tier = requirements["tier"]
    per_node = ", per node" if requirements["multi_node_required"] else ""
    return f"{tier['range']} workloads (tier {tier['name']}{per_node})"


def _hardware_shortfalls(hw: Mapping, spec: Mapping, level: str, label: str) -> dict[str, str]:
    """Resource -> sentence for each resource below spec; spec keys select checks."""
    node = f"node {hw['name']}"
    found = {}
    if "cpu" in spec and hw["cpu_cores"] < spec["cpu"]:
        found["cpu"] = (
            f"{node}: CPU {_fmt(hw['cpu_cores'])} cores is below the {level} "
            f"{spec['cpu']} cores for {label}"
        )
    if "memory_gb" in spec and hw["memory_mb"] < memory_floor_mib(spec["memory_gb"]):
        found["memory"] = (
            f"{node}: memory {_floor2(hw['memory_mb'] / MIB_PER_GIB)} GiB is below the "
            f"{level} {spec['memory_gb']} GB for {label}; at least "
            f"{_ceil2(memory_floor_mib(spec['memory_gb']) / MIB_PER_GIB)} GiB must be reported"
        )
    if "disk_gb" in spec and hw["disk_gb"] < disk_floor_gib(spec["disk_gb"]):
        found["disk"] = (
            f"{node}: disk {_floor2(hw['disk_gb'])} GiB is below the {level} "
            f"{spec['disk_gb']} GB for {label}; at least "
            f"{_ceil2(disk_floor_gib(spec['disk_gb']))} GiB must be reported"
        )
    if "disk_type" in spec and DISK_TYPES[hw["disk_type"]] != spec["disk_type"]:
        found["disk_type"] = (
            f"{node}: disk type {hw['disk_type']} is below the {level} "
            f"{spec['disk_type'].upper()} (ssd or nvme) for {label}"
        )
    return found


def _node_report(hw: Mapping, requirements: Mapping) -> dict[str, t.Any]:
    """Check one node's hardware against the minimum and recommended size."""
    label = _tier_label(requirements)
    violations = _hardware_shortfalls(hw, requirements["minimum"], "minimum", label)
    # The table recommends CPU and memory only; skip what already violates.
    recommended = {k: v for k, v in requirements["recommended"].items() if k in ("cpu", "memory_gb")}
    warnings = _hardware_shortfalls(hw, recommended, "recommended", label)
    hardware = {field: hw[field] for field in HARDWARE_FIELDS}
    return {
        "node": hw["name"],
        "ok": not violations,
        "violations": list(violations.values()),
        "warnings": [msg for res, msg in warnings.items() if res not in violations],
        "hardware": hardware,
        "allocatable": allocatable(hardware),
    }


def allocatable(hardware: Mapping) -> dict[str, float]:
    """What a node offers to workloads after the OS + K3s reserve."""
    offered = {
        "cpu_millicores": hardware["cpu_cores"] * 1000,
        "memory_mib": hardware["memory_mb"],
        "storage_mib": hardware["disk_gb"] * MIB_PER_GIB,
    }
    return {res: max(0, offered[res] - RESERVE[res]) for res in RESOURCES}


def _engine_share(res: str, overhead: Mapping | None, node: str) -> float:
    """What the storage engine requests of a resource on a node (0 off its storage nodes)."""
    if not overhead or node not in overhead["nodes"]:
        return 0
    return overhead.get(res, 0)


def _overhead_findings(subject: str, reports: list, overhead: Mapping | None) -> list[str]:
    """Storage nodes whose allocatable resources cannot hold the engine's own requests."""
    found = []
    for report in reports:
        for res in ("cpu_millicores", "memory_mib"):
            need = _engine_share(res, overhead, report["node"])
            if overhead and need > report["allocatable"][res]:
                found.append(
                    f"node {report['node']}: the storage engine {overhead['engine']} requests "
                    f"{_fmt_resource(res, need)} {RESOURCE_LABELS[res]} per storage node, more than the "
                    f"{_fmt_resource(res, report['allocatable'][res])} allocatable after the OS and K3s reserve"
                )
    return found


def _capacity_findings(subject: str, totals: Mapping, reports: list,
                       overhead: Mapping | None = None) -> tuple[list, list]:
    """Requests beyond the capacity left with one node down are violations,
    limits beyond it are warnings. A single node is checked as it is. The
    storage engine's own requests (``overhead``) come off its storage nodes first."""
    violations: list[str] = []
    warnings: list[str] = []
    for res in RESOURCES:
        capacities = [max(0, report["allocatable"][res] - _engine_share(res, overhead, report["node"]))
                      for report in reports]
        single = len(reports) == 1
        reserve = _fmt_resource(res, RESERVE[res]) + ("" if single else " per node") + " for OS and K3s"
        engine = max(_engine_share(res, overhead, r["node"]) for r in reports)
        if overhead and engine:
            reserve += f" and {_fmt_resource(res, engine)} per storage node for {overhead['engine']}"
        if single:
            left = capacities[0]
            where = f"on the node (after reserving {reserve})"
        else:
            down = capacities.index(max(capacities))
            left = sum(capacities) - capacities[down]
            where = (
                f"on the other {len(reports) - 1} nodes with node {reports[down]['node']} down "
                f"(after reserving {reserve})"
            )
        # Limits are only checked (as warnings) when the requests fit.
        for kind, needed, target in (
            ("requests", totals[res], violations),
            ("limits", totals[res + "_limit"], warnings),
        ):
            if needed > left:
                target.append(
                    f"{subject}: workload {RESOURCE_LABELS[res]} {kind} {_fmt_resource(res, needed)} "
                    f"exceed the {_fmt_resource(res, left)} allocatable {where}"
                )
                break
    return violations, warnings


def _cluster_subject(cluster_name: t.Any) -> str:
    return f"cluster {cluster_name}" if cluster_name else "cluster"


def _evaluate(hardware: list, totals: Mapping, cluster_name: t.Any, overhead: Mapping | None = None) -> dict[str, t.Any]:
    """Shared single-node and cluster evaluation."""
    count = totals["workload_count"]
    survivors = max(len(hardware) - 1, 1)
    share = math.ceil(count / survivors)
    requirements = node_requirements(share)
    reports = [_node_report(hw, requirements) for hw in hardware]
    single = len(hardware) == 1
    subject = f"node {hardware[0]['name']}" if single else _cluster_subject(cluster_name)

    violations = []
    if requirements["multi_node_required"]:
        if single:
            problem = "need a multi-node cluster"
        else:
            problem = (
                f"on {len(hardware)} nodes leave {share} per node with one node down"
            )
        violations.append(
            f"{subject}: {count} workloads {problem}; a node carries at most "
            f"{MAX_WORKLOADS_PER_NODE}, so plan at least {min_nodes(count)} nodes"
        )
    for report in reports:
        violations.extend(report["violations"])
    violations.extend(_overhead_findings(subject, reports, overhead))
    capacity_violations, capacity_warnings = _capacity_findings(subject, totals, reports, overhead)
    violations.extend(capacity_violations)
    warnings = [w for report in reports for w in report["warnings"]] + capacity_warnings
    return {
        "ok": not violations,
        "cluster": cluster_name,
        "node_count": len(hardware),
        "per_node_workloads": share,
        "tier": requirements["tier"],
        "requirements": requirements,
        "workloads": dict(totals),
        "violations": violations,
        "warnings": warnings,
        "nodes": reports,
    }


# --- public checks ---------------------------------------------------------------


def sizing_report(node: t.Any, workloads: t.Any) -> dict[str, t.Any]:
    """Check a single node for a workload list; never raises on violations."""
    hardware = read_hardware(node)
    result = _evaluate([hardware], workload_resources(workloads), None)
    report = result["nodes"][0]
    return {
        "ok": result["ok"],
        "node": report["node"],
        "tier": result["tier"],
        "violations": result["violations"],
        "warnings": result["warnings"],
        "requirements": result["requirements"],
        "workloads": result["workloads"],
        "hardware": report["hardware"],
        "allocatable": report["allocatable"],
    }


def _flag(value: t.Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def storage_overhead(nodes: t.Sequence[Mapping], names: t.Sequence[str], workload_count: int,
                     cluster_name: t.Any) -> tuple[dict[str, t.Any] | None, list[str]]:
    """The storage engine's own requests per storage node, from the nodes' host
    variables (storage_engines decides the engine and the numbers), or the
    refusal of the engine for this cluster as a violation."""
    try:
        engine = storage_engines.cluster_engine(nodes, str(cluster_name or ""))
        storage = [(node, name) for node, name in zip(nodes, names) if storage_engines.is_storage_node(node)]
        storage = storage or list(zip(nodes, names))
        if engine == "rook_ceph":
            storage_engines.rook_shape(len(storage), _flag(nodes[0].get(storage_engines.ROOK_ESCAPE_VAR)),
                                       str(cluster_name or ""))
        cpus = [node.get("ztp_cpu_cores", node.get("cpu_cores")) for node, _name in storage]
        known = [c for c in cpus if isinstance(c, (int, float)) and not isinstance(c, bool) and c > 0]
        disks = [node.get("edgefleet_storage_disks") for node, _name in storage]
        osds = max([len(d) for d in disks if isinstance(d, (list, tuple))] + [1])
        requests = storage_engines.engine_requests(engine, len(storage), workload_count,
                                                   min(known) if known else 1, osds)
    except storage_engines.StorageError as exc:
        return None, [str(exc)]
    if not any(requests.values()):
        return None, []
    return dict(requests, engine=engine, nodes=[name for _node, name in storage]), []


def cluster_sizing(nodes: t.Any, workloads: t.Any, cluster_name: t.Any = None) -> dict[str, t.Any]:
    """Check every node of a cluster and the one-node-down capacity.

    A one-node list is checked like sizing_report (there is no failover). When
    the nodes' host variables choose a storage engine (``edgefleet_storage_engine``,
    else longhorn on a multi-node site), its own requests per storage node are
    added first (``storage`` in the result).
    """
    if not _is_list(nodes) or not nodes:
        raise SizingError(f"nodes must be a non-empty list of node dicts, got {_describe(nodes)}")
    if cluster_name is not None and not isinstance(cluster_name, str):
        raise SizingError(f"cluster_name must be a string, got {_describe(cluster_name)}")
    totals = workload_resources(workloads)
    hardware = [read_hardware(node, f"nodes[{i}]") for i, node in enumerate(nodes)]
    overhead, refused = storage_overhead(nodes, [hw["name"] for hw in hardware], totals["workload_count"], cluster_name)
    result = _evaluate(hardware, totals, cluster_name, overhead)
    if refused:
        result["violations"] = refused + result["violations"]
        result["ok"] = False
    result["storage"] = overhead
    return result


def enforce_sizing(node: t.Any, workloads: t.Any, cluster_name: t.Any = None) -> dict[str, t.Any]:
    """The report when ok, else SizingViolationError listing every violation.

    ``node`` may be one node dict (sizing_report) or a list (cluster_sizing).
    """
    if _is_list(node):
        report = cluster_sizing(node, workloads, cluster_name)
    else:
        report = sizing_report(node, workloads)
    if not report["ok"]:
        raise SizingViolationError(report)
    return report


def _has_hardware(node: Mapping) -> bool:
    return all(node.get("ztp_" + field, node.get(field)) is not None for field in HARDWARE_FIELDS)


def _observed(device: Mapping, observed: str | None) -> Mapping:
    """The device with the hardware a stage observed (``device[observed]['hardware']``)
    in place of the recorded one; the host variables are not copied."""
    record = device.get(observed) if observed else None
    hardware = record.get("hardware") if isinstance(record, Mapping) else None
    if not isinstance(hardware, Mapping):
        return device
    found = {"ztp_" + k: v for k, v in hardware.items() if k in HARDWARE_FIELDS and v is not None}
    return ChainMap(found, t.cast(t.MutableMapping, device)) if found else device  # read only


def fleet_sizing(devices: t.Any, observed: str | None = None) -> dict[str, t.Any]:
    """Size every cluster of an inventory at once: what the preflight play runs.

    ``devices`` are host variable mappings as the ztp inventory exposes them
    (``ztp_cluster``, ``ztp_cluster_workloads`` and the hardware). Devices in no
    cluster have no planned workloads and are skipped. A cluster with a device
    whose hardware is not recorded yet is not sized (its one-node-down capacity
    would be wrong): it is listed in ``pending`` with those devices, and the
    discover stage records the hardware. With ``observed``, the name of a host
    variable holding ``{hardware: ...}`` (what the discover stage leaves in
    ``edgefleet_stage_record``), that hardware is sized instead of the recorded
    one wherever a device has it: the sizing gate after discover.
    """
    if not _is_list(devices):
        raise SizingError(f"devices must be a list of host variable dicts, got {_describe(devices)}")
    if observed is not None and not isinstance(observed, str):
        raise SizingError(f"observed must be the name of a host variable, got {_describe(observed)}")
    clusters: dict[str, list] = {}
    for index, device in enumerate(devices):
        if not isinstance(device, Mapping):
            raise SizingError(f"devices[{index}] must be a dict of host variables, got {_describe(device)}")
        device = _observed(device, observed)
        cluster = device.get("ztp_cluster")
        if cluster:
            clusters.setdefault(str(cluster), []).append(device)
    report: dict[str, t.Any] = {"ok": True, "clusters": {}, "violations": [], "warnings": [], "pending": {}}
    for name in sorted(clusters):
        members = clusters[name]
        missing = [node_name(d, f"{name}[{i}]") for i, d in enumerate(members) if not _has_hardware(d)]
        if missing:
            report["pending"][name] = missing
            continue
        result = cluster_sizing(members, members[0].get("ztp_cluster_workloads") or [], cluster_name=name)
        report["clusters"][name] = result
        report["violations"].extend(result["violations"])
        report["warnings"].extend(result["warnings"])
    report["ok"] = not report["violations"]
    return report
