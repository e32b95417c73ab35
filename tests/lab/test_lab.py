# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main job end to end, and every role's checks on one converged fleet.

Lab up (tests/lab/fleet.yml: a single-node site, and a multi-node site with three
control IPCs and a worker, and the fake ARM, the lab's stand-in for Azure); site.yml
once, through the cloud stage to workloads_deployed; then the check suites
of molecule/resources/checks/ against that fleet (the Molecule scenarios share them):
discover, hardening, K3s, storage and cloud on both clusters, the API VIP's failover, the upgrade of the
fleet to a second K3s version and the downgrade back refused, the reset of the worker
and its rejoin; then site.yml again with zero changes and in check mode with zero
changes, on the upgraded version (ARM gets reads only); the K3s checks once more; lab
down. The tests run in this order and share the fleet.

The worker is reset, not a server: the agent's install, upgrade and rejoin are checked
only here, and a worker's reset and rejoin cost less than a server's.

Every ansible-playbook run of the test is logged (tests/output/lab/ in the tree: the
output with -vv, and every task's result and arguments by the log_plays callback),
and the last K3s checks search all of it for the cluster tokens.
Runs from the collection tree `make lab-test` copies (.build/...), so its lab state
(.lab/) and containers (edgefleet-labtest-*) are its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.tests.integration.helpers import recap

TREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FLEET = os.path.join(TREE, "tests", "lab", "fleet.yml")
STATE = os.path.join(TREE, ".lab")
CHECKS = os.path.join(TREE, "molecule", "resources", "checks")
LOGS = os.path.join(TREE, "tests", "output", "lab")
SITE = ("playbooks/site.yml", "-i", "inventories/lab/lab.ztp.yml")
ARM = os.path.join(STATE, "arm")
sys.path.insert(0, os.path.join(TREE, "tests", "fakes", "arm"))
from client import control  # noqa: E402  (the fake ARM's control endpoints)

with open(os.path.join(TREE, "roles", "k3s", "defaults", "main.yml")) as _f:
    K3S_FIRST = yaml.safe_load(_f)["k3s_version"]
with open(FLEET) as _f:
    K3S_UPGRADE_TO = yaml.safe_load(_f)["lab_k3s_upgrade_to"]

EVENTS = [("registered", "registered by make lab"), ("discovered", "discover stage"),
          ("os_installed", "OS found installed by the configure stage"), ("configured", "configure stage"),
          ("platform_ready", "platform stage"), ("workloads_deployed", "cloud stage")]
# ARM requests up to the end of the first site.yml run (the re-runs may only read)
ARM_SEEN = {}


def arm_env():
    """The fake ARM's endpoint, CA and throw-away credentials, as lab/up.yml wrote them (0600)."""
    path = os.path.join(ARM, "env")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return dict(line.strip().split("=", 1) for line in f if line.strip() and not line.startswith("#"))


def arm(method, path):
    env = arm_env()
    return control(env["EDGEFLEET_ARM_ENDPOINT"], env["EDGEFLEET_ARM_CA_BUNDLE"], method, path)


def play(*args):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", CONTAINERS_CONF=os.path.join(TREE, "lab", "containers.conf"),
               ANSIBLE_LOG_PATH=os.path.join(LOGS, "ansible.log"), ANSIBLE_LOG_VERBOSITY="2",
               ANSIBLE_CALLBACKS_ENABLED="community.general.log_plays", ANSIBLE_LOG_FOLDER=os.path.join(LOGS, "results"),
               **arm_env())
    proc = subprocess.run(["ansible-playbook"] + list(args), cwd=TREE, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=1800, check=False)
    return proc.returncode, proc.stdout


def check(suite, *extra):
    """Run molecule/resources/checks/<suite>.yml against the lab fleet; fail with its output."""
    rc, out = play(os.path.join(CHECKS, suite + ".yml"), "-i", "inventories/lab/lab.ztp.yml", *extra)
    assert rc == 0, out[-20000:]
    return out


def podman(*args):
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(TREE, "lab", "containers.conf"))
    return subprocess.run(["podman"] + list(args), env=env, stdout=subprocess.PIPE, text=True, check=True).stdout


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def fleet_records():
    with ZtpStore("sqlite:///%s/ztp.db" % STATE) as store:
        return store.devices(with_events=True)


@pytest.fixture(scope="module")
def lab():
    shutil.rmtree(LOGS, ignore_errors=True)
    os.makedirs(LOGS)
    try:
        rc, out = play("lab/up.yml", "-e", "lab_fleet=%s" % FLEET)
        assert rc == 0, out
        yield
    finally:
        # also after a failed bring-up: leave no containers behind
        play("lab/down.yml", "-e", "lab_fleet=%s" % FLEET)


def test_site_takes_every_ipc_to_workloads_deployed(lab):
    rc, out = play(*SITE)
    assert rc == 0, out
    devices = fleet_records()
    assert len(devices) == 5
    assert sorted(d["role"] for d in devices) == ["control"] * 4 + ["worker"]
    for device in devices:
        assert device["state"] == "workloads_deployed", device
        assert [(e["to"], e["reason"]) for e in device["events"]] == EVENTS
        assert device["events"][3]["by"] == "edgefleet.platform configure stage"
        assert device["events"][4]["by"] == "edgefleet.platform platform stage"
        assert device["events"][5]["by"] == "edgefleet.platform cloud stage"
    # progress and the summary are visible
    for stage in ("Discover", "Configure", "Platform", "Storage", "Cloud"):
        assert "%s | topology_single_node" % stage in out and "%s | topology_multi_node" % stage in out
    assert "Devices per state" in out and '"workloads_deployed": 5' in out
    ARM_SEEN["requests"] = len(arm("GET", "/_fake/log")["requests"])
    # the storage stage says what each site gets: the lab's IPCs have no extra disk
    assert "Longhorn keeps its data under /var/lib/longhorn on the root disk" in out
    assert "compliance_logs -> class durable on local: cannot give replication" in out
    # every IPC hardened with no failed control
    reports = os.path.join(STATE, "reports", "os_hardening")
    assert len(os.listdir(reports)) == 5
    for name in os.listdir(reports):
        with open(os.path.join(reports, name)) as f:
            report = json.load(f)
        assert report["failed_ids"] == [], report
        assert report["kubernetes_node"] is True


def test_discover_checks(lab):
    check("discover", "-e", "check_discover_state=workloads_deployed")


# HOOK (hardening): molecule/resources/checks/os_hardening.yml, the os_hardening role's
# effect checks, is written on another branch; once merged, it runs here against the
# converged fleet. Until then this test is skipped, saying so.
def test_hardening_checks(lab):
    if not os.path.exists(os.path.join(CHECKS, "os_hardening.yml")):
        pytest.skip("molecule/resources/checks/os_hardening.yml does not exist yet")
    check("os_hardening")


def test_k3s_checks_on_both_clusters(lab):
    check("k3s", "-e", "k3s_version=%s" % K3S_FIRST)


def test_storage_checks_on_both_clusters(lab):
    # Longhorn's HelmChart on the multi-node site (four storage nodes: 3 replicas), the local classes
    # on the single-node one, the prerequisites on the nodes, the storage in every record
    check("storage")


def test_cloud_checks_on_both_clusters(lab):
    # checks/cloud.yml: ARM (through the _info modules) has each cluster Connected, its flux extension and its
    # Compliant configuration with the cluster's fleet path; the agents' HelmChart and Secret on the lead only;
    # kubectl's NotFound for the Arc ConfigMap (no agents run here); the breakers closed in the inventory;
    # every record workloads_deployed by the cloud stage
    check("cloud")
    # the fake's own view: one of each resource per cluster, each created once, never a request off the spec
    resources = arm("GET", "/_fake/resources")
    log = arm("GET", "/_fake/log")
    assert log["violations"] == []
    clusters = {"labtest-single-edge", "labtest-multi-line1"}
    for marker in ("/connectedclusters/", "/extensions/", "/fluxconfigurations/"):
        assert set(k.split("/connectedclusters/")[1].split("/")[0] for k in resources if marker in k
                   and k.count("/providers/") == (1 if marker == "/connectedclusters/" else 2)) == clusters, resources.keys()
    puts = [r["path"].rsplit("/", 1)[-1] for r in log["requests"] if r["method"] == "PUT"
            and r["path"].lower().endswith(tuple("/microsoft.kubernetes/connectedclusters/" + c for c in clusters))]
    assert sorted(puts) == sorted(clusters)  # once per cluster, not per node


def test_api_vip_failover(lab):
    check("api_vip")


def test_cold_start_of_the_ha_cluster(lab):
    # every server of the multi-node cluster stopped (a power cut): one platform run brings it back
    out = check("k3s_upgrade", "-e", "check_cold_start=true", "-e", "k3s_version=%s" % K3S_FIRST)
    assert "cold start of 3 servers by the platform stage took" in out, out[-5000:]


def test_upgrade_of_the_fleet(lab):
    # with one server down it is refused at the first server's gate, before anything restarts
    check("k3s_upgrade", "-e", "check_member_down_to=%s" % K3S_UPGRADE_TO)
    check("k3s_upgrade", "-e", "check_upgrade_to=%s" % K3S_UPGRADE_TO)
    # and back is refused, before anything restarts
    check("k3s_upgrade", "-e", "check_downgrade_to=%s" % K3S_FIRST)


def test_reset_and_rejoin_of_the_worker(lab):
    check("k3s_reset", "-e", "check_reset_hosts=role_worker", "-e", "k3s_version=%s" % K3S_UPGRADE_TO)


# The fleet now runs the upgraded version: the re-runs pin it, as the operator does
# after an upgrade (site.yml with the old pin would try to take the nodes back).
def test_second_run_changes_nothing(lab):
    rc, out = play(*SITE, "-e", "k3s_version=%s" % K3S_UPGRADE_TO)
    assert rc == 0, out
    assert len(recap(out)) >= 5 and all(host["changed"] == 0 for host in recap(out).values()), out


def test_check_mode_is_clean(lab):
    rc, out = play(*SITE, "--check", "-e", "k3s_version=%s" % K3S_UPGRADE_TO)
    assert rc == 0, out
    assert len(recap(out)) >= 5 and all(host["changed"] == 0 for host in recap(out).values()), out
    # after the checks and the day 2 runs, every record is as site.yml left it
    for device in fleet_records():
        assert device["state"] == "workloads_deployed", device
        assert [(e["to"], e["reason"]) for e in device["events"]] == EVENTS
    # the re-run and --check only read ARM (the Arc ConfigMap NotFound, the resource with our key: no change)
    later = arm("GET", "/_fake/log")["requests"][ARM_SEEN["requests"]:]
    assert later and [r for r in later if r["method"] != "GET"] == [], later


# Last of the checks: the clusters after the day 2 runs, and no token in the logs of any run.
def test_k3s_checks_after_everything(lab):
    check("k3s", "-e", "k3s_version=%s" % K3S_UPGRADE_TO)


def test_lab_down_removes_everything(lab):
    with open(os.path.join(ARM, "pid"), encoding="utf-8") as f:
        fake_pid = int(f.read())
    rc, out = play("lab/down.yml", "-e", "lab_fleet=%s" % FLEET)
    assert rc == 0, out
    assert not alive(fake_pid)  # the fake ARM stopped
    names = [c["Names"][0] for c in json.loads(podman("ps", "-a", "--format", "json"))]
    assert not [n for n in names if n.startswith("edgefleet-labtest-")]
    assert not [n for n in podman("network", "ls", "--format", "{{.Name}}").split() if n.startswith("edgefleet-labtest-")]
    assert not os.path.exists(STATE)
