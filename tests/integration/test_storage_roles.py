# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The longhorn, rook_ceph and local_storage roles through ansible-playbook, against
this machine (local connection; each inventory host writes into its own folder as
K3s data dir): the manifests land on the servers with the values the storage-node
count implies, for 1, 2 and 3 nodes, every resource and values key validates
against the published schemas, a re-run changes nothing and --check is clean."""

from __future__ import annotations

import base64
import json
import os
import sys

import pytest
import yaml

from ansible_collections.edgefleet.platform.tests.integration.helpers import recap, run
from ansible_collections.edgefleet.platform.tests.unit.storage_specs import chart_values, unknown_keys, validate

PLAYBOOK = """
- name: Storage engine
  hosts: all
  gather_facts: false
  tasks:
    - name: The role
      ansible.builtin.include_role:
        name: "edgefleet.platform.{{ role_under_test }}"
"""
REPO_FAKE_INAME = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "fakes", "iscsi_iname", "iscsi_iname.py"))
WORKLOADS = [{"name": "gateway", "type": "medium"}, {"name": "historian", "type": "database"}]


def inventory(tmp_path, count, engine, worker=True, **extra):
    hosts = {}
    for i in range(count + (1 if worker else 0)):
        name = "ipc%d" % i
        role = "worker" if i == count else "control"
        hosts[name] = dict({
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "ztp_cluster": "line-1", "ztp_topology": "single_node" if engine == "local" else "multi_node",
            "ztp_role": role, "ztp_cpu_cores": 4, "ztp_cluster_workloads": WORKLOADS,
            "edgefleet_storage_engine": engine,
            # the worker holds no storage: the node count is the servers'
            "edgefleet_storage_node": role == "control",
            "longhorn_k3s_data_dir": str(tmp_path / name), "rook_ceph_k3s_data_dir": str(tmp_path / name),
            "local_storage_k3s_data_dir": str(tmp_path / name)}, **extra)
        if engine == "rook_ceph":
            hosts[name]["edgefleet_storage_disks"] = [{"id": "nvme-IPC_SSD_%d" % i}]
    data = {"all": {"children": {"cluster_line_1": {"hosts": hosts}}}}
    (tmp_path / "inventory.json").write_text(json.dumps(data))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    return [name for name, hv in hosts.items() if hv["ztp_role"] == "control"]


def play(tmp_path, env, role, *extra):
    proc = run(["ansible-playbook", "-i", str(tmp_path / "inventory.json"), str(tmp_path / "play.yml"),
                "-e", "role_under_test=%s" % role] + list(extra), env, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def converge_three_times(tmp_path, env, role, *extra):
    """Converge, re-run, --check: the last two change nothing."""
    rc, out = play(tmp_path, env, role, *extra)
    assert rc == 0, out
    for more in ((), ("--check",)):
        rc, again = play(tmp_path, env, role, *(extra + more))
        assert rc == 0, again
        assert recap(again) and all(h["changed"] == 0 for h in recap(again).values()), again
    return out


def manifests(tmp_path, host, name):
    path = tmp_path / host / "server" / "manifests" / name
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_longhorn_helmchart_for_the_node_count(tmp_path, ansible_env, count):
    servers = inventory(tmp_path, count, "longhorn")
    converge_three_times(tmp_path, ansible_env, "longhorn")
    replicas = min(count, 3)
    for host in servers:
        (chart,) = manifests(tmp_path, host, "edgefleet-longhorn.yaml")
        validate(chart)
        assert chart["spec"]["repo"] == "https://charts.longhorn.io" and chart["spec"]["version"] == "1.12.1"
        values = yaml.safe_load(chart["spec"]["valuesContent"])
        assert unknown_keys(values, chart_values("longhorn")) == []
        assert values["persistence"]["defaultClassReplicaCount"] == replicas
        assert values["csi"]["attacherReplicaCount"] == min(count, 3)
        assert values["defaultSettings"]["nodeDrainPolicy"] == (
            "allow-if-replica-is-stopped" if count == 1 else "block-for-eviction-if-contains-last-replica")
        assert values["defaultSettings"]["allowVolumeCreationWithDegradedAvailability"] is False
        for resource in values["extraObjects"] + manifests(tmp_path, host, "edgefleet-storage.yaml"):
            validate(resource)
    # the worker is no K3s server: no manifests
    assert not (tmp_path / ("ipc%d" % count) / "server").exists()


def test_longhorn_from_a_bundle_and_with_backup_targets(tmp_path, ansible_env):
    archive = tmp_path / "longhorn-1.12.1.tgz"
    archive.write_bytes(b"\x1f\x8b not really a chart")
    servers = inventory(tmp_path, 3, "longhorn", worker=False)
    converge_three_times(tmp_path, ansible_env, "longhorn", "-e", "longhorn_chart_bundle=%s" % archive,
                         "-e", "longhorn_backup_target=nfs://hub:/backups",
                         "-e", "longhorn_offsite_backup_target=s3://offsite@eu/")
    (chart,) = manifests(tmp_path, servers[0], "edgefleet-longhorn.yaml")
    validate(chart)
    assert base64.b64decode(chart["spec"]["chartContent"]) == archive.read_bytes()
    assert "repo" not in chart["spec"]
    extras = manifests(tmp_path, servers[0], "edgefleet-storage.yaml")
    assert sorted(r["kind"] for r in extras) == ["BackupTarget", "RecurringJob", "RecurringJob", "StorageClass"]
    for resource in extras:
        validate(resource)


@pytest.mark.parametrize("count, hatch", [(1, True), (2, True), (3, False)])
def test_rook_helmcharts_for_the_node_count(tmp_path, ansible_env, count, hatch):
    servers = inventory(tmp_path, count, "rook_ceph", worker=False)
    extra = ("-e", "rook_ceph_allow_unsupported_node_count=true") if hatch else ()
    converge_three_times(tmp_path, ansible_env, "rook_ceph", *extra)
    operator, cluster = manifests(tmp_path, servers[0], "edgefleet-rook-ceph.yaml")
    for chart in (operator, cluster):
        validate(chart)
    values = yaml.safe_load(cluster["spec"]["valuesContent"])
    spec = values.pop("cephClusterSpec")
    validate({"apiVersion": "ceph.rook.io/v1", "kind": "CephCluster", "metadata": {"name": "c"}, "spec": spec})
    assert spec["mon"]["count"] == (3 if count >= 3 else 1) and spec["mgr"]["count"] == (2 if count >= 3 else 1)
    assert [d["name"] for n in spec["storage"]["nodes"] for d in n["devices"]] == [
        "/dev/disk/by-id/nvme-IPC_SSD_%d" % i for i in range(count)]
    pools = values.pop("cephBlockPools")
    assert {p["spec"]["failureDomain"] for p in pools} == {"host" if count > 1 else "osd"}
    assert unknown_keys(values, chart_values("rook-ceph-cluster")) == []


def test_rook_below_three_nodes_is_refused_naming_the_cluster(tmp_path, ansible_env):
    inventory(tmp_path, 2, "rook_ceph", worker=False)
    rc, out = play(tmp_path, ansible_env, "rook_ceph")
    assert rc != 0
    assert "cluster line-1: rook_ceph needs at least 3 storage nodes" in out
    assert not list(tmp_path.glob("*/server"))


def test_local_storage_classes_on_a_single_node(tmp_path, ansible_env):
    (server,) = inventory(tmp_path, 1, "local", worker=False)
    converge_three_times(tmp_path, ansible_env, "local_storage")
    classes = manifests(tmp_path, server, "edgefleet-storage.yaml")
    assert sorted(c["metadata"]["name"] for c in classes) == ["durable", "fast-ssd", "replicated", "standard"]
    for cls in classes:
        validate(cls)
        assert cls["provisioner"] == "rancher.io/local-path"


def test_a_role_refuses_another_engines_cluster(tmp_path, ansible_env):
    inventory(tmp_path, 3, "rook_ceph", worker=False)
    rc, out = play(tmp_path, ansible_env, "longhorn")
    assert rc != 0 and "runs the storage engine rook_ceph, not longhorn" in out


INITIATOR_PLAY = """
- name: The initiator name of storage_prereqs
  hosts: all
  gather_facts: false
  tasks:
    - name: Give each node its own name
      ansible.builtin.include_role:
        name: edgefleet.platform.storage_prereqs
        tasks_from: initiator.yml
      vars:
        storage_prereqs_engine: longhorn
        # what facts.yml decides in a container: iscsid enabled, not started (nothing to restart)
        storage_prereqs_plan: {start: []}
"""
IMAGE_NAME = "iqn.1993-08.org.debian:01:7e3f00c1d2a4"  # what open-iscsi's postinst wrote into the golden image


@pytest.mark.skipif(os.geteuid() != 0, reason="the role writes the file as root")
def test_nodes_cloned_from_one_image_get_their_own_initiator_names(tmp_path, ansible_env):
    # storage_prereqs' initiator tasks on five local hosts, each with its own file: three clones
    # share the image's name, one has Debian's placeholder, one has no file; the name generator
    # is a strict test double of iscsi-iname (tests/fakes/iscsi_iname)
    fake = tmp_path / "bin" / "iscsi-iname"
    fake.parent.mkdir()
    fake.symlink_to(REPO_FAKE_INAME)
    files = {"ipc0": "InitiatorName=%s\n" % IMAGE_NAME, "ipc1": "## DO NOT EDIT\nInitiatorName=%s\n" % IMAGE_NAME,
             "ipc2": "InitiatorName=%s\n" % IMAGE_NAME, "ipc3": "GenerateName=yes\n", "ipc4": None}
    hosts = {}
    for name, text in files.items():
        path = tmp_path / ("%s.iscsi" % name)
        if text is not None:
            path.write_text(text)
        hosts[name] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                       "ztp_cluster": "line-1", "storage_prereqs_initiator_file": str(path),
                       "storage_prereqs_iscsi_iname": str(fake)}
    # a node of another cluster with the image's name: not line-1's concern
    hosts["edge0"] = dict(hosts["ipc0"], ztp_cluster="edge", storage_prereqs_initiator_file=str(tmp_path / "edge0.iscsi"))
    (tmp_path / "edge0.iscsi").write_text("InitiatorName=%s\n" % IMAGE_NAME)
    (tmp_path / "inventory.json").write_text(json.dumps({"all": {"hosts": hosts}}))
    (tmp_path / "play.yml").write_text(INITIATOR_PLAY)
    args = ["ansible-playbook", "-i", str(tmp_path / "inventory.json"), str(tmp_path / "play.yml")]

    def names():
        out = {}
        for name in hosts:
            path = tmp_path / ("%s.iscsi" % name)
            out[name] = path.read_text() if path.exists() else None
        return out

    before = names()
    proc = run(args + ["--check"], ansible_env)
    assert {h: r["changed"] for h, r in recap(proc.stdout).items()} == {
        "ipc0": 0, "ipc1": 1, "ipc2": 1, "ipc3": 1, "ipc4": 1, "edge0": 0}, proc.stdout
    assert names() == before  # check mode wrote nothing
    proc = run(args, ansible_env)
    assert "ipc2: initiator name %s is shared with ipc0, ipc1 (clones of one image): a new name is generated" % IMAGE_NAME \
        in proc.stdout
    assert "ipc3: %s holds the placeholder GenerateName=yes: a new name is generated" % (tmp_path / "ipc3.iscsi") in proc.stdout
    assert "ipc4: %s is missing: a new name is generated" % (tmp_path / "ipc4.iscsi") in proc.stdout
    after = names()
    line1 = [after[h].rsplit("InitiatorName=", 1)[1].strip() for h in ("ipc0", "ipc1", "ipc2", "ipc3", "ipc4")]
    assert len(set(line1)) == 5 and line1[0] == IMAGE_NAME  # the first clone kept the image's name
    assert all(n.startswith("iqn.1993-08.org.debian:01:") for n in line1)  # Debian's prefix, iscsi-iname's format
    assert after["edge0"] == before["edge0"] and after["ipc0"] == before["ipc0"]
    for host in ("ipc1", "ipc4"):
        mode = (tmp_path / ("%s.iscsi" % host)).stat().st_mode & 0o777
        assert mode == 0o600 and after[host].startswith("## DO NOT EDIT OR REMOVE THIS FILE!\n")
    for more in ([], ["--check"]):
        again = run(args + more, ansible_env)
        assert all(h["changed"] == 0 for h in recap(again.stdout).values()), again.stdout
    assert names() == after
