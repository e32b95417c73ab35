# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main job end to end: lab up, site.yml, re-run, check mode, lab down.

Runs from the collection tree `make lab-test` copies (.build/...), so its lab
state (.lab/) and containers (edgefleet-labtest-*) are its own.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

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


def test_site_discovers_and_configures_every_ipc(lab):
    rc, out = play(*SITE)
    assert rc == 0, out
    with ZtpStore("sqlite:///%s/ztp.db" % STATE) as store:
        devices = store.devices(with_events=True)
    assert len(devices) == 4
    for device in devices:
        assert device["state"] == "configured", device
        assert device["hardware"]["cpu_cores"] >= 1 and device["hardware"]["memory_mb"] > 0
        assert device["facts"]["serial_source"] == "machine-id"
        assert [(e["to"], e["reason"]) for e in device["events"]] == [
            ("registered", "registered by make lab"), ("discovered", "discover stage"),
            ("os_installed", "OS found installed by the configure stage"), ("configured", "configure stage")]
        assert device["events"][1]["by"] == "edgefleet.platform discover stage"
        assert device["events"][3]["by"] == "edgefleet.platform configure stage"
    # progress and the summary are visible
    assert "Discover | topology_multi_node" in out and "Configure | topology_multi_node" in out
    assert "Devices per state" in out and '"configured": 4' in out
    # every IPC hardened with no failed control
    reports = os.path.join(STATE, "reports", "os_hardening")
    for name in os.listdir(reports):
        with open(os.path.join(reports, name)) as f:
            report = json.load(f)
        assert report["failed_ids"] == [], report
        assert report["kubernetes_node"] is True


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
