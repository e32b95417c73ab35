# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Distributed storage engines: which one a cluster runs, and the numbers each
takes from the storage-node count.

Pure Python, no Ansible. ``sizing.fleet_sizing`` reads ``engine_requests`` so
that the preflight counts the engine's own requests; ``storage.py`` turns the
same numbers into chart values. Every rule here is unit-tested for every node
count (tests/unit/plugins/module_utils/test_storage_engines.py).

Sources of the numbers (research notes, part A of storage-and-ztp-anchors):
Longhorn's replica rule (3 from three storage nodes, else one per node), its
guaranteed instance-manager CPU formula (instances x 0.1 CPU / allocatable CPUs
x 100, 0-40 %), Rook's mon 3 / mgr 2 from three nodes and the rook-ceph-cluster
chart's daemon requests (mon 1 CPU / 1 GiB, mgr 500m / 512 MiB, osd 1 CPU / 4 GiB).
"""

from __future__ import annotations

import math
import typing as t
from collections.abc import Mapping

# longhorn: replicated block storage (default on multi-node sites);
# rook_ceph: Ceph through Rook, three storage nodes or more;
# local: K3s's local-path provisioner, one copy on the node (single-node sites);
# none: no storage stage work at all.
ENGINES = ("longhorn", "rook_ceph", "local", "none")
DEFAULT_ENGINE = {"multi_node": "longhorn", "single_node": "local"}
# Host variables that choose (group or host vars; one value per cluster).
ENGINE_VAR = "edgefleet_storage_engine"
STORAGE_NODE_VAR = "edgefleet_storage_node"
ROOK_ESCAPE_VAR = "rook_ceph_allow_unsupported_node_count"

# --- Longhorn -----------------------------------------------------------------------
LONGHORN_MAX_REPLICAS = 3
LONGHORN_CPU_PER_INSTANCE = 0.1  # CPU an engine or replica process is guaranteed
LONGHORN_IM_CPU_MAX_PERCENT = 40  # the setting's upper bound (v1 data engine)
LONGHORN_IM_CPU_MIN_PERCENT = 1
# Data on a dedicated disk may fill it further than data on the root disk.
LONGHORN_MIN_AVAILABLE_PERCENT = {"dedicated": 10, "root": 25}

# --- Rook-Ceph ------------------------------------------------------------------------
ROOK_MIN_NODES = 3
ROOK_MONS = 3
ROOK_MGRS = 2
# Requests (and memory limits) of the Ceph daemons: rendered into the cluster
# chart's cephClusterSpec.resources and added to the sizing, so both agree.
ROOK_DAEMONS: dict[str, dict[str, int]] = {
    "mon": {"cpu_millicores": 1000, "memory_mib": 1024, "memory_limit_mib": 2048},
    "mgr": {"cpu_millicores": 500, "memory_mib": 512, "memory_limit_mib": 1024},
    "osd": {"cpu_millicores": 1000, "memory_mib": 4096, "memory_limit_mib": 4096},
}


class StorageError(ValueError):
    """A storage decision that cannot be made; the message names the cluster and what to change."""


def _count(value: t.Any, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StorageError("%s must be a whole number, got %r" % (what, value))
    if value < minimum:
        raise StorageError("%s must be at least %d, got %d" % (what, minimum, value))
    return value


# --- which engine ----------------------------------------------------------------------


def cluster_engine(members: t.Sequence[Mapping], cluster: str = "") -> str:
    """The engine of a cluster from its devices' host variables.

    ``edgefleet_storage_engine`` where set (group vars of the cluster, or the
    whole fleet); otherwise by the site's topology: longhorn on multi-node
    sites, local storage on single-node ones. Devices of one cluster that name
    two engines are refused.
    """
    where = "cluster %s" % cluster if cluster else "cluster"
    chosen = set()
    for member in members:
        engine = member.get(ENGINE_VAR)
        if engine is None or engine == "":
            engine = DEFAULT_ENGINE.get(str(member.get("ztp_topology") or ""), "local")
        if engine not in ENGINES:
            raise StorageError("%s: %s %r is not one of %s" % (where, ENGINE_VAR, engine, ", ".join(ENGINES)))
        chosen.add(engine)
    if len(chosen) > 1:
        raise StorageError("%s: its devices name different storage engines (%s): set %s once for the cluster"
                           % (where, ", ".join(sorted(chosen)), ENGINE_VAR))
    return chosen.pop() if chosen else "none"


def is_storage_node(member: Mapping) -> bool:
    """A device holds storage unless its host variables say edgefleet_storage_node: false."""
    value = member.get(STORAGE_NODE_VAR, True)
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "no", "0", "off")
    return bool(value)


# --- Longhorn rules ----------------------------------------------------------------------


def longhorn_replicas(storage_nodes: int) -> int:
    """Replicas of the default class: one per storage node, three from three nodes."""
    return min(_count(storage_nodes, "storage nodes", 1), LONGHORN_MAX_REPLICAS)


def longhorn_csi_replicas(storage_nodes: int) -> int:
    """CSI attacher/provisioner/resizer/snapshotter replicas: no more than nodes (1 on one node), at most 3."""
    return min(_count(storage_nodes, "storage nodes", 1), 3)


def longhorn_drain_policy(storage_nodes: int) -> str:
    """What a drain does to the node's replicas, so K3s upgrades and drains proceed.

    One node: the only replica cannot move, so the drain goes on once the
    replica is stopped (an in-place reboot). More nodes: the last healthy
    replica is evicted to another node first, then the drain goes on.
    """
    if _count(storage_nodes, "storage nodes", 1) == 1:
        return "allow-if-replica-is-stopped"
    return "block-for-eviction-if-contains-last-replica"


def longhorn_instances_per_node(storage_nodes: int, volumes: int) -> int:
    """Most engine and replica processes one node runs: each volume has an engine
    and one process per replica, spread over the storage nodes."""
    nodes = _count(storage_nodes, "storage nodes", 1)
    volumes = _count(volumes, "volumes", 0)
    return math.ceil(volumes * (1 + longhorn_replicas(nodes)) / nodes)


def longhorn_guaranteed_cpu_percent(storage_nodes: int, volumes: int, node_cpus: float) -> int:
    """Upstream formula: instances on the node x 0.1 CPU / allocatable CPUs x 100,
    rounded up, within the setting's 1-40 %."""
    if isinstance(node_cpus, bool) or not isinstance(node_cpus, (int, float)) or node_cpus <= 0:
        raise StorageError("allocatable CPUs of a node must be a number above 0, got %r" % (node_cpus,))
    instances = longhorn_instances_per_node(storage_nodes, volumes)
    percent = math.ceil(round(instances * LONGHORN_CPU_PER_INSTANCE / node_cpus * 100, 6))
    return max(LONGHORN_IM_CPU_MIN_PERCENT, min(LONGHORN_IM_CPU_MAX_PERCENT, percent))


# --- Rook rules ------------------------------------------------------------------------------


def rook_shape(storage_nodes: int, allow_unsupported: bool = False, cluster: str = "") -> dict[str, t.Any]:
    """Mons, mgrs and the block pool for the node count.

    From three nodes: 3 mons and 2 mgrs, one per node, pool size 3 with host as
    the failure domain. Fewer nodes are refused unless ``allow_unsupported``
    (a test cluster): then 1 mon and 1 mgr, pool size = nodes, failure domain
    host on two nodes and osd on one (there is no second host).
    """
    nodes = _count(storage_nodes, "storage nodes", 1)
    if nodes >= ROOK_MIN_NODES:
        return {"supported": True, "mons": ROOK_MONS, "mgrs": ROOK_MGRS, "allow_multiple_per_node": False,
                "pool_size": 3, "failure_domain": "host", "require_safe_replica_size": True}
    if not allow_unsupported:
        where = "cluster %s" % cluster if cluster else "cluster"
        raise StorageError(
            "%s: rook_ceph needs at least %d storage nodes (3 mons on 3 hosts and a pool of size 3 with host as the"
            " failure domain), it has %d: use longhorn, add nodes, or set %s: true for a test cluster without"
            " that guarantee" % (where, ROOK_MIN_NODES, nodes, ROOK_ESCAPE_VAR))
    return {"supported": False, "mons": 1, "mgrs": 1, "allow_multiple_per_node": True,
            "pool_size": nodes, "failure_domain": "host" if nodes > 1 else "osd",
            "require_safe_replica_size": False}


def rook_requests_per_node(storage_nodes: int, osds_per_node: int = 1) -> dict[str, int]:
    """What Ceph requests on the busiest storage node: a mon, a mgr and its OSDs.

    From three nodes each node runs at most one mon and one mgr; the unsupported
    shape below three runs one of each, which the busiest node carries.
    """
    _count(storage_nodes, "storage nodes", 1)
    osds = _count(osds_per_node, "OSDs per node", 1)
    daemons = (("mon", 1), ("mgr", 1), ("osd", osds))
    return {res: sum(ROOK_DAEMONS[name][res] * count for name, count in daemons)
            for res in ("cpu_millicores", "memory_mib")}


# --- requests added to the sizing ------------------------------------------------------------


def engine_requests(engine: str, storage_nodes: int, volumes: int = 0, node_cpus: float = 1,
                    osds_per_node: int = 1) -> dict[str, int]:
    """Per storage node: the CPU (millicores) and memory (MiB) the engine itself requests."""
    if engine not in ENGINES:
        raise StorageError("storage engine %r is not one of %s" % (engine, ", ".join(ENGINES)))
    if engine == "rook_ceph":
        return rook_requests_per_node(storage_nodes, osds_per_node)
    if engine == "longhorn":
        percent = longhorn_guaranteed_cpu_percent(storage_nodes, volumes, node_cpus)
        return {"cpu_millicores": int(math.ceil(node_cpus * 1000 * percent / 100)), "memory_mib": 0}
    return {"cpu_millicores": 0, "memory_mib": 0}


# --- kernels --------------------------------------------------------------------------------------

# Releases Longhorn's best practices name as broken for its volumes: the kernel
# release (uname -r) up to its flavour suffix, and why.
KERNEL_KNOWN_BAD: dict[str, str] = {
    "5.15.0-94": "Ubuntu 5.15.0-94: Longhorn volumes can hang (Longhorn best practices, known-bad kernels)",
    "6.5.0-21": "Ubuntu 6.5.0-21: Longhorn volumes can hang (Longhorn best practices, known-bad kernels)",
    "6.5.6": "6.5.6: RWX (NFS) volumes of Longhorn fail (Longhorn best practices, known-bad kernels)",
}
# Least kernel per engine, and the one below which a warning is given.
KERNEL_MINIMUM = {"longhorn": (5, 8), "rook_ceph": (4, 17)}
KERNEL_RECOMMENDED = {"longhorn": (5, 17)}
_KERNEL_WHY = {
    "longhorn": "Longhorn's filesystem operations need 5.8",
    "rook_ceph": "the Ceph kernel clients (rbd, CephFS) need 4.17",
}


def kernel_version(release: t.Any) -> tuple[int, int, int]:
    """(major, minor, patch) of a kernel release string such as 6.1.0-28-amd64."""
    if not isinstance(release, str):
        raise StorageError("kernel release must be a string (uname -r), got %r" % (release,))
    numbers = []
    for part in release.split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        numbers.append(int(digits))
    if len(numbers) < 2:
        raise StorageError("kernel release %r is not <major>.<minor>[.<patch>]" % release)
    numbers += [0] * (3 - len(numbers))
    return numbers[0], numbers[1], numbers[2]


def kernel_check(release: t.Any, engine: str) -> dict[str, list[str]]:
    """{problems, warnings} of a kernel release for an engine: known-bad releases
    and releases below the engine's minimum are problems."""
    version = kernel_version(release)
    problems, warnings = [], []
    for bad, why in KERNEL_KNOWN_BAD.items():
        if engine == "longhorn" and (release == bad or release.startswith(bad + "-") or release.startswith(bad + "+")):
            problems.append("kernel %s is on the known-bad list: %s" % (release, why))
    minimum = KERNEL_MINIMUM.get(engine)
    if minimum and version[:2] < minimum:
        problems.append("kernel %s is older than %d.%d: %s" % (release, minimum[0], minimum[1], _KERNEL_WHY[engine]))
    recommended = KERNEL_RECOMMENDED.get(engine)
    if recommended and not problems and version[:2] < recommended:
        warnings.append("kernel %s is older than %d.%d: a volume that crashes during a filesystem freeze can lock"
                        " the node" % (release, recommended[0], recommended[1]))
    return {"problems": problems, "warnings": warnings}


# --- what a host needs --------------------------------------------------------------------------

# Debian/Ubuntu packages, kernel modules and services per engine (Longhorn's
# longhornctl preflight and Rook's prerequisites; research notes A1, A4).
HOST_PACKAGES = {
    "longhorn": ["open-iscsi", "nfs-common", "cryptsetup", "dmsetup"],
    "rook_ceph": ["lvm2", "udev"],
}
HOST_MODULES = {"longhorn": ["iscsi_tcp", "dm_crypt"], "rook_ceph": ["rbd"]}
# Services enabled at boot, and running (udev's unit is static: started only).
HOST_ENABLE = {"longhorn": ["iscsid.service"]}
HOST_RUN = {"longhorn": ["iscsid.service"], "rook_ceph": ["systemd-udevd.service"]}
# nfs-common pulls in rpcbind, which starts listening on port 111. Longhorn's RWX
# volumes are NFSv4, which needs no portmapper, and the hardening role keeps it
# off: stopped and disabled here too (socket first), so the two roles agree.
HOST_STOP = {"longhorn": ["rpcbind.socket", "rpcbind.service"]}
CONTAINER_TYPES = ("podman", "docker", "container", "lxc", "systemd-nspawn", "containerd", "openvz")


def host_prereqs(engine: str, virtualization_role: t.Any = None, virtualization_type: t.Any = None) -> dict[str, t.Any]:
    """Packages, modules and services of a storage node for the engine.

    In a container the kernel is the host's: modules are listed for boot
    (modules-load.d) but not loaded, and services that need a kernel interface
    (iscsid's NETLINK_ISCSI) are enabled, not started; ``waived`` says so.
    """
    if engine not in ENGINES:
        raise StorageError("storage engine %r is not one of %s" % (engine, ", ".join(ENGINES)))
    container = virtualization_role == "guest" and virtualization_type in CONTAINER_TYPES
    modules = list(HOST_MODULES.get(engine, []))
    waived = []
    if container and modules:
        waived.append("kernel modules %s: the container shares the host's kernel; listed for boot, not loaded"
                      % ", ".join(modules))
    run = list(HOST_RUN.get(engine, []))
    if container and run:
        # iscsid needs the host kernel's iscsi_tcp (NETLINK_ISCSI); udev needs a writable /sys
        waived.append("%s: need the host's kernel; enabled, not started in a container" % ", ".join(run))
    return {"engine": engine, "container": container, "packages": list(HOST_PACKAGES.get(engine, [])),
            "modules": modules, "load_modules": not container, "enable": list(HOST_ENABLE.get(engine, [])),
            "start": [] if container else run, "stop": list(HOST_STOP.get(engine, [])),
            "multipath": engine == "longhorn", "waived": waived}


def multipath_plan(installed: bool, maps: t.Any) -> dict[str, t.Any]:
    """What to do with multipathd on a Longhorn node.

    The drop-in that excludes Longhorn's iSCSI volumes (vendor IET, product
    VIRTUAL-DISK) is written either way. A host with multipath maps really uses
    multipath (SAN-booted IPCs): multipathd keeps running and re-reads its
    configuration. Otherwise a multipathd that is installed is stopped and its
    socket masked too, or the socket would start it again on the next device.
    """
    in_use = bool([line for line in (maps or "").splitlines() if line.strip()]) if isinstance(maps, str) else bool(maps)
    return {"dropin": True, "in_use": bool(installed and in_use),
            "stop": bool(installed and not in_use), "reconfigure": bool(installed and in_use)}
