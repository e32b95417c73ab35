# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage plays and ztp_stage through the real ansible-playbook, on SQLite and PostgreSQL.

The discover stage runs on this machine as an IPC (connection local): it is
the real role and the real stage play, reading the real hardware.
"""

from __future__ import annotations

import json
import os
import sys

import yaml

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.tests.integration.helpers import PLAYBOOKS, run

BASE = {
    "regions": [{"name": "emea"}],
    "sites": [{"name": "plant-a", "region": "emea", "topology": "single_node"}],
    "clusters": [{"name": "line-1", "site": "plant-a", "workloads": [{"name": "gw", "type": "lightweight"}]},
                 {"name": "line-2", "site": "plant-a", "workloads": [{"name": "gw", "type": "lightweight"}]}],
}


def _inventory(tmp_path, url, local=()):
    """A ztp inventory: the `local` serials are this machine, the others a closed port."""
    config = tmp_path / "fleet.ztp.yml"
    config.write_text(yaml.safe_dump({
        "plugin": "edgefleet.platform.ztp", "database": url,
        "compose": {"ansible_connection": "'local' if ztp_serial in %s else 'ssh'" % json.dumps(list(local)),
                    "ansible_port": "1", "ansible_python_interpreter": "'%s'" % sys.executable}}))
    return str(config)


def _states(url):
    with ZtpStore(url) as store:
        return dict((d["serial"], d) for d in store.devices(with_events=True))


def _import(url, devices, clusters=None):
    data = dict(BASE, devices=devices)
    if clusters:
        data["clusters"] = clusters
    with ZtpStore(url) as store:
        store.import_data(data, "test")


def _move(url, serial, *states):
    with ZtpStore(url) as store:
        for state in states:
            store.save_devices([{"serial": serial, "state": state}], "test")


def test_stage_play_records_every_host_of_the_play_in_one_write(tmp_path, ansible_env, db_url):
    devices = [{"serial": s, "mac": "02:00:00:00:00:0%d" % i, "site": "plant-a", "cluster": "line-1", "role": "worker"}
               for i, s in enumerate(["OK", "PREIMAGED", "BREAKS", "GONE", "BEHIND"])]
    _import(db_url, devices)
    for serial in ("OK", "BREAKS", "GONE"):
        _move(db_url, serial, "discovered", "os_installed")
    _move(db_url, "PREIMAGED", "discovered")
    inventory = _inventory(tmp_path, db_url, local=["OK", "PREIMAGED", "BREAKS", "GONE", "BEHIND"])
    host = dict((s, d["hostname"]) for s, d in _states(db_url).items())
    args = ["ansible-playbook", "-i", inventory, os.path.join(PLAYBOOKS, "stage_play.yml"),
            "-e", "edgefleet_ztp_database=%s" % db_url,
            "-e", json.dumps({"leave_hosts": [host["GONE"]], "fail_hosts": [host["BREAKS"]]})]

    check = run(args + ["--check", "--diff"], ansible_env, check=False)
    assert check.returncode == 2, check.stdout
    assert set(d["state"] for d in _states(db_url).values()) == {"registered", "discovered", "os_installed"}

    proc = run(args, ansible_env, check=False)
    assert proc.returncode == 2, proc.stdout  # the failed IPCs fail the run; the others went on
    now = _states(db_url)
    assert now["OK"]["state"] == "configured"
    assert [e["to"] for e in now["PREIMAGED"]["events"][-2:]] == ["os_installed", "configured"]
    assert (now["BREAKS"]["state"], now["BREAKS"]["failed_stage"]) == ("failed", "configure")
    assert now["BREAKS"]["failure_reason"] == "The role: the role failed on %s" % host["BREAKS"]
    assert (now["GONE"]["state"], now["GONE"]["failed_stage"]) == ("failed", "configure")
    assert "left the play during the configure stage" in now["GONE"]["failure_reason"]
    assert now["BEHIND"]["state"] == "registered" and len(now["BEHIND"]["events"]) == 1
    # one write transaction for the whole play: one timestamp on every stage event
    stamps = {e["at"] for d in now.values() for e in d["events"] if e["by"] == "edgefleet.platform configure stage"}
    assert len(stamps) == 1
    assert "%s (BREAKS): failed in configure: The role: the role failed on" % host["BREAKS"] in proc.stdout
    assert "%s (BEHIND): registered (registered: the configure stage needs os_installed first; left untouched)" % host["BEHIND"] in proc.stdout

    # a second run: the failed ones fail the same way, nothing else changes
    again = run(args, ansible_env, check=False)
    assert again.returncode == 2
    assert _states(db_url) == now


def test_discover_stage_on_this_machine(tmp_path, ansible_env, db_url):
    # what this machine reports, read with the role's own observe entry point
    seen = tmp_path / "seen.json"
    observe = tmp_path / "observe.yml"
    observe.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.import_role: {name: edgefleet.platform.discover, tasks_from: observe}\n"
        "    - ansible.builtin.copy: {content: '{{ discover_observed | to_json }}', dest: '%s', mode: '0600'}\n" % seen)
    run(["ansible-playbook", str(observe)], ansible_env)
    me = json.loads(seen.read_text())
    _import(db_url, [
        {"serial": me["serial"], "mac": me["macs"][0], "site": "plant-a", "cluster": "line-1", "role": "control"},
        {"serial": "SWAPPED-1", "mac": "02:00:00:00:00:01", "site": "plant-a", "cluster": "line-2", "role": "control"},
        {"serial": "GONE-1", "mac": "02:00:00:00:00:02", "site": "plant-a", "cluster": "line-2", "role": "worker",
         "ip": "127.0.0.1"},
    ])
    inventory = _inventory(tmp_path, db_url, local=[me["serial"], "SWAPPED-1"])
    touched = tmp_path / "touched"
    touched.mkdir()
    # this machine's disk may be rotational ("hdd"), which no tier accepts: sizing is
    # reported only at first, as the lab does, and enforced for the gate below
    args = ["ansible-playbook", "-i", inventory, os.path.join(PLAYBOOKS, "discover_then_touch.yml"),
            "-e", "edgefleet_ztp_database=%s" % db_url, "-e", "touched_dir=%s" % touched]
    relaxed = args + ["-e", "edgefleet_sizing_enforce=false"]
    host = dict((s, d["hostname"]) for s, d in _states(db_url).items())

    proc = run(relaxed, ansible_env, check=False)
    assert proc.returncode == 2, proc.stdout  # the summary fails the run: two IPCs failed
    assert "2 IPC(s) failed a stage of this run" in proc.stdout
    now = _states(db_url)
    mine = now[me["serial"]]
    assert mine["state"] == "discovered", mine
    assert mine["hardware"] == me["hardware"]
    assert (now["SWAPPED-1"]["state"], now["SWAPPED-1"]["failed_stage"]) == ("failed", "discover")
    assert "but its ZTP record says SWAPPED-1" in now["SWAPPED-1"]["failure_reason"]
    assert now["SWAPPED-1"]["hardware"]["cpu_cores"] is None  # a swapped IPC's facts are not its record's
    assert (now["GONE-1"]["state"], now["GONE-1"]["failed_stage"]) == ("failed", "discover")
    assert "unreachable" in now["GONE-1"]["failure_reason"] and "port 1" in now["GONE-1"]["failure_reason"]
    assert sorted(os.listdir(touched)) == [host[me["serial"]]]  # the failed IPCs went no further

    # re-run: nothing changes, --check neither
    os.unlink(touched / host[me["serial"]])
    run(relaxed, ansible_env, check=False)
    assert _states(db_url) == now
    run(relaxed + ["--check"], ansible_env, check=False)
    assert _states(db_url) == now

    # the cluster grows past what this machine has: the sizing gate after discover fails it
    many = [{"name": "heavy-%d" % i, "type": "heavy"} for i in range(40)]
    _import(db_url, [], clusters=[dict(BASE["clusters"][0], workloads=many), BASE["clusters"][1]])
    os.unlink(touched / host[me["serial"]])
    proc = run(args, ansible_env, check=False)
    assert proc.returncode == 2
    mine = _states(db_url)[me["serial"]]
    assert (mine["state"], mine["failed_stage"]) == ("failed", "discover"), mine
    assert "cluster line-1 does not fit the hardware observed" in mine["failure_reason"]
    assert "40 workloads" in mine["failure_reason"] or "exceed" in mine["failure_reason"], mine["failure_reason"]
    assert os.listdir(touched) == []
    # reported only when enforcement is off: discover is retried and the IPC goes on
    proc = run(relaxed, ansible_env, check=False)
    assert "Sizing violations, reported only" in proc.stdout
    assert _states(db_url)[me["serial"]]["state"] == "discovered"
    assert sorted(os.listdir(touched)) == [host[me["serial"]]]
