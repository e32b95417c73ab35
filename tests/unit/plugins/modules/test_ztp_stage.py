# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ztp_stage: every move a stage's outcome can make, written in one transaction."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_model
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.plugins.modules import ztp_device, ztp_import, ztp_stage
from ansible_collections.edgefleet.platform.tests.unit.module_runner import run_module

# serial -> the states it is moved through before the stage runs
STARTS = {
    "SN-DUE": ["discovered", "os_installed"],
    "SN-PREIMAGED": ["discovered"],
    "SN-RETRY": ["discovered", "os_installed", ("failed", "configure", "sshd -t failed")],
    "SN-AHEAD": ["discovered", "os_installed", "configured", "platform_ready"],
    "SN-BEHIND": [],
    "SN-GONE": ["decommissioned"],
    "SN-BREAKS": ["discovered", "os_installed"],
    "SN-LATER": ["discovered", "os_installed", "configured", ("failed", "platform", "k3s did not start")],
}


@pytest.fixture
def fleet(db_url, example):
    example["devices"] = [
        {"serial": serial, "mac": "02:00:00:00:00:%02x" % i, "site": "plant-a", "cluster": "plant-a-line1",
         "role": "worker", "ip": "192.0.2.%d" % (100 + i)}
        for i, serial in enumerate(sorted(STARTS))
    ]
    assert not run_module(ztp_import.main, {"database": db_url, "data": example})[0]
    for serial, states in STARTS.items():
        for state in states:
            args = {"database": db_url, "serial": serial}
            if isinstance(state, tuple):
                args.update(state="failed", stage=state[1], reason=state[2])
            else:
                args["state"] = state
            failed, result = run_module(ztp_device.main, args)
            assert not failed, result
    return db_url


def _stage(db_url, stage, reports, **kw):
    return run_module(ztp_stage.main, dict({"database": db_url, "stage": stage, "reports": reports}, **kw))


def _devices(db_url):
    with ZtpStore(db_url) as store:
        return dict((d["serial"], d) for d in store.devices(include_decommissioned=True))


def _events(db_url, serial):
    with ZtpStore(db_url) as store:
        return store.devices(serial=[serial], with_events=True)[0]["events"]


REPORTS = [{"serial": s, "host": s.lower()} for s in sorted(STARTS) if s != "SN-BREAKS"] + [
    {"serial": "SN-BREAKS", "host": "sn-breaks", "failure": "OS hardening: new SSH connection\nrefused; rolled back"}]


def test_configure_outcome_of_a_whole_play(fleet):
    failed, result = _stage(fleet, "configure", REPORTS)
    assert not failed, result
    assert result["changed"]
    actions = dict((d["serial"], d["action"]) for d in result["devices"])
    assert actions == {
        "SN-AHEAD": "kept", "SN-BEHIND": "behind", "SN-BREAKS": "failed", "SN-DUE": "advanced", "SN-GONE": "decommissioned",
        "SN-LATER": "kept", "SN-PREIMAGED": "advanced", "SN-RETRY": "retried",
    }
    assert result["counts"] == {"advanced": 2, "retried": 1, "kept": 2, "failed": 1, "behind": 1, "decommissioned": 1}
    now = _devices(fleet)
    assert {s: now[s]["state"] for s in now} == {
        "SN-AHEAD": "platform_ready", "SN-BEHIND": "registered", "SN-BREAKS": "failed", "SN-DUE": "configured",
        "SN-GONE": "decommissioned", "SN-LATER": "failed", "SN-PREIMAGED": "configured", "SN-RETRY": "configured",
    }
    assert now["SN-BREAKS"]["failed_stage"] == "configure"
    assert now["SN-BREAKS"]["failure_reason"] == "OS hardening: new SSH connection refused; rolled back"
    assert now["SN-LATER"]["failed_stage"] == "platform"  # further along: kept as it was
    # the pre-imaged IPC passes through os_installed, each move in the event log
    moves = [(e["from"], e["to"], e["reason"]) for e in _events(fleet, "SN-PREIMAGED")][-2:]
    assert moves == [("discovered", "os_installed", "OS found installed by the configure stage"),
                     ("os_installed", "configured", "configure stage")]
    assert {e["by"] for e in _events(fleet, "SN-DUE")[-1:]} == {"edgefleet.platform configure stage"}
    assert "sn-breaks (SN-BREAKS): failed in configure: OS hardening: new SSH connection refused; rolled back" in result["summary"]


def test_one_write_transaction_per_stage(fleet, monkeypatch):
    writes = []
    real = ZtpStore._write

    def counted(self):
        writes.append(1)
        return real(self)

    monkeypatch.setattr(ZtpStore, "_write", counted)
    assert _stage(fleet, "configure", REPORTS)[1]["changed"]
    assert len(writes) == 1
    stamps = {e["at"] for s in STARTS for e in _events(fleet, s) if e["by"] == "edgefleet.platform configure stage"}
    assert len(stamps) == 1


def test_a_second_run_changes_nothing(fleet):
    _stage(fleet, "configure", REPORTS)
    before = _devices(fleet)
    failed, result = _stage(fleet, "configure", REPORTS)
    assert not failed and not result["changed"], result
    assert _devices(fleet) == before


def test_a_new_failure_reason_is_recorded_again(fleet):
    _stage(fleet, "configure", REPORTS)
    failed, result = _stage(fleet, "configure", [{"serial": "SN-BREAKS", "failure": "another reason"}])
    assert not failed and result["changed"]
    assert _devices(fleet)["SN-BREAKS"]["failure_reason"] == "another reason"


def test_discover_stores_facts_and_records_unreachable(fleet):
    hardware = {"cpu_cores": 8, "memory_mb": 16000, "disk_gb": 476.9, "disk_type": "nvme"}
    failed, result = _stage(fleet, "discover", [
        {"serial": "SN-BEHIND", "hardware": hardware, "facts": {"nics": [{"name": "eth0", "mac": "02:00:00:00:00:04"}]}},
        {"serial": "SN-AHEAD", "hardware": dict(hardware, cpu_cores=4)},
        {"serial": "SN-GONE", "hardware": hardware},
    ])
    assert not failed, result
    now = _devices(fleet)
    assert now["SN-BEHIND"]["state"] == "discovered" and now["SN-BEHIND"]["hardware"] == hardware
    assert now["SN-AHEAD"]["state"] == "platform_ready" and now["SN-AHEAD"]["hardware"]["cpu_cores"] == 4
    assert now["SN-GONE"]["hardware"]["cpu_cores"] is None  # decommissioned: untouched
    failed, result = _stage(fleet, "discover", [{"serial": "SN-DUE", "failure": "unreachable: ssh: connect to host 192.0.2.100 port 22: No route to host"}])
    assert not failed
    assert (_devices(fleet)["SN-DUE"]["state"], _devices(fleet)["SN-DUE"]["failed_stage"]) == ("failed", "discover")


def test_long_reasons_are_cut_to_the_model_limit(fleet):
    failed, result = _stage(fleet, "configure", [{"serial": "SN-DUE", "failure": "x" * 5000}])
    assert not failed
    assert len(_devices(fleet)["SN-DUE"]["failure_reason"]) == ztp_model.MAX_REASON


def test_check_mode_and_diff_write_nothing(fleet):
    before = _devices(fleet)
    failed, result = run_module(ztp_stage.main, {"database": fleet, "stage": "configure", "reports": REPORTS},
                                check_mode=True, diff=True)
    assert not failed and result["changed"]
    assert result["diff"]["before"]["SN-DUE"]["state"] == "os_installed"
    assert result["diff"]["after"]["SN-DUE"]["state"] == "configured"
    assert "SN-BEHIND" not in result["diff"]["after"]
    assert _devices(fleet) == before


def test_bad_input_names_the_device_and_writes_nothing(fleet):
    before = _devices(fleet)
    failed, result = _stage(fleet, "configure", [{"serial": "SN-DUE"}, {"serial": "SN-NOPE"}])
    assert failed and result["msg"].startswith("device SN-NOPE: ") and "not in the ZTP database" in result["msg"]
    failed, result = _stage(fleet, "discover", [{"serial": "SN-BEHIND"}, {"serial": "SN-DUE", "hardware": {"cpu_cores": -1}}])
    assert failed and result["msg"].startswith("device SN-DUE: field 'hardware.cpu_cores'")
    failed, result = _stage(fleet, "configure", [{"serial": "SN-DUE"}, {"serial": "SN-DUE"}])
    assert failed and "SN-DUE" in result["msg"] and "twice" in result["msg"]
    assert _devices(fleet) == before


def test_an_illegal_move_is_refused_naming_device_and_states(fleet, monkeypatch):
    # plan_stage only plans legal moves; the write still checks every one
    from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_model as model

    def reckless(stage, record, state, failed_stage, failure=None):
        return model.StagePlan("advanced", (("operational", None, "skip ahead"),), True, "operational")

    before = _devices(fleet)
    for module in _modules_using_plan_stage():
        monkeypatch.setattr(module, "plan_stage", reckless)
    failed, result = _stage(fleet, "configure", [{"serial": "SN-BEHIND"}, {"serial": "SN-DUE"}])
    assert failed and "device SN-BEHIND" in result["msg"] and "cannot move from registered to operational" in result["msg"]
    assert _devices(fleet) == before


def _modules_using_plan_stage():
    import sys

    return [m for name, m in list(sys.modules.items())
            if name.startswith("ansible_collections.edgefleet.platform.plugins.module_utils") and hasattr(m, "plan_stage")
            and not name.endswith(".ztp_model")]
