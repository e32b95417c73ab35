# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage stage's read-back (probe parsing, node and volume health) and the
iSCSI initiator name decision."""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import storage_health as sh
from ansible_collections.edgefleet.platform.plugins.module_utils.storage_engines import StorageError

DISK = "/dev/disk/by-id/nvme-IPC_SSD_1"
NAME = "iqn.1993-08.org.debian:01:5c1a2e7f9b3d"
# What storage_probe.sh prints on a Longhorn node with its own kernel, a dedicated disk
# and multipath-tools (the VM tier's reading).
GOOD = """virt=none
modules=iscsi_tcp dm_crypt
iscsid=active
iscsid_enabled=enabled
initiator=%s
data_mount_target=/var/lib/longhorn
data_mount_source=/dev/vdb1
data_disk=/dev/vdb1
multipath=installed
multipathd=active
multipath_maps=1
blacklist_device=IET|VIRTUAL-DISK
blacklist_device=DGC|LUNZ
""" % NAME
# A lab container: no extra disk, no multipath-tools, iscsid enabled but not started.
CONTAINER = """virt=podman
modules=
iscsid=inactive
iscsid_enabled=enabled
initiator=%s
data_mount_target=/
data_mount_source=overlay
multipath=absent
""" % NAME
OPTIONS = {"data_path": "/var/lib/longhorn", "disk": DISK}


def _with(text, **changes):
    lines = [line for line in text.splitlines() if line.split("=", 1)[0] not in changes]
    return "\n".join(lines + ["%s=%s" % (k, v) for k, v in changes.items() if v is not None]) + "\n"


# --- the probe -------------------------------------------------------------------------------


def test_the_probe_is_read_as_key_value_lines_with_repeated_blacklist_devices():
    probe = sh.parse_probe(GOOD)
    assert probe["iscsid"] == "active" and probe["modules"] == "iscsi_tcp dm_crypt"
    assert probe["blacklist_device"] == ["IET|VIRTUAL-DISK", "DGC|LUNZ"]
    assert sh.parse_probe("")["blacklist_device"] == []


@pytest.mark.parametrize("text", ["no equals sign", "Bad-Key=x", "=value"])
def test_a_line_that_is_not_key_value_is_refused(text):
    with pytest.raises(StorageError, match="line 1 is not KEY=VALUE"):
        sh.parse_probe(text)


def test_a_probe_that_is_not_text_is_refused():
    with pytest.raises(StorageError, match="must be text"):
        sh.parse_probe(None)


# --- a Longhorn node ---------------------------------------------------------------------------


def test_a_healthy_longhorn_node_on_its_own_kernel():
    health = sh.node_health(GOOD, "longhorn", "ipc1", OPTIONS)
    assert health["ok"] and health["problems"] == []
    record = health["record"]
    assert record["observed_on"] == "own kernel"
    assert record["iscsid"] == "enabled, active"
    assert record["modules"] == {"iscsi_tcp": True, "dm_crypt": True}
    assert record["initiator_name"] == NAME
    assert record["data_path"] == {"path": "/var/lib/longhorn", "mounted_on": "/var/lib/longhorn", "source": "/dev/vdb1",
                                   "dedicated_disk": True, "disk": DISK + "-part1", "note": "mounted from its dedicated disk"}
    assert record["multipath"] == {"installed": True, "longhorn_excluded": True, "multipathd": "active", "maps": 1}


@pytest.mark.parametrize("changes, problem", [
    ({"iscsid": "inactive"}, "node ipc1: iscsid is inactive, not running"),
    ({"iscsid": "failed"}, "node ipc1: iscsid is failed, not running"),
    ({"iscsid": "", "iscsid_enabled": ""}, "node ipc1: iscsid is not installed, not running"),
    ({"iscsid_enabled": "disabled"}, "node ipc1: iscsid is disabled, not enabled at boot"),
    ({"modules": "dm_crypt"}, "node ipc1: kernel module iscsi_tcp not loaded"),
    ({"modules": ""}, "node ipc1: kernel modules iscsi_tcp, dm_crypt not loaded"),
    ({"initiator": ""}, "node ipc1: no valid iSCSI initiator name in /etc/iscsi/initiatorname.iscsi"),
    ({"initiator": "GenerateName=yes"}, "no valid iSCSI initiator name"),
    ({"data_mount_target": "/", "data_mount_source": "/dev/vda"},
     "node ipc1: data path /var/lib/longhorn is not mounted from its disk %s-part1 (on / from /dev/vda)" % DISK),
    ({"data_mount_source": "/dev/vdc1"}, "is not mounted from its disk"),
    ({"data_disk": None}, "is not mounted from its disk"),
    ({"blacklist_device": None}, "node ipc1: multipath -t does not exclude Longhorn's volumes (vendor IET, product VIRTUAL-DISK)"),
])
def test_what_a_longhorn_node_does_not_show_fails_it_naming_the_node(changes, problem):
    health = sh.node_health(_with(GOOD, **changes), "longhorn", "ipc1", OPTIONS)
    assert not health["ok"]
    assert any(problem in p for p in health["problems"]), health["problems"]
    assert all(p.startswith("node ipc1: ") for p in health["problems"])


def test_no_dedicated_disk_the_data_path_on_the_root_disk_is_said():
    text = _with(GOOD, data_mount_target="/", data_mount_source="/dev/sda2", data_disk=None)
    health = sh.node_health(text, "longhorn", "ipc1", {"data_path": "/var/lib/longhorn", "disk": ""})
    assert health["ok"], health["problems"]
    assert health["record"]["data_path"]["note"] == "no dedicated disk: on the root disk"
    assert health["record"]["data_path"]["dedicated_disk"] is False
    text = _with(text, data_mount_target="/var")
    assert sh.node_health(text, "longhorn", "ipc1", {"data_path": "/var/lib/longhorn"})["record"]["data_path"]["note"] \
        == "no dedicated disk: on the filesystem mounted at /var"
    assert "no filesystem holds it" in sh.node_health(_with(text, data_mount_target=""), "longhorn", "h", {})["problems"][0]


def test_a_host_without_multipath_tools_needs_no_exclusion():
    text = _with(GOOD, multipath="absent", multipathd=None, multipath_maps=None, blacklist_device=None)
    health = sh.node_health(text, "longhorn", "ipc1", OPTIONS)
    assert health["ok"]
    assert health["record"]["multipath"] == {
        "installed": False, "note": "multipath-tools is not installed: nothing claims Longhorn's volumes"}


def test_in_a_container_the_kernel_state_is_not_observable_and_not_judged():
    health = sh.node_health(CONTAINER, "longhorn", "lab-1", {"data_path": "/var/lib/longhorn", "disk": ""})
    assert health["ok"], health["problems"]
    record = health["record"]
    assert record["observed_on"] == "container (podman)"
    assert record["iscsid"] == "enabled, not started: not observable here: a container shares the host's kernel"
    assert record["modules"] == "not observable here: a container shares the host's kernel"
    assert record["data_path"]["note"] == "no dedicated disk: on the root disk"
    # what a container does show is still judged: iscsid enabled at boot, the initiator name
    assert not sh.node_health(_with(CONTAINER, iscsid_enabled="disabled"), "longhorn", "lab-1", {})["ok"]
    assert not sh.node_health(_with(CONTAINER, initiator=""), "longhorn", "lab-1", {})["ok"]


# --- Rook, local, no engine --------------------------------------------------------------------


def test_a_rook_node_needs_rbd_loaded():
    assert sh.node_health("virt=none\nmodules=rbd\n", "rook_ceph", "ipc1")["record"] == {
        "observed_on": "own kernel", "modules": {"rbd": True}}
    assert sh.node_health("virt=none\nmodules=\n", "rook_ceph", "ipc1")["problems"] == [
        "node ipc1: kernel module rbd not loaded"]
    assert sh.node_health("virt=docker\nmodules=\n", "rook_ceph", "ipc1")["ok"]


@pytest.mark.parametrize("engine, read", [
    ("local", "not observable here: local storage (K3s's local-path provisioner) runs no daemon or kernel module to read"),
    ("none", "not observable here: the cluster has no storage engine"),
])
def test_local_storage_and_no_engine_have_nothing_to_read(engine, read):
    assert sh.node_health("", engine, "ipc1") == {"ok": True, "problems": [], "record": {"read": read}}


def test_a_node_that_holds_no_storage_is_not_read():
    health = sh.node_health("", "longhorn", "w1", {"storage_node": False})
    assert health == {"ok": True, "problems": [], "record": {"read": "not a storage node: longhorn keeps no data here"}}


# --- Longhorn's volumes --------------------------------------------------------------------------


def _volume(name, state, robustness):
    return {"apiVersion": "longhorn.io/v1beta2", "kind": "Volume", "metadata": {"name": name, "namespace": "longhorn-system"},
            "status": {"state": state, "robustness": robustness}}


def test_volumes_are_not_observable_without_a_kubeconfig_or_longhorn():
    assert sh.volume_health(None, "longhorn", "") == {
        "observable": False,
        "why": "not observable here: no kubeconfig (longhorn_kubeconfig) to read Longhorn's volumes through the API"}
    assert sh.volume_health(None, "local", "/k") == {"observable": False, "why": "not observable here: local has no Longhorn volumes"}
    assert sh.volume_health({"skipped": True}, "longhorn", "/k")["why"].startswith("not observable here: Longhorn's volumes were not read")
    assert sh.volume_health(None, "longhorn", "/k")["why"].startswith("not observable here: Longhorn's volumes were not read")
    failed = sh.volume_health({"failed": True, "msg": "connection refused"}, "longhorn", "/k")
    assert failed == {"observable": False, "why": "not observable here: reading Longhorn's volumes failed: connection refused"}
    # failed_when: false keeps the read from failing the node: a message, no resources
    kept = sh.volume_health({"failed": False, "failed_when_result": False, "msg": "no kubernetes client"}, "longhorn", "/k")
    assert kept["why"] == "not observable here: reading Longhorn's volumes failed: no kubernetes client"
    assert sh.volume_health({}, "longhorn", "/k")["why"] == "not observable here: reading Longhorn's volumes failed: no reason given"


def test_volumes_read_through_the_api_with_the_unhealthy_ones_named():
    read = {"changed": False, "resources": [
        _volume("pvc-b", "attached", "healthy"), _volume("pvc-a", "attached", "degraded"),
        _volume("pvc-c", "detached", "unknown"), _volume("pvc-d", "attached", "faulted"),
        _volume("pvc-e", "attaching", "unknown")]}
    health = sh.volume_health(read, "longhorn", "/etc/edgefleet/line-1.kubeconfig")
    assert health["observable"] and health["count"] == 5 and health["attached"] == 3 and health["healthy"] == 1
    assert [v["name"] for v in health["volumes"]] == ["pvc-a", "pvc-b", "pvc-c", "pvc-d", "pvc-e"]
    assert health["volumes"][1] == {"name": "pvc-b", "state": "attached", "robustness": "healthy"}
    assert health["unhealthy"] == ["volume pvc-a: attached, robustness degraded", "volume pvc-d: attached, robustness faulted",
                                   "volume pvc-e: attaching"]
    assert sh.volume_health({"resources": []}, "longhorn", "/k") == {
        "observable": True, "volumes": [], "count": 0, "attached": 0, "healthy": 0, "unhealthy": []}


@pytest.mark.parametrize("read", ["text", [{"kind": "Pod"}], {"resources": [1]}])
def test_what_is_not_a_list_of_volumes_is_refused(read):
    with pytest.raises(StorageError):
        sh.volume_health(read, "longhorn", "/k")


# --- the initiator name ----------------------------------------------------------------------------


def _cat(text):
    """What the role's `cat` of the file registers (rc 1: no file)."""
    return {"rc": 1, "stdout": ""} if text is None else {"rc": 0, "stdout": text}


def _members(files, cluster="line-1"):
    return [{"inventory_hostname": host, "ztp_cluster": cluster, "storage_prereqs__initiator": _cat(text)}
            for host, text in files.items()]


def _file(name):
    return "## DO NOT EDIT OR REMOVE THIS FILE!\nInitiatorName=%s\n" % name


def test_a_unique_name_is_kept():
    members = _members({"ipc1": _file(NAME), "ipc2": _file(NAME + "0")})
    assert sh.initiator_plan(members, "ipc1") == {"name": NAME, "regenerate": False, "reason": ""}
    assert not sh.initiator_plan(members, "ipc2")["regenerate"]


@pytest.mark.parametrize("text, reason", [
    (None, "ipc1: /etc/iscsi/initiatorname.iscsi is missing"),
    ("## DO NOT EDIT\nGenerateName=yes\n", "ipc1: /etc/iscsi/initiatorname.iscsi holds the placeholder GenerateName=yes"),
    ("", "ipc1: /etc/iscsi/initiatorname.iscsi holds no name"),
    ("InitiatorName=my-node\n", "ipc1: 'my-node' is not an iSCSI name"),
])
def test_a_missing_placeholder_or_invalid_name_is_generated_again(text, reason):
    plan = sh.initiator_plan(_members({"ipc1": text}), "ipc1")
    assert plan["regenerate"] and plan["reason"] == reason


def test_a_name_shared_in_the_cluster_is_kept_by_the_first_node_only():
    members = _members({"ipc3": _file(NAME), "ipc1": _file(NAME), "ipc2": _file(NAME), "ipc4": _file(NAME + "ff")})
    plans = {m["inventory_hostname"]: sh.initiator_plan(members, m["inventory_hostname"]) for m in members}
    assert [h for h, p in sorted(plans.items()) if p["regenerate"]] == ["ipc2", "ipc3"]
    assert plans["ipc3"]["reason"] == "ipc3: initiator name %s is shared with ipc1, ipc2 (clones of one image)" % NAME


def test_a_name_shared_with_another_cluster_is_not_the_clusters_concern():
    members = _members({"ipc1": _file(NAME)}, "line-1") + _members({"edge1": _file(NAME)}, "line-2")
    assert not sh.initiator_plan(members, "edge1")["regenerate"]
    assert not sh.initiator_plan(members, "ipc1")["regenerate"]


def test_the_role_reading_or_plain_text_and_hosts_without_a_reading():
    members = [{"inventory_hostname": "ipc1", "storage_prereqs__initiator": _file(NAME)},
               {"inventory_hostname": "ipc2", "storage_prereqs__initiator": _cat(_file(NAME))},
               {"inventory_hostname": "w1"}]
    assert sh.initiator_plan(members, "ipc2")["regenerate"]
    assert sh.initiator_plan(members, "w1")["reason"] == "w1: /etc/iscsi/initiatorname.iscsi is missing"


@pytest.mark.parametrize("count", range(1, 6))
def test_after_generating_the_flagged_names_a_rerun_changes_nothing(count):
    # a golden image: every clone the same name, one with the placeholder, one without a file
    files = {"ipc%d" % i: _file(NAME) for i in range(count)}
    files.update({"new-a": "GenerateName=yes\n", "new-b": None})
    members = _members(files)
    fresh = ("iqn.1993-08.org.debian:01:%012x" % n for n in itertools.count(1))
    for member in members:
        if sh.initiator_plan(members, member["inventory_hostname"])["regenerate"]:
            member["storage_prereqs__initiator"] = _cat(sh.initiator_file(next(fresh)))
    names = [sh.initiator_name(m["storage_prereqs__initiator"]["stdout"]) for m in members]
    assert len(set(names)) == len(names) and NAME in names  # the first clone kept the image's name
    assert not any(sh.initiator_plan(members, m["inventory_hostname"])["regenerate"] for m in members)


def test_host_missing_from_members_or_members_not_a_list_is_refused():
    with pytest.raises(StorageError, match="host ipc9 is not among the members"):
        sh.initiator_plan(_members({"ipc1": None}), "ipc9")
    with pytest.raises(StorageError, match="must be a list"):
        sh.initiator_plan({"ipc1": None}, "ipc1")


def test_the_file_as_debian_writes_it_and_a_bad_generated_name_refused():
    text = sh.initiator_file(NAME + "\n")
    assert text.startswith("## DO NOT EDIT OR REMOVE THIS FILE!\n") and text.endswith("InitiatorName=%s\n" % NAME)
    assert sh.initiator_name(text) == NAME
    assert sh.initiator_file("eui.02004567A425678D").endswith("InitiatorName=eui.02004567A425678D\n")
    for bad in ("", "iscsi-iname: error", "iqn.1993-08.org.debian:01:a b"):
        with pytest.raises(StorageError, match="not an iSCSI name"):
            sh.initiator_file(bad)
