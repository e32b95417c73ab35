# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The orchestrator through its program (roles/ztp_orchestrator/files/edgefleet_orchestrator.py, what the
role's unit runs), on SQLite and PostgreSQL.

Devices phone home through the boot server's store API (BootStore.phone_home:
the token issued with the answer file, then the os_install stage's write).
The played playbook is tests/integration/playbooks/orchestrated.yml, a stand-in
for site.yml that records every invocation per host (start and end times, and the
run's folder) and can hold a host until the test opens its gate; the last test
runs the real site.yml instead. The orchestrator runs it through ansible-runner,
limited to the claimed devices, exactly as it runs site.yml.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils import orchestrator as rules
from ansible_collections.edgefleet.platform.plugins.module_utils import orchestrator_service
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_store import BootStore
from ansible_collections.edgefleet.platform.plugins.module_utils.orchestrator_store import RunStore
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore

REPO = os.environ.get("EDGEFLEET_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAYBOOK = os.path.join(REPO, "tests", "integration", "playbooks", "orchestrated.yml")
PROGRAM = os.path.join(REPO, "roles", "ztp_orchestrator", "files", "edgefleet_orchestrator.py")


def register(url, sites):
    """Devices planned for a network install, {site: count}; serials SN-<site letter><n>."""
    devices = []
    for index, (site, count) in enumerate(sorted(sites.items())):
        for n in range(1, count + 1):
            devices.append({"serial": "SN-%s%d" % (site[-1].upper(), n), "mac": "52:54:00:0d:%02x:%02x" % (index, n), "site": site,
                            "role": "worker", "labels": {"edgefleet.io/install": "image"}})
    with ZtpStore(url) as store:
        store.import_data({"regions": ["emea"], "devices": devices,
                           "sites": [{"name": s, "region": "emea", "topology": "single_node"} for s in sorted(sites)]}, "test")
    return devices


def phone_home(url, devices):
    """Each device's install ends: its one-time token, then the phone-home the boot server takes."""
    with ZtpStore(url) as store:
        boot = BootStore(store)
        for dev in devices:
            token = boot.issue_token(dev["serial"], dev["mac"])
            out = boot.phone_home({"token": token, "serial": dev["serial"], "macs": [dev["mac"]], "hardware": {"cpu_cores": 4},
                                   "facts": {}, "ssh_host_keys": []})
            assert out["state"] == "os_installed"


class Orchestrator:
    def __init__(self, url, tmp_path, playbook=PLAYBOOK, **settings):
        self.url = url
        self.tmp = tmp_path
        self.record = tmp_path / "record.log"
        self.gates = tmp_path / "gates"
        self.gates.mkdir(exist_ok=True)
        inventory = tmp_path / "fleet.ztp.yml"
        inventory.write_text(yaml.safe_dump({
            "plugin": "edgefleet.platform.ztp",
            "compose": {"ansible_connection": "'local'", "ansible_python_interpreter": "'%s'" % sys.executable}}))
        config = {"state_dir": str(tmp_path / "state"), "inventory": str(inventory), "playbook": playbook, "poll_seconds": 1,
                  "settle_seconds": 0, "lease_seconds": 10,
                  "extravars": {"record_file": str(self.record), "gate_dir": str(self.gates), "hold_seconds": 60}}
        config.update(settings)
        self.config = tmp_path / "orchestrator.json"
        self.config.write_text(json.dumps(config))
        self.env = dict(os.environ, EDGEFLEET_ZTP_DB=url, ANSIBLE_HOME=str(tmp_path / "ansible-home"),
                        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_NOCOLOR="1")
        self.procs = []

    def start(self):
        log = open(self.tmp / ("serve-%d.log" % len(self.procs)), "w")
        proc = subprocess.Popen([sys.executable, PROGRAM, "--config", str(self.config), "serve"], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)

    def logs(self):
        return "".join((self.tmp / ("serve-%d.log" % i)).read_text() for i in range(len(self.procs)))

    def lines(self):
        return [line.split() for line in self.record.read_text().splitlines()] if self.record.exists() else []

    def starts(self):
        out = {}
        for line in self.lines():
            if line[0] == "start":
                out.setdefault(line[1], []).append(float(line[2]))
        return out

    def open_gate(self, host):
        (self.gates / host).write_text("go")

    def runs(self):
        with ZtpStore(self.url) as store:
            return RunStore(store).runs()

    def wait(self, what, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if what():
                return
            time.sleep(0.3)
        raise AssertionError("timed out waiting; orchestrator log:\n%s" % self.logs())

    def done(self, count):
        runs = self.runs()
        return len(runs) >= count and all(r["status"] != "running" for r in runs)


def hostname(url, serial):
    with ZtpStore(url) as store:
        return store.devices(serial=[serial])[0]["hostname"]


@pytest.fixture
def orchestrator(db_url, tmp_path):
    made = []

    def make(**settings):
        made.append(Orchestrator(db_url, tmp_path, **settings))
        return made[-1]
    yield make
    for orch in made:
        orch.stop()


def test_two_devices_phone_home_and_each_is_run_once(db_url, tmp_path, orchestrator):
    devices = register(db_url, {"plant-a": 3})
    orch = orchestrator()
    hosts = dict((d["serial"], hostname(db_url, d["serial"])) for d in devices)
    for host in hosts.values():
        orch.open_gate(host)
    # the third device is asked to fail: a failing run is recorded with the stage and the reason
    config = json.loads(orch.config.read_text())
    config["extravars"]["fail_hosts"] = [hosts["SN-A3"]]
    orch.config.write_text(json.dumps(config))
    orch.start()
    time.sleep(2)
    assert orch.runs() == []  # nothing has phoned home: nothing to run
    phone_home(db_url, devices[:2])
    orch.wait(lambda: orch.done(2))
    phone_home(db_url, devices[2:])
    orch.wait(lambda: orch.done(3))
    time.sleep(3)  # a few more turns: nothing is run again
    runs = orch.runs()
    assert len(runs) == 3
    assert dict((h, len(s)) for h, s in orch.starts().items()) == dict((h, 1) for h in hosts.values())
    by_serial = dict((r["devices"][0]["serial"], r) for r in runs)
    for serial in ("SN-A1", "SN-A2"):
        run = by_serial[serial]
        assert run["status"] == "successful" and run["rc"] == 0
        assert run["devices"][0]["outcome"] == "unchanged"  # the stand-in moves nobody
        # every run's artifacts are kept: its own ansible-runner folder
        artifacts = os.path.join(run["artifacts"], "artifacts", "site")
        assert "PLAY RECAP" in open(os.path.join(artifacts, "stdout")).read()
        assert open(os.path.join(artifacts, "status")).read() == "successful"
    failed = by_serial["SN-A3"]
    assert failed["status"] == "failed" and failed["rc"] == 2
    with ZtpStore(db_url) as store:
        rec = store.devices(serial=["SN-A3"], with_events=True)[0]
    assert (rec["state"], rec["failed_stage"]) == ("failed", "configure")
    assert rec["failure_reason"] == "site.yml failed (rc 2): %s: Fail the hosts asked to: asked to fail %s" % (hosts["SN-A3"], hosts["SN-A3"])
    assert rec["events"][-1]["by"] == "edgefleet.platform orchestrator"
    assert (failed["devices"][0]["outcome"], failed["devices"][0]["stage"]) == ("failed", "configure")
    # the database URL is in no artifact (ansible-runner's copy of the environment is masked) and no log
    for root, _dirs, files in os.walk(str(tmp_path / "state")):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                assert db_url.encode() not in handle.read(), os.path.join(root, name)
    assert db_url not in orch.logs()


def test_a_killed_orchestrator_restarted_mid_run_runs_no_device_twice(db_url, orchestrator):
    devices = register(db_url, {"plant-a": 2})
    orch = orchestrator()
    first = orch.start()
    phone_home(db_url, devices)
    orch.wait(lambda: len(orch.starts()) == 2)
    first.send_signal(signal.SIGKILL)  # the service dies mid-run; its runs go on, leased
    first.wait(timeout=30)
    orch.start()
    time.sleep(4)  # several claims by the new one while the runs hold their devices
    assert all(r["status"] == "running" for r in orch.runs()) and len(orch.runs()) == 2
    for dev in devices:
        orch.open_gate(hostname(db_url, dev["serial"]))
    orch.wait(lambda: orch.done(2))
    time.sleep(3)
    assert [len(s) for s in orch.starts().values()] == [1, 1]
    assert [r["status"] for r in orch.runs()] == ["successful", "successful"]


def test_a_run_whose_process_died_is_recorded_and_run_again_never_at_once(db_url, orchestrator):
    devices = register(db_url, {"plant-a": 1})
    orch = orchestrator(max_attempts=2)
    orch.start()
    phone_home(db_url, devices)
    orch.wait(lambda: len(orch.starts()) == 1)
    run = orch.runs()[0]
    orch.wait(lambda: orch.runs()[0]["ansible_pid"] is not None)
    run = orch.runs()[0]
    killed = time.time()
    os.killpg(os.getpgid(run["pid"]), signal.SIGKILL)  # the run's own process dies (OOM, a crash)
    # its ansible-playbook is left holding the device until the lease expires: the claim stops it first
    orch.wait(lambda: len(orch.starts().get(hostname(db_url, "SN-A1"), [])) == 2, timeout=60)
    second = orch.starts()[hostname(db_url, "SN-A1")][1]
    crashed = orch.runs()[0]
    # run again only once the dead run's lease (10 s after its last renewal) had passed
    assert second > rules.parse_iso(crashed["lease_until"]).timestamp() > killed
    assert crashed["status"] == "crashed" and "lease expired" in crashed["reason"]
    assert crashed["devices"][0]["outcome"] == "crashed"
    # the leftover ansible-playbook was stopped before the device was run again (gone, or a zombie nobody reaped yet)
    assert not orchestrator_service.process_running(run["ansible_pid"])
    orch.open_gate(hostname(db_url, "SN-A1"))
    orch.wait(lambda: orch.done(2))
    assert [r["status"] for r in orch.runs()] == ["crashed", "successful"]


def test_the_concurrency_caps_hold(db_url, orchestrator):
    devices = register(db_url, {"plant-a": 5, "plant-b": 3})
    orch = orchestrator(max_total=3, max_per_site=2)
    orch.config.write_text(json.dumps(dict(json.loads(orch.config.read_text()), extravars={
        "record_file": str(orch.record), "gate_dir": str(orch.gates), "hold_seconds": 3})))
    orch.start()
    phone_home(db_url, devices)
    orch.wait(lambda: orch.done(8), timeout=240)
    site_of = dict((hostname(db_url, d["serial"]), d["site"]) for d in devices)
    spans = {}
    for line in orch.lines():
        spans.setdefault(line[1], []).append(float(line[2]))
    assert sorted(spans) == sorted(site_of) and all(len(s) == 2 for s in spans.values())  # each run once, start and end
    points = sorted([(s[0], 1, h) for h, s in spans.items()] + [(s[1], -1, h) for h, s in spans.items()])
    running, most, most_site = set(), 0, {}
    for _at, step, host in points:
        (running.add if step > 0 else running.discard)(host)
        most = max(most, len(running))
        for site in ("plant-a", "plant-b"):
            most_site[site] = max(most_site.get(site, 0), len([h for h in running if site_of[h] == site]))
    # the first claim fills the caps (A1, A2: plant-a's 2; B1: the third of all); they are never exceeded
    assert most == 3 and most_site["plant-a"] == 2 and most_site["plant-b"] <= 2


def test_an_orchestrated_run_of_the_real_site_yml(db_url, orchestrator, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the real site.yml once is enough (SQLite)")
    devices = register(db_url, {"plant-a": 1})
    orch = orchestrator(playbook=os.path.join(REPO, "playbooks", "site.yml"),
                        extravars={"edgefleet_ztp_database": db_url, "edgefleet_sizing_enforce": False})
    orch.start()
    phone_home(db_url, devices)
    orch.wait(lambda: orch.done(1), timeout=300)
    run = orch.runs()[0]
    stdout = open(os.path.join(run["artifacts"], "artifacts", "site", "stdout")).read()
    # preflight, then discover on the phoned-home device (it is not waiting for its OS any more); this machine is
    # not the IPC of the record, so discover fails it with the reason and the run ends there, recorded by the stage
    assert "PLAY [Preflight" in stdout and "PLAY [Discover | topology_single_node]" in stdout
    with ZtpStore(db_url) as store:
        rec = store.devices(serial=["SN-A1"])[0]
    assert (rec["state"], rec["failed_stage"]) == ("failed", "discover")
    assert run["status"] == "failed" and run["devices"][0]["outcome"] == "failed" and run["devices"][0]["stage"] == "discover"
    assert run["devices"][0]["reason"] == rec["failure_reason"]
