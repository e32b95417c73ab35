# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What to do with a dedicated storage disk, from what ``lsblk`` reports on it.

Pure Python, no I/O: the storage_disks role reads the disk (``lsblk --json``),
the ``edgefleet.platform.storage_disk_actions`` filter calls ``disk_action``, and
the role does only what it returns. The rule: a disk is used as it is when it
already holds what the engine put there, prepared when it is blank, wiped only
when its ZTP record allows it and nothing on it is mounted, and otherwise
refused with the device, the disk and what is on it, touching nothing.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

# The filesystem label of a Longhorn data disk prepared by the role: a disk
# carrying it is ours, whatever else the host has.
LONGHORN_LABEL = "edgefleet-lh"
ENGINES = ("longhorn", "rook_ceph")
ACTIONS = ("ready", "prepare", "wipe", "refuse")

# What Ceph leaves on an OSD disk: LVM with ceph-* volume groups, or a raw bluestore label.
_CEPH_FSTYPES = ("ceph_bluestore",)


class DiskError(ValueError):
    """lsblk output that cannot be read; the message names the disk."""


def _children(dev: Mapping) -> list:
    kids = dev.get("children") or []
    return [k for k in kids if isinstance(k, Mapping)]


def _mounts(dev: Mapping) -> list[str]:
    points = dev.get("mountpoints")
    if points is None:
        points = [dev.get("mountpoint")]
    return [str(p) for p in points if p]


def _walk(dev: Mapping) -> t.Iterator[Mapping]:
    yield dev
    for kid in _children(dev):
        yield from _walk(kid)


def _describe(dev: Mapping) -> str:
    """One device of the tree in words: name, type, filesystem, label, mounts."""
    parts = ["%s (%s)" % (dev.get("name") or "?", dev.get("type") or "?")]
    if dev.get("fstype"):
        parts.append("%s signature" % dev["fstype"])
    if dev.get("label"):
        parts.append("label %r" % dev["label"])
    mounts = _mounts(dev)
    if mounts:
        parts.append("mounted at %s" % ", ".join(mounts))
    return " ".join(parts)


def contents(disk: Mapping) -> str:
    """What is on a disk, for a refusal: every signature, child and mount."""
    found = [_describe(dev) for dev in _walk(disk) if dev is not disk or dev.get("fstype") or _mounts(dev)]
    return "; ".join(found) if found else "nothing"


def _is_ceph(disk: Mapping) -> bool:
    for dev in _walk(disk):
        if dev.get("fstype") in _CEPH_FSTYPES:
            return True
        if dev.get("type") == "lvm" and str(dev.get("name") or "").startswith("ceph--"):
            return True
    return False


def _is_longhorn(disk: Mapping) -> bool:
    kids = _children(disk)
    return (not disk.get("fstype") and len(kids) == 1 and kids[0].get("type") == "part"
            and kids[0].get("fstype") == "ext4" and kids[0].get("label") == LONGHORN_LABEL
            and not _children(kids[0]))


def _blank(disk: Mapping) -> bool:
    return not disk.get("fstype") and not _children(disk) and not _mounts(disk)


def read_lsblk(lsblk: t.Any, disk_id: str) -> Mapping:
    """The one disk of ``lsblk --json --tree <disk>`` output."""
    if not isinstance(lsblk, Mapping) or not isinstance(lsblk.get("blockdevices"), list):
        raise DiskError("disk %s: lsblk did not report it (no blockdevices in %r)" % (disk_id, lsblk))
    disks = [d for d in lsblk["blockdevices"] if isinstance(d, Mapping)]
    if len(disks) != 1:
        raise DiskError("disk %s: lsblk reported %d devices, expected the one disk" % (disk_id, len(disks)))
    disk = disks[0]
    if disk.get("type") != "disk":
        raise DiskError("disk %s is a %s (%s), not a whole disk" % (disk_id, disk.get("type"), disk.get("name")))
    return disk


def disk_action(lsblk: t.Any, disk: t.Any, engine: str, host: str = "") -> dict[str, t.Any]:
    """The action for one disk of a device's record.

    ``lsblk``: the JSON of ``lsblk --json --bytes --tree -o NAME,PATH,TYPE,FSTYPE,LABEL,MOUNTPOINTS,SIZE``
    on the disk's by-id path; ``disk``: the record's {id, wipe_allowed}.
    Returns {action, id, device (kernel path), contents, reason, wipe (commands)}.
    """
    if engine not in ENGINES:
        raise DiskError("storage engine %r has no dedicated disks (one of %s)" % (engine, ", ".join(ENGINES)))
    if not isinstance(disk, Mapping) or not isinstance(disk.get("id"), str):
        raise DiskError("a disk record {id, wipe_allowed} is required, got %r" % (disk,))
    disk_id = disk["id"]
    dev = read_lsblk(lsblk, disk_id)
    path = str(dev.get("path") or "/dev/" + str(dev.get("name")))
    where = "device %s: disk %s (%s)" % (host, disk_id, path) if host else "disk %s (%s)" % (disk_id, path)
    result: dict[str, t.Any] = {"id": disk_id, "device": path, "contents": contents(dev), "wipe": []}
    if engine == "longhorn" and _is_longhorn(dev):
        return dict(result, action="ready", reason="%s: already the Longhorn data disk (ext4 %r)" % (where, LONGHORN_LABEL))
    if engine == "rook_ceph" and _is_ceph(dev):
        return dict(result, action="ready", reason="%s: already a Ceph OSD; left to Rook" % where)
    if _blank(dev):
        if engine == "longhorn":
            return dict(result, action="prepare", reason="%s: blank; partitioned and formatted for Longhorn" % where)
        return dict(result, action="ready", reason="%s: raw, no signature: Rook may use it" % where)
    mounted = [m for d in _walk(dev) for m in _mounts(d)]
    if mounted:
        return dict(result, action="refuse", reason=(
            "%s holds %s; it is mounted (%s), so it is in use and never wiped, even where the ZTP record allows it."
            " Nothing was changed" % (where, result["contents"], ", ".join(mounted))))
    mapped = [str(d.get("name")) for d in _walk(dev) if d.get("type") in ("lvm", "crypt", "raid1", "raid0", "dm")]
    if mapped:
        return dict(result, action="refuse", reason=(
            "%s holds %s; active device-mapper or RAID devices (%s) sit on it, so it is in use and not wiped."
            " Nothing was changed" % (where, result["contents"], ", ".join(mapped))))
    if not disk.get("wipe_allowed"):
        return dict(result, action="refuse", reason=(
            "%s holds %s. Its ZTP record does not mark it wipe_allowed, so it was not touched: wipe it by hand or set"
            " wipe_allowed: true on this disk in the record" % (where, result["contents"])))
    return dict(result, action="wipe", wipe=wipe_commands(dev, engine),
                reason="%s held %s; wiped (the ZTP record marks it wipe_allowed)" % (where, result["contents"]))


def disk_actions(lsblks: t.Any, disks: t.Any, engine: str, host: str = "") -> list[dict[str, t.Any]]:
    """One decision per disk of a device's record: ``lsblks[i]`` is what the device reports
    for ``disks[i]``. Longhorn takes one data disk per node (its data path): a record with
    more is refused whole, as the storage plan refuses it, before anything is changed."""
    if not isinstance(lsblks, (list, tuple)) or not isinstance(disks, (list, tuple)) or len(lsblks) != len(disks):
        raise DiskError("storage_disk_actions needs one lsblk output per disk record")
    if engine == "longhorn" and len(disks) > 1:
        ids = ", ".join(str(d.get("id")) if isinstance(d, Mapping) else repr(d) for d in disks)
        raise DiskError("device %s: Longhorn takes one dedicated disk per node (its data path), the record lists %d"
                        " (%s): aggregate them with LVM or list one. Nothing was changed" % (host or "?", len(disks), ids))
    return [disk_action(out, disk, engine, host) for out, disk in zip(lsblks, disks)]


def wipe_commands(dev: Mapping, engine: str) -> list[list[str]]:
    """argv lists: signatures off every partition (deepest first), then the disk; for
    Rook also the first 100 MiB, where a bluestore label survives wipefs."""
    paths = [str(d.get("path") or "/dev/" + str(d.get("name"))) for d in _walk(dev)]
    commands = [["wipefs", "--all", p] for p in reversed(paths)]
    if engine == "rook_ceph":
        commands.append(["dd", "if=/dev/zero", "of=%s" % paths[0], "bs=1M", "count=100", "oflag=direct,dsync"])
    commands.append(["partprobe", paths[0]])
    return commands
