# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main job end to end, and every role's checks on one converged fleet.

Lab up (tests/lab/fleet.yml: two single-node sites, and a multi-node site with three
control IPCs and a worker, and the fake ARM, the lab's stand-in for Azure); site.yml
with the fake ARM down (its port closed): every site finishes its local stages and is
local only, its breaker open in the ZTP database, its devices platform_ready; the
cloud stage again on the open breakers, failing fast (timed); then, the fake back and
the breaker's timeout passed, site.yml goes half-open, closed, and takes every IPC to
workloads_deployed; then the check suites
of molecule/resources/checks/ against that fleet (the Molecule scenarios share them):
discover, hardening, K3s, storage and cloud on every cluster, the API VIP's failover, the upgrade of the
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
import time
from datetime import datetime, timezone

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_breakers
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
# ARM requests up to the end of the site.yml run that connected the fleet (the re-runs may only read)
ARM_SEEN = {}
SITES = ("labtest-multi", "labtest-single", "labtest-spoke")
CLUSTERS = {"labtest-single-edge", "labtest-multi-line1", "labtest-spoke-edge"}
# The breaker settings of the run with the fake ARM down: it opens at the first outage and
# waits long enough for the fail-fast run and the hardening checks, which run while it waits
BREAKER_DOWN = ("-e", "arc_connect_breaker_threshold=1", "-e", "arc_connect_breaker_timeout=240")


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


def fake_arm(action):
    """Start or stop the lab's fake ARM (tests/fakes/arm/daemon.py): a start serves on a new port, .lab/arm/env says which."""
    return subprocess.run([sys.executable, os.path.join(TREE, "tests", "fakes", "arm", "daemon.py"), action, "--dir", ARM],
                          stdout=subprocess.PIPE, text=True, check=True).stdout.strip()


def arm_breakers():
    with ZtpStore("sqlite:///%s/ztp.db" % STATE) as store:
        return dict((b["site"], b) for b in ztp_breakers.breakers(store) if b["dependency"] == "arm")


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


def test_site_with_the_cloud_down_finishes_every_site_locally(lab):
    assert fake_arm("stop") == "stopped"  # its port closed; .lab/arm/env still points there
    rc, out = play(*SITE, *BREAKER_DOWN)
    assert rc == 0, out
    devices = fleet_records()
    assert len(devices) == 6
    assert sorted(d["role"] for d in devices) == ["control"] * 5 + ["worker"]
    for device in devices:
        assert device["state"] == "platform_ready", device
        assert [(e["to"], e["reason"]) for e in device["events"]] == EVENTS[:-1]
        assert device["events"][3]["by"] == "edgefleet.platform configure stage"
        assert device["events"][4]["by"] == "edgefleet.platform platform stage"
    for site in SITES:
        assert "%s: local only" % site in out
    assert dict((site, b["state"]) for site, b in arm_breakers().items()) == dict((site, "open") for site in SITES)
    # progress and the summary are visible
    for stage in ("Discover", "Configure", "Platform", "Storage"):
        assert "%s | topology_single_node" % stage in out and "%s | topology_multi_node" % stage in out
    assert "Cloud | topology_single_node:topology_multi_node" in out
    assert "Devices per state" in out and '"platform_ready": 6' in out
    assert "local only: %s" % ", ".join(SITES) in out
    # the storage stage says what each site gets: the lab's IPCs have no extra disk
    assert "Longhorn keeps its data under /var/lib/longhorn on the root disk" in out
    assert "compliance_logs -> class durable on local: cannot give replication" in out
    # every IPC hardened with no failed control
    reports = os.path.join(STATE, "reports", "os_hardening")
    assert len(os.listdir(reports)) == 6
    for name in os.listdir(reports):
        with open(os.path.join(reports, name)) as f:
            report = json.load(f)
        assert report["failed_ids"] == [], report
        assert report["kubernetes_node"] is True


def test_an_open_breaker_fails_fast(lab):
    # the cloud stage alone, on the open breakers: no call leaves, nothing waits on a timeout
    start = time.monotonic()
    rc, out = play("playbooks/stages/cloud.yml", "-i", "inventories/lab/lab.ztp.yml")
    seconds = time.monotonic() - start
    assert rc == 0, out
    assert all("%s: local only (the arm breaker of site %s is open: cloud calls fail fast" % (site, site) in out
               for site in SITES), out[-5000:]
    assert set(d["state"] for d in fleet_records()) == {"platform_ready"}
    assert set(b["state"] for b in arm_breakers().values()) == {"open"}
    print("\nlab, 3 sites: the cloud stage on open breakers took %.1f s (fail fast)" % seconds)


# While the breakers wait for their timeout: the hardening checks need no cloud.
def test_hardening_checks(lab):
    check("os_hardening")


def test_site_with_the_cloud_back_takes_every_ipc_to_workloads_deployed(lab):
    assert fake_arm("start") == "started"
    retry = max(b["next_retry"] for b in arm_breakers().values())
    wait = (datetime.strptime(retry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) - datetime.now(timezone.utc)).total_seconds()
    time.sleep(max(0.0, wait + 1))
    rc, out = play(*SITE)
    assert rc == 0, out
    for device in fleet_records():
        assert device["state"] == "workloads_deployed", device
        assert [(e["to"], e["reason"]) for e in device["events"]] == EVENTS
        assert device["events"][5]["by"] == "edgefleet.platform cloud stage"
    assert '"workloads_deployed": 6' in out
    # half-open: one trial call per site, which succeeded and closed it
    assert dict((site, (b["state"], b["failures"])) for site, b in arm_breakers().items()) == dict((s, ("closed", 0)) for s in SITES)
    ARM_SEEN["requests"] = len(arm("GET", "/_fake/log")["requests"])
    print("\nlab, 3 sites: %.0f s waited for the breakers' timeout" % max(0.0, wait))


def test_discover_checks(lab):
    check("discover", "-e", "check_discover_state=workloads_deployed")


def test_k3s_checks_on_every_cluster(lab):
    check("k3s", "-e", "k3s_version=%s" % K3S_FIRST)


def test_storage_checks_on_every_cluster(lab):
    # Longhorn's HelmChart on the multi-node site (four storage nodes: 3 replicas), the local classes
    # on the single-node one, the prerequisites on the nodes, the storage in every record
    check("storage")


def test_cloud_checks_on_every_cluster(lab):
    # checks/cloud.yml: ARM (through the _info modules) has each cluster Connected, its flux extension and its
    # Compliant configuration with the cluster's fleet path; the agents' HelmChart and Secret on the lead only;
    # kubectl's NotFound for the Arc ConfigMap (no agents run here); the breakers closed in the inventory;
    # every record workloads_deployed by the cloud stage
    check("cloud")
    # the fake's own view: one of each resource per cluster, each created once, never a request off the spec
    resources = arm("GET", "/_fake/resources")
    log = arm("GET", "/_fake/log")
    assert log["violations"] == []
    clusters = CLUSTERS
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
