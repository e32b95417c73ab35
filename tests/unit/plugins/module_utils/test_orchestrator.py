# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The orchestrator's rules (eligibility, batches and caps, leases, a run's end), its store
on SQLite (claims, leases, expiry, the one-active-run index) and the service's helpers."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import orchestrator as rules
from ansible_collections.edgefleet.platform.plugins.module_utils import orchestrator_service as service
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_store import BootStore
from ansible_collections.edgefleet.platform.plugins.module_utils.orchestrator_store import RunStore
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpError, ZtpStore

NOW = "2026-12-03T12:00:00Z"
CAPS = rules.Caps(total=3, per_site=2)


def dev(serial, state="os_installed", since="2026-12-03T11:00:00Z", site="plant-a", cluster=None):
    return {"serial": serial, "state": state, "state_changed_at": since, "site": site, "cluster": cluster}


# rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize("device,history,active,want", [
    (dev("a"), [], False, True),
    (dev("a", state="registered"), [], False, False),  # has not phoned home
    (dev("a", state="configured"), [], False, False),  # already run further
    (dev("a"), [], True, False),  # in an active run
    (dev("a", since="2026-12-03T11:59:50Z"), [], False, False),  # within the settle time
    (dev("a"), [{"since": "2026-12-03T11:00:00Z", "outcome": "unchanged"}], False, False),  # run once since its phone-home
    (dev("a"), [{"since": "2026-12-03T11:00:00Z", "outcome": "crashed"}], False, True),  # its run died: again
    (dev("a"), [{"since": "2026-12-03T11:00:00Z", "outcome": "crashed"}] * 2, False, False),  # no attempt left
    (dev("a"), [{"since": "2026-11-01T00:00:00Z", "outcome": "moved"}], False, True),  # an earlier install's run
])
def test_who_is_eligible(device, history, active, want):
    assert rules.eligible(device, history, active, NOW, settle=30, max_attempts=2) is want


def test_batches_group_a_cluster_and_respect_the_caps():
    candidates = [dev("a1", cluster="c1"), dev("a2", cluster="c1"), dev("a3", cluster="c1"), dev("a4"),
                  dev("b1", site="plant-b"), dev("b2", site="plant-b")]
    batches = rules.plan_batches(candidates, {}, set(), CAPS)
    # c1 cut to the site's 2, a4 waits (plant-a full), b1 takes the last place of 3
    assert batches == [rules.Batch("plant-a", "c1", ("a1", "a2")), rules.Batch("plant-b", None, ("b1",))]


def test_batches_count_the_active_runs_and_skip_busy_clusters():
    candidates = [dev("a1", cluster="c1"), dev("a4"), dev("b1", site="plant-b")]
    assert rules.plan_batches(candidates, {"plant-a": 1}, {"c1"}, CAPS) == [
        rules.Batch("plant-a", None, ("a4",)), rules.Batch("plant-b", None, ("b1",))]
    assert rules.plan_batches(candidates, {"plant-a": 2, "plant-b": 1}, set(), CAPS) == []


@pytest.mark.parametrize("after,status,want", [
    (None, "successful", ("failed", None, "the device is no longer in the ZTP database")),
    (dict(dev("a", state="failed"), failed_stage="platform", failure_reason="k3s: no"), "failed", ("failed", "platform", "k3s: no")),
    (dev("a", state="platform_ready", since="2026-12-03T12:00:00Z"), "successful", ("moved", None, "platform_ready")),
    (dev("a"), "successful", ("unchanged", None, "site.yml had nothing for it")),
    (dev("a"), "failed", ("failed", "configure", "site.yml failed (rc 2)")),
    (dev("a"), "timeout", ("failed", "configure", "site.yml failed (rc 2)")),
    (dev("a"), "canceled", ("crashed", None, "site.yml failed (rc 2)")),
])
def test_what_a_run_did_to_a_device(after, status, want):
    assert rules.device_outcome("2026-12-03T11:00:00Z", after, status, "site.yml failed (rc 2)") == want


def test_leases_and_reasons():
    until = rules.lease_until(NOW, 120)
    assert until == "2026-12-03T12:02:00Z"
    assert not rules.lease_expired(until, "2026-12-03T12:02:00Z") and rules.lease_expired(until, "2026-12-03T12:02:01Z")
    assert rules.runner_reason("timeout", 254, 600, None) == "site.yml timed out after 600 s"
    assert rules.runner_reason("failed", 2, 600, "h: t:\nboom") == "site.yml failed (rc 2): h: t: boom"
    assert "canceled" in rules.runner_reason("canceled", 254, 600, None)


@pytest.mark.parametrize("args,field", [
    ((0, 1, 60, 1), "max_total"), ((1, True, 60, 1), "max_per_site"), ((1, 1, 5, 1), "lease_seconds"), ((1, 1, 60, "2"), "max_attempts"),
])
def test_settings_are_checked(args, field):
    with pytest.raises(ZtpError) as err:
        rules.check_settings(*args)
    assert (err.value.record, err.value.field) == ("orchestrator", field)


# the store ------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()) + 60)  # past the phone-homes, so nothing waits for the settle time

    def __call__(self) -> float:
        return self.now


MACS = dict(("SN-%d" % i, "52:54:00:0e:00:%02x" % i) for i in range(1, 5))


@pytest.fixture
def runs(db_url):
    with ZtpStore(db_url) as store:
        store.import_data({"regions": ["emea"], "sites": [{"name": "plant-a", "region": "emea", "topology": "multi_node"}],
                           "clusters": [{"name": "c1", "site": "plant-a"}],
                           "devices": [{"serial": s, "mac": m, "site": "plant-a", "role": "worker",
                                        "cluster": "c1" if s in ("SN-3", "SN-4") else None} for s, m in MACS.items()]}, "t")
        yield RunStore(store, Clock())


def phone_home(store, *serials):
    boot = BootStore(store)
    for serial in serials:
        token = boot.issue_token(serial, MACS[serial])
        boot.phone_home({"token": token, "serial": serial, "macs": [MACS[serial]], "hardware": {}, "facts": {}, "ssh_host_keys": []})


def claim(runs, caps=rules.Caps(10, 10), attempts=2, fence=None):
    return runs.claim("me", "host-1", caps, 60, 30, attempts, fence)


def test_a_device_that_phoned_home_is_claimed_once(runs):
    assert claim(runs) == []
    phone_home(runs.store, "SN-1", "SN-3", "SN-4")
    claimed = claim(runs)
    assert [(r["cluster"], r["devices"]) for r in claimed] == [(None, ["SN-1"]), ("c1", ["SN-3", "SN-4"])]
    assert claim(runs) == []  # held
    assert runs.renew(claimed[0]["id"], 60, pid=4242, artifacts="/x")
    assert runs.run(claimed[0]["id"])["pid"] == 4242
    done = runs.finish(claimed[0]["id"], "successful", 0, "")
    assert done["status"] == "successful" and done["devices"][0]["outcome"] == "unchanged"
    assert claim(runs) == []  # run once since its phone-home


def test_the_database_refuses_a_device_in_two_active_runs(runs, db_url):
    phone_home(runs.store, "SN-1")
    run_id = claim(runs)[0]["id"]
    conn = sqlite3.connect(db_url[len("sqlite://"):])
    conn.execute("INSERT INTO orchestrator_runs (site, owner, host, status, lease_until, started_at)"
                 " VALUES ('plant-a', 'other', 'h', 'running', 'x', 'x')")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("INSERT INTO orchestrator_devices (run_id, serial, since, active) VALUES (?, 'SN-1', 'x', 1)", (run_id + 1,))
    conn.close()


def test_a_failed_run_records_the_device_failed_with_stage_and_reason(runs):
    phone_home(runs.store, "SN-1")
    run_id = claim(runs)[0]["id"]
    done = runs.finish(run_id, "timeout", 254, "site.yml timed out after 600 s")
    assert (done["devices"][0]["outcome"], done["devices"][0]["stage"]) == ("failed", "configure")
    rec = runs.store.devices(serial=["SN-1"], with_events=True)[0]
    assert (rec["state"], rec["failed_stage"], rec["failure_reason"]) == ("failed", "configure", "site.yml timed out after 600 s")
    assert rec["events"][-1]["by"] == "edgefleet.platform orchestrator"


def test_an_expired_lease_ends_the_run_and_frees_the_device_until_no_attempt_is_left(runs):
    phone_home(runs.store, "SN-1")
    first = claim(runs, attempts=2)[0]["id"]
    runs.clock.now += 60
    assert claim(runs, attempts=2) == []  # the lease (60 s) ends now, it has not passed
    runs.clock.now += 1
    fenced = []
    second = claim(runs, attempts=2, fence=fenced.append)
    assert [r["id"] for r in fenced] == [first] and second[0]["devices"] == ["SN-1"]
    crashed = runs.run(first)
    assert crashed["status"] == "crashed" and "lease expired" in crashed["reason"]
    assert not runs.renew(first, 60)  # the old run's process, if it comes back, must stop
    assert runs.finish(first, "successful", 0, "") is None
    runs.clock.now += 62
    assert claim(runs, attempts=2) == []  # the second attempt died too: no attempt left
    rec = runs.store.devices(serial=["SN-1"])[0]
    assert (rec["state"], rec["failed_stage"]) == ("failed", "configure")
    assert "no attempt left" in rec["failure_reason"]


def test_a_canceled_run_is_run_again_until_no_attempt_is_left(runs):
    phone_home(runs.store, "SN-1")
    first = claim(runs)[0]["id"]
    assert runs.finish(first, "canceled", 254, "site.yml was canceled", max_attempts=2)["devices"][0]["outcome"] == "crashed"
    second = claim(runs)[0]["id"]
    runs.finish(second, "canceled", 254, "site.yml was canceled", max_attempts=2)
    assert claim(runs) == []
    rec = runs.store.devices(serial=["SN-1"])[0]
    assert (rec["state"], rec["failed_stage"], rec["failure_reason"]) == ("failed", "configure", "site.yml was canceled; no attempt left")


def test_the_caps_hold_across_claims(runs):
    phone_home(runs.store, "SN-1", "SN-2", "SN-3", "SN-4")
    first = claim(runs, caps=rules.Caps(3, 2))
    assert sum(len(r["devices"]) for r in first) == 2  # plant-a's cap
    assert claim(runs, caps=rules.Caps(3, 2)) == []
    runs.finish(first[0]["id"], "successful", 0, "")
    assert sum(len(r["devices"]) for r in claim(runs, caps=rules.Caps(3, 2))) == 1


def test_a_busy_cluster_waits_for_its_run(runs):
    phone_home(runs.store, "SN-3")
    run_id = claim(runs)[0]["id"]
    phone_home(runs.store, "SN-4")
    assert claim(runs) == []
    runs.finish(run_id, "successful", 0, "")
    assert [r["devices"] for r in claim(runs)] == [["SN-4"]]


# the service's helpers ----------------------------------------------------------------------

def test_the_config_is_checked(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"inventory": "/i.ztp.yml", "max_per_site": 3}))
    config = service.load_config(str(path))
    assert config["caps"] == rules.Caps(10, 3) and config["owner"].endswith("/edgefleet-orchestrator")
    for bad, field in (({"inventory": "/i", "database": "x"}, "database"), ({"inventory": ""}, "inventory"),
                       ({"inventory": "/i", "poll_seconds": -1}, "poll_seconds"), ({"inventory": "/i", "max_total": 0}, "max_total")):
        path.write_text(json.dumps(bad))
        with pytest.raises(ZtpError) as err:
            service.load_config(str(path))
        assert err.value.field == field


def test_the_command_artifact_is_masked(tmp_path):
    (tmp_path / "command").write_text(json.dumps({"command": ["ansible-playbook"], "env": {
        "EDGEFLEET_ZTP_DB": "postgresql://u:pw@db/ztp", "AZURE_SECRET": "s", "VAULT_PASSWORD_FILE": "/x", "PATH": "/bin"}}))
    service.mask_command(str(tmp_path))
    env = json.loads((tmp_path / "command").read_text())["env"]
    assert env == {"EDGEFLEET_ZTP_DB": "********", "AZURE_SECRET": "********", "VAULT_PASSWORD_FILE": "********", "PATH": "/bin"}
    assert (tmp_path / "command").stat().st_mode & 0o077 == 0


def test_the_last_failure_of_a_run():
    events = [{"event": "runner_on_ok", "event_data": {}},
              {"event": "runner_on_failed", "event_data": {"host": "h1", "task": "t1", "res": {"msg": "one"}}},
              {"event": "runner_on_failed", "event_data": {"host": "h2", "task": "t2", "res": {"msg": "two"}, "ignore_errors": True}},
              {"event": "runner_on_unreachable", "event_data": {"host": "h3", "task": "t3", "res": {}}}]
    assert service.last_failure(events) == "h3: t3: failed"
    assert service.last_failure([]) is None
