# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a storage node shows once its engine is set up, and its iSCSI initiator name.

Pure Python, no Ansible. The storage stage reads each storage node with one probe
(playbooks/stages/files/storage_probe.sh prints KEY=VALUE lines); ``node_health``
turns that reading into the record the stage writes back and the problems that
fail the node. ``volume_health`` summarises Longhorn's Volume resources where a
kubeconfig makes them observable. ``initiator_plan`` decides, per node, whether
its iSCSI initiator name must be generated again (a golden image's clones share
one, and iSCSI targets then mix up their sessions).
Unit-tested in tests/unit/plugins/module_utils/test_storage_health.py.
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

from ansible_collections.edgefleet.platform.plugins.module_utils.storage_engines import HOST_MODULES, StorageError

NOT_OBSERVABLE = "not observable here"
# What Longhorn's volumes are to multipath (the storage_prereqs drop-in).
LONGHORN_DEVICE = ("IET", "VIRTUAL-DISK")
# open-iscsi's file, and the line Debian's older packages shipped instead of a name
# (iscsid's start-up check replaces it with a generated name on its first start).
INITIATOR_FILE = "/etc/iscsi/initiatorname.iscsi"
INITIATOR_PLACEHOLDER = "GenerateName=yes"
# iSCSI names (RFC 3720 3.2.6.3): iqn.<yyyy-mm>.<reversed domain>[:<anything>] or eui.<16 hex>
_ISCSI_NAME = re.compile(r"^(iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.-]*(:[^\s]+)?|eui\.[0-9A-Fa-f]{16})$")
_PROBE_KEY = re.compile(r"^[a-z_]+$")
# Keys the probe may repeat: each line adds one value.
_PROBE_LISTS = ("blacklist_device",)


# --- the probe ------------------------------------------------------------------------------


def parse_probe(text: t.Any) -> dict[str, t.Any]:
    """KEY=VALUE lines of the probe; repeated keys (_PROBE_LISTS) give lists. Other lines are refused."""
    if not isinstance(text, str):
        raise StorageError("the storage probe's output must be text, got %r" % (text,))
    probe: dict[str, t.Any] = {key: [] for key in _PROBE_LISTS}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not _PROBE_KEY.match(key):
            raise StorageError("storage probe line %d is not KEY=VALUE: %r" % (number, line))
        if key in _PROBE_LISTS:
            probe[key].append(value.strip())
        else:
            probe[key] = value.strip()
    return probe


def _words(value: t.Any) -> list[str]:
    return str(value or "").split()


def _data_path(probe: Mapping, data_path: str, dedicated: str) -> tuple[dict[str, t.Any], list[str]]:
    """Where Longhorn's data path lives: on its dedicated disk (which must be mounted there) or on the root disk."""
    target, source = probe.get("data_mount_target", ""), probe.get("data_mount_source", "")
    entry: dict[str, t.Any] = {"path": data_path, "mounted_on": target, "source": source, "dedicated_disk": bool(dedicated)}
    if dedicated:
        partition = dedicated + "-part1"
        device = probe.get("data_disk", "")
        entry["disk"] = partition
        if target != data_path or not device or source != device:
            found = "on %s from %s" % (target or "?", source or "?") if target else "no filesystem found"
            return entry, ["data path %s is not mounted from its disk %s (%s)" % (data_path, partition, found)]
        entry["note"] = "mounted from its dedicated disk"
        return entry, []
    if not target:
        return entry, ["data path %s: no filesystem holds it (findmnt found nothing)" % data_path]
    entry["note"] = ("no dedicated disk: on the root disk" if target == "/" else
                     "no dedicated disk: on the filesystem mounted at %s" % target)
    return entry, []


def _multipath(probe: Mapping) -> tuple[dict[str, t.Any], list[str]]:
    if probe.get("multipath") != "installed":
        return {"installed": False, "note": "multipath-tools is not installed: nothing claims Longhorn's volumes"}, []
    devices = [tuple(d.split("|", 1)) for d in probe.get("blacklist_device", []) if "|" in d]
    excluded = LONGHORN_DEVICE in devices
    entry = {"installed": True, "longhorn_excluded": excluded, "multipathd": probe.get("multipathd", ""),
             "maps": int(probe["multipath_maps"]) if str(probe.get("multipath_maps", "")).isdigit() else 0}
    if not excluded:
        return entry, ["multipath -t does not exclude Longhorn's volumes (vendor %s, product %s)" % LONGHORN_DEVICE]
    return entry, []


def node_health(probe_text: t.Any, engine: t.Any, host: t.Any, options: t.Any = None) -> dict[str, t.Any]:
    """The storage node as a user would observe it, and what is wrong with it.

    ``options``: ``data_path`` (Longhorn's), ``disk`` (the dedicated disk's by-id
    name, empty without one), ``storage_node`` (false: nothing to read). Local
    storage and no engine have nothing to read on the node; the record says so. In a container the kernel is the host's: iscsid is
    not started and modules are not loaded there, so those are recorded as not
    observable instead of judged. Returns {ok, problems, record}; the problems
    name the node and fail it in the stage.
    """
    engine, host = str(engine), str(host)
    options = options if isinstance(options, Mapping) else {}
    if engine not in HOST_MODULES:
        why = ("local storage (K3s's local-path provisioner) runs no daemon or kernel module to read" if engine == "local"
               else "the cluster has no storage engine")
        return {"ok": True, "problems": [], "record": {"read": "%s: %s" % (NOT_OBSERVABLE, why)}}
    if not options.get("storage_node", True):
        return {"ok": True, "problems": [], "record": {"read": "not a storage node: %s keeps no data here" % engine}}
    probe = parse_probe(probe_text)
    virt = probe.get("virt", "")
    container = virt not in ("", "none")
    why = "%s: a container shares the host's kernel" % NOT_OBSERVABLE
    record: dict[str, t.Any] = {"observed_on": "container (%s)" % virt if container else "own kernel"}
    problems: list[str] = []

    loaded = _words(probe.get("modules"))
    if container:
        record["modules"] = why
    else:
        record["modules"] = {m: m in loaded for m in HOST_MODULES[engine]}
        missing = [m for m in HOST_MODULES[engine] if m not in loaded]
        if missing:
            problems.append("kernel module%s %s not loaded" % ("s" if len(missing) > 1 else "", ", ".join(missing)))

    if engine == "longhorn":
        # systemctl prints nothing for a unit that is not there
        active = probe.get("iscsid") or "not installed"
        enabled = probe.get("iscsid_enabled") or "not installed"
        if container:
            record["iscsid"] = "%s, not started: %s" % (enabled, why)
        else:
            record["iscsid"] = "%s, %s" % (enabled, active)
            if active != "active":
                problems.append("iscsid is %s, not running (systemctl status iscsid)" % active)
        if enabled != "enabled":
            problems.append("iscsid is %s, not enabled at boot" % enabled)
        name = probe.get("initiator", "")
        record["initiator_name"] = name
        if not _ISCSI_NAME.match(name):
            problems.append("no valid iSCSI initiator name in %s (%r)" % (INITIATOR_FILE, name))
        record["data_path"], found = _data_path(probe, str(options.get("data_path") or "/var/lib/longhorn"),
                                                str(options.get("disk") or ""))
        problems += found
        record["multipath"], found = _multipath(probe)
        problems += found
    problems = ["node %s: %s" % (host, p) for p in problems]
    return {"ok": not problems, "problems": problems, "record": record}


# --- Longhorn's volumes -------------------------------------------------------------------------


def volume_health(read: t.Any, engine: t.Any, kubeconfig: t.Any = "") -> dict[str, t.Any]:
    """Longhorn's Volume resources (longhorn.io), summarised: each volume's state and
    robustness, and the ones that are not healthy.

    ``read``: what kubernetes.core.k8s_info returned (its ``resources``), or the
    list of resources. Without a kubeconfig, for another engine, or where the
    read was skipped or failed, the volumes are not observable from here, and
    the result says why instead of reporting anything.
    """
    engine = str(engine)
    if engine != "longhorn":
        return {"observable": False, "why": "%s: %s has no Longhorn volumes" % (NOT_OBSERVABLE, engine)}
    if not kubeconfig:
        return {"observable": False,
                "why": "%s: no kubeconfig (longhorn_kubeconfig) to read Longhorn's volumes through the API" % NOT_OBSERVABLE}
    if read is None:
        read = {"skipped": True}
    if isinstance(read, Mapping):
        if read.get("skipped"):
            return {"observable": False,
                    "why": "%s: Longhorn's volumes were not read (the cluster's first node stopped earlier)" % NOT_OBSERVABLE}
        # a failed read (the stage keeps it from failing the node) has a message and no resources
        if read.get("failed") or "resources" not in read:
            return {"observable": False, "why": "%s: reading Longhorn's volumes failed: %s"
                    % (NOT_OBSERVABLE, read.get("msg") or "no reason given")}
        read = read["resources"]
    resources = read
    if not isinstance(resources, (list, tuple)):
        raise StorageError("Longhorn's volumes must be a list of Volume resources, got %r" % (resources,))
    volumes, unhealthy = [], []
    for item in resources:
        if not isinstance(item, Mapping) or item.get("kind") != "Volume":
            raise StorageError("not a Longhorn Volume resource: %r" % (item,))
        name = str((item.get("metadata") or {}).get("name", "?"))
        status = item.get("status") or {}
        state, robustness = str(status.get("state") or "unknown"), str(status.get("robustness") or "unknown")
        volumes.append({"name": name, "state": state, "robustness": robustness})
        # a detached volume has no robustness to judge (nothing uses it now)
        if state == "attached" and robustness != "healthy":
            unhealthy.append("volume %s: attached, robustness %s" % (name, robustness))
        elif state not in ("attached", "detached"):
            unhealthy.append("volume %s: %s" % (name, state))
    attached = [v for v in volumes if v["state"] == "attached"]
    return {"observable": True, "volumes": sorted(volumes, key=lambda v: v["name"]), "count": len(volumes),
            "attached": len(attached), "healthy": len([v for v in attached if v["robustness"] == "healthy"]),
            "unhealthy": unhealthy}


# --- the iSCSI initiator name ----------------------------------------------------------------------


def initiator_name(text: t.Any) -> str:
    """The InitiatorName of open-iscsi's file; empty when there is none (a placeholder, an empty file)."""
    if not isinstance(text, str):
        return ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("InitiatorName="):
            return line.split("=", 1)[1].strip()
    return ""


def _initiator_text(value: t.Any) -> str | None:
    """The file's text from a string, or from the result of ``cat`` (rc 1: no file); None: no file."""
    if isinstance(value, Mapping):
        return str(value.get("stdout", "")) if value.get("rc") == 0 else None
    return value if isinstance(value, str) else None


def initiator_plan(members: t.Any, host: t.Any, path: t.Any = INITIATOR_FILE,
                   var: str = "storage_prereqs__initiator") -> dict[str, t.Any]:
    """Whether ``host`` must get a new iSCSI initiator name.

    ``members``: host variables of the play's hosts; ``var`` holds what ``cat`` of
    each one's initiator file gave (rc 1 where the file is missing), or its text. A name is generated
    again where the file is missing, holds no name (Debian's ``GenerateName=yes``
    placeholder, an empty file), holds no valid iSCSI name, or holds a name
    another node of the same cluster has (clones of one golden image). Of the
    nodes sharing a name, the first by host name keeps it, so a re-run changes
    nothing and one node's sessions stay as they are.
    """
    host = str(host)
    if not isinstance(members, (list, tuple)):
        raise StorageError("initiator plan: members must be a list of host variables, got %r" % (members,))
    own: Mapping | None = None
    for member in members:
        if isinstance(member, Mapping) and str(member.get("inventory_hostname")) == host:
            own = member
    if own is None:
        raise StorageError("initiator plan: host %s is not among the members" % host)
    text = _initiator_text(own.get(var))
    name = initiator_name(text)
    if text is None:
        return {"name": "", "regenerate": True, "reason": "%s: %s is missing" % (host, path)}
    if not name:
        placeholder = INITIATOR_PLACEHOLDER in str(text)
        return {"name": "", "regenerate": True,
                "reason": "%s: %s holds %s" % (host, path,
                                               "the placeholder " + INITIATOR_PLACEHOLDER if placeholder else "no name")}
    if not _ISCSI_NAME.match(name):
        return {"name": name, "regenerate": True, "reason": "%s: %r is not an iSCSI name" % (host, name)}
    cluster = own.get("ztp_cluster")
    sharing = sorted(str(m.get("inventory_hostname")) for m in members
                     if isinstance(m, Mapping) and m.get("ztp_cluster") == cluster and initiator_name(_initiator_text(m.get(var))) == name)
    if len(sharing) > 1 and sharing[0] != host:
        return {"name": name, "regenerate": True,
                "reason": "%s: initiator name %s is shared with %s (clones of one image)"
                          % (host, name, ", ".join(h for h in sharing if h != host))}
    return {"name": name, "regenerate": False, "reason": ""}


def initiator_file(name: t.Any) -> str:
    """The text of open-iscsi's initiator file for a generated name, as Debian's package writes it."""
    name = str(name).strip()
    if not _ISCSI_NAME.match(name):
        raise StorageError("iscsi-iname gave %r, not an iSCSI name" % name)
    return ("## DO NOT EDIT OR REMOVE THIS FILE!\n"
            "## If you remove this file, the iSCSI daemon will not start.\n"
            "## If you change the InitiatorName, existing access control lists\n"
            "## may reject this initiator.  The InitiatorName must be unique\n"
            "## for each iSCSI initiator.  Do NOT duplicate iSCSI InitiatorNames.\n"
            "## Generated by edgefleet.platform (storage_prereqs): unique on each node.\n"
            "InitiatorName=%s\n" % name)
