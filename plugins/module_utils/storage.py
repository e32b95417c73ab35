# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The storage plan of a cluster: engine, node-count rules, chart values,
storage classes per data type, and the guarantees the site cannot give.

Pure Python, no Ansible: the ``edgefleet.platform.storage_plan`` filter calls
``storage_plan`` once per cluster and the longhorn, rook_ceph and local_storage
roles render what it returns. The classes come from ``sizing.STORAGE_POLICIES``
(the one table of data types); the numbers from ``storage_engines``.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Mapping

from ansible_collections.edgefleet.platform.plugins.module_utils import storage_engines as se
from ansible_collections.edgefleet.platform.plugins.module_utils.sizing import STORAGE_POLICIES, SizingError, node_name, workload_resources
from ansible_collections.edgefleet.platform.plugins.module_utils.storage_engines import StorageError
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import ZtpError
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import check_disks as check_disk_records

LONGHORN_NAMESPACE = "longhorn-system"
ROOK_NAMESPACE = "rook-ceph"
LOCAL_PROVISIONER = "rancher.io/local-path"
LONGHORN_PROVISIONER = "driver.longhorn.io"

# What the role options may hold (the roles pass their variables through).
OPTION_DEFAULTS: dict[str, t.Any] = {
    "data_path": "/var/lib/longhorn",
    "backup_target": "",
    "backup_target_secret": "",
    "offsite_backup_target": "",
    "offsite_backup_target_secret": "",
    "allow_unsupported": False,
    "rook_data_dir": "/var/lib/rook",
}


# --- disks of the ZTP record ---------------------------------------------------------------


def check_disks(host: str, value: t.Any) -> list[dict[str, t.Any]]:
    """A host's dedicated storage disks: [{id: /dev/disk/by-id/<name>, wipe_allowed: bool}],
    by the ZTP model's rule (ztp_model.check_disks)."""
    if value is None or value == "":
        return []
    try:
        return check_disk_records("host %s" % host, "storage disks", value)
    except ZtpError as exc:
        raise StorageError(str(exc)) from None


def member_disks(member: Mapping) -> list[dict[str, t.Any]]:
    """The disks of a device: edgefleet_storage_disks (host or group vars) where set, else
    its ZTP record's (ztp_storage.disks)."""
    disks = member.get("edgefleet_storage_disks")
    if disks is None:
        record = member.get("ztp_storage")
        disks = record.get("disks") if isinstance(record, Mapping) else None
    return check_disks(node_name(member), disks)


# --- classes per data type ------------------------------------------------------------------


def _class_meta(name: str, data_type: str) -> dict[str, t.Any]:
    return {"name": name, "labels": {"app.kubernetes.io/managed-by": "edgefleet.platform",
                                     "edgefleet.io/data-type": data_type}}


def _local_class(name: str, data_type: str, policy: Mapping) -> dict[str, t.Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": _class_meta(name, data_type),
            "provisioner": LOCAL_PROVISIONER, "reclaimPolicy": policy["reclaim_policy"],
            "volumeBindingMode": "WaitForFirstConsumer"}


def backup_group(policy: Mapping) -> str:
    return "edgefleet-%s-backup" % policy["storage_class"]


def _longhorn_class(name: str, data_type: str, policy: Mapping, replicas: int) -> dict[str, t.Any]:
    parameters = {"numberOfReplicas": str(replicas), "staleReplicaTimeout": "2880", "fsType": "ext4",
                  "dataLocality": "disabled"}
    if policy.get("backup_schedule"):
        parameters["recurringJobSelector"] = json.dumps([{"name": backup_group(policy), "isGroup": True}],
                                                        separators=(",", ":"))
        parameters["backupTargetName"] = policy["backup_target"]
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": _class_meta(name, data_type),
            "provisioner": LONGHORN_PROVISIONER, "allowVolumeExpansion": True,
            "reclaimPolicy": policy["reclaim_policy"], "volumeBindingMode": "Immediate", "parameters": parameters}


def _unmet(engine: str, policy: Mapping, copies: int, options: Mapping) -> list[str]:
    """The guarantees of a data type's guideline the cluster cannot give, one sentence each."""
    unmet = []
    replicated = policy["replication"] == "cluster"
    if replicated and copies < 2:
        where = "local storage" if engine in ("local", "none") else "%s with 1 storage node" % engine
        unmet.append("replication: one copy of the data (%s); losing the node or its disk loses the data" % where)
    if policy.get("backup_schedule"):
        target = policy["backup_target"]
        if engine != "longhorn":
            unmet.append("backup (%s): %s has no recurring backup; back this class up with another tool"
                         % (policy["backup"], "local storage" if engine in ("local", "none") else engine))
        elif target == "default" and not options["backup_target"]:
            unmet.append("backup (required): no backup target set (longhorn_backup_target); the recurring"
                         " backup has nowhere to go")
        elif target == "offsite" and not options["offsite_backup_target"]:
            unmet.append("backup (offsite): no offsite backup target set (longhorn_offsite_backup_target); the"
                         " recurring backup has nowhere to go")
    return unmet


def data_classes(engine: str, copies: int, options: Mapping) -> dict[str, t.Any]:
    """One storage class per data type of the guideline, what runs it, and what it cannot guarantee."""
    classes, jobs, guarantees = [], [], {}
    for data_type, policy in STORAGE_POLICIES.items():
        name = str(policy["storage_class"])
        on_engine = policy["replication"] == "cluster" and engine in ("longhorn", "rook_ceph")
        if engine == "longhorn" and on_engine:
            classes.append(_longhorn_class(name, data_type, policy, copies))
            if policy.get("backup_schedule"):
                group = backup_group(policy)
                jobs.append({"apiVersion": "longhorn.io/v1beta2", "kind": "RecurringJob",
                             "metadata": {"name": group, "namespace": LONGHORN_NAMESPACE},
                             "spec": {"name": group, "groups": [group], "task": "backup",
                                      "cron": policy["backup_schedule"], "retain": policy["backup_retain"],
                                      "concurrency": 1, "labels": {"edgefleet.io/data-type": data_type}}})
        elif not on_engine:
            classes.append(_local_class(name, data_type, policy))
        # rook_ceph classes come with their pools (rook_cluster_values)
        guarantees[data_type] = {"storage_class": name,
                                 "runs_on": engine if on_engine else "local",
                                 "unmet": _unmet(engine if on_engine else "local", policy,
                                                 copies if on_engine else 1, options)}
    return {"classes": classes, "recurring_jobs": jobs, "guarantees": guarantees}


# --- chart values ------------------------------------------------------------------------------


def _per_engine(value: t.Any) -> str:
    """Longhorn's data-engine-specific setting format."""
    return json.dumps({"v1": str(value), "v2": str(value)}, separators=(",", ":"))


def longhorn_values(nodes: int, volumes: int, node_cpus: float, dedicated: bool, options: Mapping,
                    classes: list) -> dict[str, t.Any]:
    replicas = se.longhorn_replicas(nodes)
    csi = se.longhorn_csi_replicas(nodes)
    percent = se.longhorn_guaranteed_cpu_percent(nodes, volumes, node_cpus)
    values: dict[str, t.Any] = {
        "persistence": {"defaultClass": True, "defaultClassReplicaCount": replicas, "reclaimPolicy": "Delete"},
        "csi": {"attacherReplicaCount": csi, "provisionerReplicaCount": csi,
                "resizerReplicaCount": csi, "snapshotterReplicaCount": csi},
        "longhornUI": {"replicas": min(nodes, 2)},
        "defaultSettings": {
            "defaultDataPath": options["data_path"],
            "defaultReplicaCount": _per_engine(replicas),
            "nodeDrainPolicy": se.longhorn_drain_policy(nodes),
            "allowVolumeCreationWithDegradedAvailability": False,
            "replicaSoftAntiAffinity": False,
            "storageMinimalAvailablePercentage": se.LONGHORN_MIN_AVAILABLE_PERCENT["dedicated" if dedicated else "root"],
            "storageOverProvisioningPercentage": 100,
            "guaranteedInstanceManagerCPU": _per_engine(percent),
        },
        "extraObjects": classes,
    }
    if options["backup_target"]:
        values["defaultBackupStore"] = {"backupTarget": options["backup_target"]}
        if options["backup_target_secret"]:
            values["defaultBackupStore"]["backupTargetCredentialSecret"] = options["backup_target_secret"]
    return values


def offsite_backup_target(options: Mapping) -> list[dict[str, t.Any]]:
    if not options["offsite_backup_target"]:
        return []
    spec = {"backupTargetURL": options["offsite_backup_target"], "pollInterval": "300s"}
    if options["offsite_backup_target_secret"]:
        spec["credentialSecret"] = options["offsite_backup_target_secret"]
    return [{"apiVersion": "longhorn.io/v1beta2", "kind": "BackupTarget",
             "metadata": {"name": "offsite", "namespace": LONGHORN_NAMESPACE}, "spec": spec}]


def _rook_resources() -> dict[str, t.Any]:
    return {name: {"requests": {"cpu": "%dm" % d["cpu_millicores"], "memory": "%dMi" % d["memory_mib"]},
                   "limits": {"memory": "%dMi" % d["memory_limit_mib"]}}
            for name, d in se.ROOK_DAEMONS.items()}


def rook_cluster_values(shape: Mapping, devices: Mapping, options: Mapping) -> dict[str, t.Any]:
    """rook-ceph-cluster chart values: the shape, the devices by id, a pool and class per replicated data type."""
    pools = []
    for data_type, policy in STORAGE_POLICIES.items():
        if policy["replication"] != "cluster":
            continue
        pools.append({
            "name": "edgefleet-%s" % policy["storage_class"],
            "spec": {"failureDomain": shape["failure_domain"],
                     "replicated": {"size": shape["pool_size"],
                                    "requireSafeReplicaSize": shape["require_safe_replica_size"]}},
            "storageClass": {"enabled": True, "name": policy["storage_class"],
                             "isDefault": data_type == "application_logs",
                             "reclaimPolicy": policy["reclaim_policy"], "allowVolumeExpansion": True,
                             "volumeBindingMode": "Immediate",
                             "labels": {"app.kubernetes.io/managed-by": "edgefleet.platform",
                                        "edgefleet.io/data-type": data_type}},
        })
    values: dict[str, t.Any] = {
        "operatorNamespace": ROOK_NAMESPACE,
        "toolbox": {"enabled": False},
        "cephClusterSpec": {
            "dataDirHostPath": options["rook_data_dir"],
            "mon": {"count": shape["mons"], "allowMultiplePerNode": shape["allow_multiple_per_node"]},
            "mgr": {"count": shape["mgrs"], "allowMultiplePerNode": shape["allow_multiple_per_node"]},
            "resources": _rook_resources(),
            "storage": {"useAllNodes": False, "useAllDevices": False,
                        "nodes": [{"name": node, "devices": [{"name": d["id"]} for d in disks]}
                                  for node, disks in sorted(devices.items())]},
        },
        "cephBlockPools": pools,
        "cephFileSystems": [],
        "cephObjectStores": [],
    }
    if not shape["supported"]:
        values["configOverride"] = ("[global]\nmon_warn_on_pool_no_redundancy = false\n"
                                    "osd_pool_default_size = %d\n" % shape["pool_size"])
    return values


# --- the plan --------------------------------------------------------------------------------


def _options(options: t.Any) -> dict[str, t.Any]:
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise StorageError("storage plan options must be a mapping, got %r" % (options,))
    unknown = sorted(set(options) - set(OPTION_DEFAULTS))
    if unknown:
        raise StorageError("storage plan options: unknown option %s (known: %s)" % (unknown[0], ", ".join(OPTION_DEFAULTS)))
    merged = dict(OPTION_DEFAULTS)
    merged.update((k, v) for k, v in options.items() if v is not None)
    return merged


# What the discover stage observed in this run (the inventory's hardware was read
# before it, and is empty on a first run): the same source the sizing gate uses.
OBSERVED_VAR = "discover_observed"


def _cpus_of(member: Mapping) -> t.Any:
    observed = member.get(OBSERVED_VAR)
    hardware = observed.get("hardware") if isinstance(observed, Mapping) else None
    if isinstance(hardware, Mapping) and hardware.get("cpu_cores") is not None:
        return hardware["cpu_cores"]
    return member.get("ztp_cpu_cores")


def _min_cpus(members: t.Sequence[Mapping]) -> float:
    cpus = [_cpus_of(m) for m in members]
    known = [c for c in cpus if isinstance(c, (int, float)) and not isinstance(c, bool) and c > 0]
    return float(min(known)) if known else 1.0


def storage_plan(members: t.Any, cluster: t.Any = None, options: t.Any = None) -> dict[str, t.Any]:
    """Everything the storage stage installs for one cluster, from its devices' host variables.

    ``members``: the host variables of the cluster's devices (as the ztp
    inventory gives them, plus group vars); ``options``: the roles' settings
    (OPTION_DEFAULTS). Refusals (Rook below three nodes, bad disk records)
    raise StorageError naming the cluster, host and field.
    """
    if not isinstance(members, (list, tuple)) or not members:
        raise StorageError("storage_plan needs the host variables of the cluster's devices, got %r" % (members,))
    for index, member in enumerate(members):
        if not isinstance(member, Mapping):
            raise StorageError("storage_plan: members[%d] must be a mapping of host variables" % index)
    name = str(cluster if cluster else members[0].get("ztp_cluster") or "")
    opts = _options(options)
    engine = se.cluster_engine(members, name)
    storage = [m for m in members if se.is_storage_node(m)] or list(members)
    names = [node_name(m) for m in storage]
    disks = {node_name(m): member_disks(m) for m in storage}
    nodes = len(storage)
    try:
        # every workload type of the sizing tables asks for storage: one volume each
        volumes = workload_resources(members[0].get("ztp_cluster_workloads") or [])["workload_count"]
    except SizingError as exc:
        raise StorageError("cluster %s: %s" % (name, exc)) from None
    plan: dict[str, t.Any] = {"cluster": name, "engine": engine, "storage_nodes": names, "node_count": nodes,
                              "disks": disks, "dedicated_disks": all(disks.values()) if disks else False,
                              "volumes": volumes}
    if engine == "none":
        plan.update(classes=[], recurring_jobs=[], guarantees={}, copies=0, requests=se.engine_requests("none", nodes))
        return plan
    cpus = _min_cpus(storage)
    if engine == "longhorn":
        copies = se.longhorn_replicas(nodes)
        several = sorted(n for n, d in disks.items() if len(d) > 1)
        if several:
            raise StorageError("cluster %s: Longhorn takes one dedicated disk per node (its data path); %s %s more"
                               " than one in edgefleet_storage_disks: aggregate them with LVM or list one"
                               % (name, ", ".join(several), "has" if len(several) == 1 else "have"))
    elif engine == "rook_ceph":
        shape = se.rook_shape(nodes, bool(opts["allow_unsupported"]), name)
        copies = shape["pool_size"]
        missing = sorted(n for n, d in disks.items() if not d)
        if missing:
            raise StorageError("cluster %s: rook_ceph needs a raw disk on every storage node; %s %s no disk in"
                               " edgefleet_storage_disks (from the ZTP record)"
                               % (name, ", ".join(missing), "has" if len(missing) == 1 else "have"))
        plan["rook"] = shape
    else:
        copies = 1
    plan["copies"] = copies
    plan.update(data_classes(engine, copies, opts))
    osds = max([len(d) for d in disks.values()] + [1])
    plan["requests"] = se.engine_requests(engine, nodes, volumes, cpus, osds)
    if engine == "longhorn":
        # the replicated classes go with the chart (extraObjects), the local ones beside it
        on_longhorn = [c for c in plan["classes"] if c["provisioner"] == LONGHORN_PROVISIONER]
        plan["classes"] = [c for c in plan["classes"] if c["provisioner"] != LONGHORN_PROVISIONER]
        plan["longhorn_values"] = longhorn_values(nodes, volumes, cpus, plan["dedicated_disks"], opts, on_longhorn)
        plan["backup_targets"] = offsite_backup_target(opts)
    elif engine == "rook_ceph":
        plan["rook_cluster_values"] = rook_cluster_values(plan["rook"], disks, opts)
        plan["rook_operator_values"] = {"enableDiscoveryDaemon": False}
    plan["report"] = report_lines(plan)
    return plan


def report_lines(plan: Mapping) -> list[str]:
    """What the site gets, one line per data type, and where the data lives."""
    lines = ["cluster %s: %s on %d storage node(s) (%s), %d cop%s of replicated data"
             % (plan["cluster"], plan["engine"], plan["node_count"], ", ".join(plan["storage_nodes"]),
                plan["copies"], "y" if plan["copies"] == 1 else "ies")]
    if plan["engine"] == "longhorn" and not plan["dedicated_disks"]:
        lines.append("cluster %s: no dedicated disk on every storage node: Longhorn keeps its data under %s on the"
                     " root disk" % (plan["cluster"], plan["longhorn_values"]["defaultSettings"]["defaultDataPath"]))
    for data_type, entry in plan["guarantees"].items():
        unmet = entry["unmet"]
        lines.append("%s -> class %s on %s: %s" % (data_type, entry["storage_class"], entry["runs_on"],
                                                   "every guarantee met" if not unmet else "cannot give " + "; ".join(unmet)))
    return lines


# --- the K3s HelmChart resource ------------------------------------------------------------------

HELM_CHART_NAMESPACE = "kube-system"


def helm_chart(name: t.Any, chart: t.Any, version: t.Any, target_namespace: t.Any, values: t.Any,
               repo: t.Any = "", chart_content: t.Any = "") -> dict[str, t.Any]:
    """A helm.cattle.io/v1 HelmChart for K3s's helm controller.

    With ``chart_content`` (the chart archive, base64) nothing is downloaded:
    the air-gap bundle path. Otherwise the chart comes from ``repo`` (the
    upstream repository or the hub mirror). The values go in as one YAML
    document (valuesContent), written by the caller's YAML dumper.
    """
    for what, value in (("name", name), ("chart", chart), ("version", version), ("target namespace", target_namespace)):
        if not isinstance(value, str) or not value:
            raise StorageError("HelmChart %s: %s must be a non-empty string, got %r" % (name, what, value))
    if not isinstance(values, str):
        raise StorageError("HelmChart %s: values must be the YAML text of the values (valuesContent)" % name)
    spec: dict[str, t.Any] = {"targetNamespace": target_namespace, "createNamespace": True,
                              "version": version, "valuesContent": values, "failurePolicy": "abort"}
    if chart_content:
        spec["chartContent"] = chart_content
    elif repo:
        spec["chart"] = chart
        spec["repo"] = repo
    else:
        raise StorageError("HelmChart %s: give the chart archive (a bundle) or a chart repository (repo)" % name)
    return {"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
            "metadata": {"name": name, "namespace": HELM_CHART_NAMESPACE,
                         "labels": {"app.kubernetes.io/managed-by": "edgefleet.platform"}},
            "spec": spec}
