# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage stage play through ansible-playbook, on SQLite and PostgreSQL, with
this machine as a single-node site's IPC (connection local; the K3s data dir is a
temporary folder): the local classes land, the record keeps platform_ready and
gets facts.storage beside the discover facts, a re-run and --check change nothing;
a refused engine is recorded as a failure of the storage stage with the reason; the
read-back is recorded (not observable for local storage) and a Longhorn node that does
not show iscsid fails the stage, the reason naming the node."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.tests.integration.helpers import recap, run
from ansible_collections.edgefleet.platform.tests.integration.test_ztp_stage import _import, _inventory, _move, _states

STAGE = os.path.join(os.path.dirname(__file__), "..", "..", "playbooks", "stages", "storage.yml")
HOST = "plant-a-c-ipc1"  # IPC-1's host name (the hostname rule)
HEALTH = os.path.join(os.path.dirname(__file__), "playbooks", "storage_health_stage.yml")


def _ready(db_url):
    _import(db_url, [{"serial": "IPC-1", "mac": "02:00:00:00:00:01", "site": "plant-a", "cluster": "line-1",
                      "role": "control"}])
    with ZtpStore(db_url) as store:
        store.record_stage("discover", [{"serial": "IPC-1", "facts": {"nics": [{"name": "eth0"}]}}], "test")
    _move(db_url, "IPC-1", "os_installed", "configured", "platform_ready")


def test_storage_stage_on_a_single_node_site(tmp_path, ansible_env, db_url):
    _ready(db_url)
    args = ["ansible-playbook", "-i", _inventory(tmp_path, db_url, local=["IPC-1"]), STAGE,
            "-e", "edgefleet_ztp_database=%s" % db_url, "-e", "local_storage_k3s_data_dir=%s" % (tmp_path / "k3s")]
    run(args + ["--check"], ansible_env)  # a fresh site in check mode: nothing written
    assert "storage" not in _states(db_url)["IPC-1"]["facts"]
    assert not (tmp_path / "k3s").exists()
    proc = run(args, ansible_env)
    assert "compliance_logs -> class durable on local: cannot give replication" in proc.stdout, proc.stdout
    device = _states(db_url)["IPC-1"]
    assert device["state"] == "platform_ready" and [e["to"] for e in device["events"]][-1] == "platform_ready"
    storage = device["facts"]["storage"]
    assert device["facts"]["nics"] == [{"name": "eth0"}]
    assert (storage["engine"], storage["storage_node"], storage["copies"], storage["dedicated_disk"]) == ("local", True, 1, False)
    assert sorted(storage["classes"]) == ["application_logs", "compliance_logs", "configuration", "telemetry_buffer"]
    assert storage["classes"]["telemetry_buffer"]["unmet"] == []
    assert storage["classes"]["configuration"]["unmet"]
    # read back: local storage has nothing to read on the node, no Longhorn volumes to read
    assert storage["health"] == {
        "node": {"read": "not observable here: local storage (K3s's local-path provisioner) runs no daemon or kernel"
                         " module to read"},
        "volumes": {"observable": False, "why": "not observable here: local has no Longhorn volumes"}}
    classes = list(yaml.safe_load_all((tmp_path / "k3s" / "server" / "manifests" / "edgefleet-storage.yaml").read_text()))
    assert sorted(c["metadata"]["name"] for c in classes) == ["durable", "fast-ssd", "replicated", "standard"]
    for more in ([], ["--check"]):
        again = run(args + more, ansible_env)
        assert all(h["changed"] == 0 for h in recap(again.stdout).values()), again.stdout
    assert _states(db_url)["IPC-1"] == device


def test_a_refused_engine_fails_the_storage_stage(tmp_path, ansible_env, db_url):
    _ready(db_url)
    args = ["ansible-playbook", "-i", _inventory(tmp_path, db_url, local=["IPC-1"]), STAGE,
            "-e", "edgefleet_ztp_database=%s" % db_url, "-e", "edgefleet_storage_engine=rook_ceph"]
    proc = run(args, ansible_env, check=False)
    assert proc.returncode == 0, proc.stdout  # ended, not failed: the summary play fails a run
    device = _states(db_url)["IPC-1"]
    assert (device["state"], device["failed_stage"]) == ("failed", "storage")
    assert "cluster line-1: rook_ceph needs at least 3 storage nodes" in device["failure_reason"]
    assert "storage" not in device["facts"]


@pytest.mark.skipif(bool(shutil.which("iscsid") or os.path.exists("/etc/iscsi/initiatorname.iscsi")),
                    reason="this machine has open-iscsi: the read-back would find it")
def test_a_longhorn_node_without_iscsid_fails_the_storage_stage_naming_it(tmp_path, ansible_env, db_url):
    # the stage's read-back on this machine, which has no open-iscsi: the probe runs (read only) and
    # storage_node_health names the node and what is wrong; the stage's rescue and write-back record it
    _ready(db_url)
    plan = {"engine": "longhorn", "storage_nodes": [HOST], "disks": {HOST: []}}
    args = ["ansible-playbook", "-i", _inventory(tmp_path, db_url, local=["IPC-1"]), HEALTH,
            "-e", "edgefleet_ztp_database=%s" % db_url, "-e", json.dumps({"storage_test_plan": plan})]
    proc = run(args, ansible_env, check=False)
    assert proc.returncode == 0, proc.stdout
    device = _states(db_url)["IPC-1"]
    assert (device["state"], device["failed_stage"]) == ("failed", "storage"), device
    reason = device["failure_reason"]
    assert reason.startswith("The node shows what its engine needs: node %s: iscsid is not installed, " % HOST), reason
    assert "node %s: iscsid is not installed, not enabled at boot" % HOST in reason
    assert "node %s: no valid iSCSI initiator name in /etc/iscsi/initiatorname.iscsi" % HOST in reason
    assert "storage" not in device["facts"]


def test_the_read_back_of_a_longhorn_cluster_without_a_kubeconfig_says_its_volumes_are_not_observable(
        tmp_path, ansible_env, db_url):
    # a worker that holds no storage: nothing read on it, the record says so and why the volumes are not
    _ready(db_url)
    plan = {"engine": "longhorn", "storage_nodes": ["plant-a-c-ipc9"], "disks": {}}
    args = ["ansible-playbook", "-i", _inventory(tmp_path, db_url, local=["IPC-1"]), HEALTH,
            "-e", "edgefleet_ztp_database=%s" % db_url, "-e", json.dumps({"storage_test_plan": plan})]
    run(args, ansible_env)
    device = _states(db_url)["IPC-1"]
    assert device["state"] == "platform_ready", device
    assert device["facts"]["storage"]["health"] == {
        "node": {"read": "not a storage node: longhorn keeps no data here"},
        "volumes": {"observable": False,
                    "why": "not observable here: no kubeconfig (longhorn_kubeconfig) to read Longhorn's volumes through the API"}}


def test_a_failed_read_of_longhorns_volumes_is_recorded_as_not_observable(tmp_path, ansible_env, db_url):
    # a kubeconfig is given: kubernetes.core.k8s_info reads the volumes once per cluster from the controller;
    # here it cannot (no kubernetes client, no API), and the record says so instead of failing the device
    _ready(db_url)
    plan = {"engine": "longhorn", "storage_nodes": ["plant-a-c-ipc9"], "disks": {}}
    args = ["ansible-playbook", "-i", _inventory(tmp_path, db_url, local=["IPC-1"]), HEALTH,
            "-e", "edgefleet_ztp_database=%s" % db_url, "-e", json.dumps({"storage_test_plan": plan}),
            "-e", "longhorn_kubeconfig=%s" % (tmp_path / "line-1.kubeconfig")]
    run(args, ansible_env)
    device = _states(db_url)["IPC-1"]
    assert device["state"] == "platform_ready", device
    volumes = device["facts"]["storage"]["health"]["volumes"]
    assert volumes["observable"] is False
    assert volumes["why"].startswith("not observable here: reading Longhorn's volumes failed: "), volumes
