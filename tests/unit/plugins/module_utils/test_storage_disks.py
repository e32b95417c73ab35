# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dedicated-disk rule: use, prepare, wipe only when allowed, otherwise refuse naming
device, disk and contents. The lsblk trees have the shape util-linux 2.38's
``lsblk --json --bytes --tree -o NAME,PATH,TYPE,FSTYPE,LABEL,MOUNTPOINTS,SIZE`` prints
(the blank and whole-disk-ext4 ones were captured on loop devices and renamed to a disk)."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import storage_disks as sd

ID = "/dev/disk/by-id/ata-IPC_SSD_S1"


def dev(name, type_="disk", fstype=None, label=None, mounts=(None,), children=None):
    node = {"name": name, "path": "/dev/" + name, "type": type_, "fstype": fstype, "label": label,
            "mountpoints": list(mounts), "size": 268435456}
    if children:
        node["children"] = children
    return node


def tree(disk):
    return {"blockdevices": [disk]}


BLANK = tree(dev("sdb"))
WHOLE_EXT4 = tree(dev("sdb", fstype="ext4", label="data"))
LONGHORN = tree(dev("sdb", children=[dev("sdb1", "part", "ext4", sd.LONGHORN_LABEL)]))
LONGHORN_MOUNTED = tree(dev("sdb", children=[dev("sdb1", "part", "ext4", sd.LONGHORN_LABEL, ["/var/lib/longhorn"])]))
TWO_PARTS = tree(dev("sdb", children=[dev("sdb1", "part", "ext4", "logs"), dev("sdb2", "part", "swap")]))
MOUNTED_OTHER = tree(dev("sdb", children=[dev("sdb1", "part", "ext4", "srv", ["/srv"])]))
CEPH_LVM = tree(dev("sdb", fstype="LVM2_member", children=[
    dev("ceph--1a2b--osd--block--3c4d", "lvm")]))
CEPH_RAW = tree(dev("sdb", fstype="ceph_bluestore"))
LVM_OTHER = tree(dev("sdb", fstype="LVM2_member", children=[dev("vg0-data", "lvm", "ext4")]))


def act(lsblk, engine, wipe=False):
    return sd.disk_action(lsblk, {"id": ID, "wipe_allowed": wipe}, engine, "ipc1")


@pytest.mark.parametrize("lsblk, engine, wipe, action", [
    (BLANK, "longhorn", False, "prepare"),
    (BLANK, "rook_ceph", False, "ready"),
    (LONGHORN, "longhorn", False, "ready"),
    (LONGHORN_MOUNTED, "longhorn", False, "ready"),
    (CEPH_LVM, "rook_ceph", False, "ready"),
    (CEPH_RAW, "rook_ceph", False, "ready"),
    (WHOLE_EXT4, "longhorn", False, "refuse"),
    (WHOLE_EXT4, "rook_ceph", False, "refuse"),
    (TWO_PARTS, "longhorn", False, "refuse"),
    (WHOLE_EXT4, "longhorn", True, "wipe"),
    (TWO_PARTS, "rook_ceph", True, "wipe"),
    (LONGHORN, "rook_ceph", True, "wipe"),       # a Longhorn disk given to Rook: only with wipe_allowed
    (CEPH_RAW, "longhorn", True, "wipe"),
    (MOUNTED_OTHER, "longhorn", True, "refuse"),  # mounted: never wiped, whatever the record says
    (LONGHORN_MOUNTED, "rook_ceph", True, "refuse"),
    (LVM_OTHER, "longhorn", True, "refuse"),      # an active volume group on it
])
def test_disk_actions(lsblk, engine, wipe, action):
    assert act(lsblk, engine, wipe)["action"] == action


def test_refusal_names_device_disk_and_contents():
    found = act(TWO_PARTS, "longhorn")
    assert found["reason"].startswith("device ipc1: disk %s (/dev/sdb) holds sdb1 (part) ext4 signature label 'logs';"
                                      " sdb2 (part) swap signature." % ID)
    assert "does not mark it wipe_allowed, so it was not touched" in found["reason"]
    assert found["wipe"] == []
    mounted = act(MOUNTED_OTHER, "longhorn", True)
    assert "mounted at /srv" in mounted["reason"] and "never wiped" in mounted["reason"]


def test_wipe_commands_deepest_first():
    assert act(TWO_PARTS, "longhorn", True)["wipe"] == [
        ["wipefs", "--all", "/dev/sdb2"], ["wipefs", "--all", "/dev/sdb1"], ["wipefs", "--all", "/dev/sdb"],
        ["partprobe", "/dev/sdb"]]
    rook = act(WHOLE_EXT4, "rook_ceph", True)["wipe"]
    assert ["dd", "if=/dev/zero", "of=/dev/sdb", "bs=1M", "count=100", "oflag=direct,dsync"] in rook


@pytest.mark.parametrize("lsblk, message", [
    ({}, "lsblk did not report it"),
    ({"blockdevices": []}, "reported 0 devices"),
    (tree(dev("sdb1", "part")), r"is a part \(sdb1\), not a whole disk"),
])
def test_unreadable_lsblk(lsblk, message):
    with pytest.raises(sd.DiskError, match=message):
        act(lsblk, "longhorn")


def test_bad_engine_and_disk():
    with pytest.raises(sd.DiskError, match="has no dedicated disks"):
        act(BLANK, "local")
    with pytest.raises(sd.DiskError, match="disk record"):
        sd.disk_action(BLANK, "sdb", "longhorn")


def test_contents_words():
    assert sd.contents(BLANK["blockdevices"][0]) == "nothing"
    assert sd.contents(CEPH_LVM["blockdevices"][0]) == "sdb (disk) LVM2_member signature; ceph--1a2b--osd--block--3c4d (lvm)"


def test_disk_actions_one_per_disk():
    disks = [{"id": ID, "wipe_allowed": False}]
    assert [a["action"] for a in sd.disk_actions([BLANK], disks, "longhorn", "ipc1")] == ["prepare"]
    two = disks + [{"id": ID + "2", "wipe_allowed": False}]
    assert [a["action"] for a in sd.disk_actions([BLANK, CEPH_RAW], two, "rook_ceph", "ipc1")] == ["ready", "ready"]
    with pytest.raises(sd.DiskError, match="one lsblk output per disk"):
        sd.disk_actions([BLANK], two, "rook_ceph", "ipc1")


def test_longhorn_takes_one_disk():
    two = [{"id": ID, "wipe_allowed": False}, {"id": ID + "2", "wipe_allowed": True}]
    with pytest.raises(sd.DiskError, match=r"device ipc1: Longhorn takes one dedicated disk per node.* lists 2 \(%s, %s2\)"
                       % (ID, ID)):
        sd.disk_actions([BLANK, BLANK], two, "longhorn", "ipc1")
