# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main job end to end: lab up, site.yml (discover, configure, K3s), re-run,
check mode, lab down.

Runs from the collection tree `make lab-test` copies (.build/...), so its lab
state (.lab/) and containers (edgefleet-labtest-*) are its own.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import urllib.request

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.tests.integration.helpers import recap

TREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FLEET = os.path.join(TREE, "tests", "lab", "fleet.yml")
STATE = os.path.join(TREE, ".lab")


def play(*args):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", CONTAINERS_CONF=os.path.join(TREE, "lab", "containers.conf"))
    proc = subprocess.run(["ansible-playbook"] + list(args), cwd=TREE, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=1200, check=False)
    return proc.returncode, proc.stdout


def podman(*args):
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(TREE, "lab", "containers.conf"))
    return subprocess.run(["podman"] + list(args), env=env, stdout=subprocess.PIPE, text=True, check=True).stdout


@pytest.fixture(scope="module")
def lab():
    try:
        rc, out = play("lab/up.yml", "-e", "lab_fleet=%s" % FLEET)
        assert rc == 0, out
        yield
    finally:
        # also after a failed bring-up: leave no containers behind
        play("lab/down.yml", "-e", "lab_fleet=%s" % FLEET)


SITE = ("playbooks/site.yml", "-i", "inventories/lab/lab.ztp.yml")


def kube_get(kubeconfig_path, path):
    """GET an API path the way kubectl would with this kubeconfig (the K3s test
    double's kubeconfig carries a bearer token; TLS is verified against its CA)."""
    with open(kubeconfig_path) as f:
        config = yaml.safe_load(f)
    cluster = config["clusters"][0]["cluster"]
    context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    request = urllib.request.Request(cluster["server"] + path,
                                     headers={"Authorization": "Bearer " + config["users"][0]["user"]["token"]})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return cluster["server"], json.load(response)


def test_site_takes_every_ipc_to_platform_ready(lab):
    rc, out = play(*SITE)
    assert rc == 0, out
    with ZtpStore("sqlite:///%s/ztp.db" % STATE) as store:
        devices = store.devices(with_events=True)
    assert len(devices) == 4
    for device in devices:
        assert device["state"] == "platform_ready", device
        assert device["hardware"]["cpu_cores"] >= 1 and device["hardware"]["memory_mb"] > 0
        assert device["facts"]["serial_source"] == "machine-id"
        assert [(e["to"], e["reason"]) for e in device["events"]] == [
            ("registered", "registered by make lab"), ("discovered", "discover stage"),
            ("os_installed", "OS found installed by the configure stage"), ("configured", "configure stage"),
            ("platform_ready", "platform stage")]
        assert device["events"][1]["by"] == "edgefleet.platform discover stage"
        assert device["events"][3]["by"] == "edgefleet.platform configure stage"
        assert device["events"][4]["by"] == "edgefleet.platform platform stage"
    # progress and the summary are visible
    for stage in ("Discover", "Configure", "Platform"):
        assert "%s | topology_single_node" % stage in out and "%s | topology_multi_node" % stage in out
    assert "Devices per state" in out and '"platform_ready": 4' in out
    # every IPC hardened with no failed control
    reports = os.path.join(STATE, "reports", "os_hardening")
    for name in os.listdir(reports):
        with open(os.path.join(reports, name)) as f:
            report = json.load(f)
        assert report["failed_ids"] == [], report
        assert report["kubernetes_node"] is True
    # each cluster's kubeconfig is on the controller (0600) and its API lists its
    # nodes, Ready; the multi-node cluster's through its API VIP (.250 of its network)
    by_cluster = {}
    for device in devices:
        by_cluster.setdefault(device["cluster"], []).append(device)
    for cluster, members in by_cluster.items():
        kubeconfig = os.path.join(STATE, "kubeconfig", cluster + ".yaml")
        assert os.stat(kubeconfig).st_mode & 0o777 == 0o600
        server, nodes = kube_get(kubeconfig, "/api/v1/nodes")
        names = sorted(n["metadata"]["name"] for n in nodes["items"])
        assert names == sorted(d["hostname"] for d in members), (cluster, names)
        for node in nodes["items"]:
            ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"]
            assert ready == ["True"], node
            assert node["metadata"]["labels"]["edgefleet.io/cluster"] == cluster
            assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"
        if len(members) > 1:
            assert server.endswith(".250:6443"), server
            assert len(members) == 3 and all(
                node["metadata"]["labels"].get("node-role.kubernetes.io/etcd") == "true" for node in nodes["items"])


def test_second_run_changes_nothing(lab):
    rc, out = play(*SITE)
    assert rc == 0, out
    assert all(host["changed"] == 0 for host in recap(out).values()), out


def test_check_mode_is_clean(lab):
    rc, out = play(*SITE, "--check")
    assert rc == 0, out
    assert all(host["changed"] == 0 for host in recap(out).values()), out


def test_lab_down_removes_everything(lab):
    rc, out = play("lab/down.yml", "-e", "lab_fleet=%s" % FLEET)
    assert rc == 0, out
    names = [c["Names"][0] for c in json.loads(podman("ps", "-a", "--format", "json"))]
    assert not [n for n in names if n.startswith("edgefleet-labtest-")]
    assert not [n for n in podman("network", "ls", "--format", "{{.Name}}").split() if n.startswith("edgefleet-labtest-")]
    assert not os.path.exists(STATE)
