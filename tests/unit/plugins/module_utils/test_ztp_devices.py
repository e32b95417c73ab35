# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device batch on its own: ordered state moves per device, in one transaction."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpError, ZtpStore, new_result
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_devices import DEVICE_COLUMNS, DeviceBatch
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_engine import now_iso
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import HARDWARE_FIELDS


def write_moves(store, items, actor="stage"):
    """What a stage write-back does: one batch with moves, in one write transaction."""
    result = new_result()
    store._run_write(lambda: DeviceBatch(store, items, actor, None, True, now_iso(), result, with_moves=True).run())
    return result


def history(store, serial):
    device = store.devices(serial=[serial], with_events=True)[0]
    return device, [(e["from"], e["to"], e["stage"], e["by"], e["reason"]) for e in device["events"]]


@pytest.fixture
def store(db_url, example):
    with ZtpStore(db_url) as opened:
        opened.import_data(example, "tester")
        opened.save_devices([{"serial": s, "state": "discovered"} for s in ("SN-0001", "SN-0002")], "discover")
        yield opened


def test_hardware_fields_are_device_columns():
    # a hardware field without its column would be accepted and then lost
    assert set(HARDWARE_FIELDS) <= set(DEVICE_COLUMNS)


def test_moves_of_several_devices_are_written_in_order_with_their_reasons(store):
    before = store.devices(serial=["SN-0001"])[0]["revision"]
    result = write_moves(store, [
        {"serial": "SN-0001", "facts": {"os": "debian"}, "moves": [
            {"state": "os_installed", "reason": "pre-imaged"}, {"state": "configured", "reason": "configure stage"}]},
        {"serial": "SN-0002", "moves": [{"state": "os_installed", "reason": "installed"}]},
    ], actor="configure")
    assert result["updated"]["devices"] == ["SN-0001", "SN-0002"]
    first, events = history(store, "SN-0001")
    assert first["state"] == "configured" and first["facts"] == {"os": "debian"}
    assert first["revision"] == before + 1  # one record change, however many moves
    assert events[-2:] == [("discovered", "os_installed", None, "configure", "pre-imaged"),
                           ("os_installed", "configured", None, "configure", "configure stage")]
    assert history(store, "SN-0002")[1][-1] == ("discovered", "os_installed", None, "configure", "installed")


def test_an_illegal_move_fails_the_whole_batch(store):
    before = store.devices(with_events=True)
    with pytest.raises(ZtpError) as err:
        write_moves(store, [
            {"serial": "SN-0001", "moves": [{"state": "os_installed"}, {"state": "configured"}]},
            {"serial": "SN-0002", "moves": [{"state": "os_installed"}, {"state": "platform_ready"}]},
        ])
    assert (err.value.record, err.value.field) == ("device SN-0002", "state")
    assert "cannot move from os_installed to platform_ready" in str(err.value)
    assert store.devices(with_events=True) == before


def test_a_stage_can_fail_after_an_earlier_move(store):
    write_moves(store, [{"serial": "SN-0001", "moves": [
        {"state": "os_installed", "reason": "pre-imaged"}, {"state": "failed", "reason": "sshd -t failed"}]}])
    device, events = history(store, "SN-0001")
    assert (device["state"], device["failed_stage"], device["failure_reason"]) == ("failed", "configure", "sshd -t failed")
    assert events[-1] == ("os_installed", "failed", "configure", "stage", "sshd -t failed")


def test_moves_to_the_current_state_change_nothing(store):
    result = write_moves(store, [{"serial": "SN-0001", "moves": [{"state": "discovered"}]}])
    assert result["unchanged"]["devices"] == 1 and not result["updated"]["devices"]
    assert len(history(store, "SN-0001")[1]) == 2


def test_a_new_device_is_registered_before_its_moves(store, example):
    new = dict(example["devices"][0], serial="SN-0009", mac="02:00:00:00:00:09")
    write_moves(store, [dict(new, moves=[{"state": "discovered", "reason": "found"}])])
    assert history(store, "SN-0009")[1] == [
        (None, "registered", None, "stage", "registered"), ("registered", "discovered", None, "stage", "found")]


@pytest.mark.parametrize("item,field,text", [
    ({"state": "os_installed", "moves": []}, "state", "goes into each of the moves"),
    ({"reason": "x", "moves": []}, "reason", "goes into each of the moves"),
    ({"moves": "os_installed"}, "moves", "a list of {state, stage, reason} is required"),
    ({"moves": ["os_installed"]}, "moves[0]", "a mapping"),
    ({"moves": [{"state": "os_installed", "colour": "red"}]}, "moves[0].colour", "unknown field"),
    ({"moves": [{"state": "os_installed"}, {"reason": "x"}]}, "moves[1].state", "is required"),
    ({"moves": [{"state": "flying"}]}, "moves[0].state", "'flying' is not one of"),
    ({"moves": [{"state": "failed", "stage": "nowhere"}]}, "moves[0].stage", "'nowhere' is not one of"),
    ({"moves": [{"state": "os_installed", "stage": "configure"}]}, "stage", "only used with state: failed"),
])
def test_bad_moves_name_the_device_and_field(store, item, field, text):
    with pytest.raises(ZtpError) as err:
        write_moves(store, [dict(item, serial="SN-0001")])
    assert (err.value.record, err.value.field) == ("device SN-0001", field)
    assert text in str(err.value)


def test_user_input_cannot_carry_moves(store, example):
    # the public formats (ztp_device, ztp_import) stay as documented
    with pytest.raises(ZtpError, match="device SN-0001: field 'moves': unknown field"):
        store.save_devices([{"serial": "SN-0001", "moves": [{"state": "os_installed"}]}], "t")
    with pytest.raises(ZtpError, match="device SN-0001: field 'moves': unknown field"):
        store.import_data({"devices": [dict(example["devices"][0], moves=[])]}, "t")


def test_moves_cost_no_extra_queries(store):
    costs = []
    for serial, moves in (("SN-0001", [{"state": "os_installed"}]),
                          ("SN-0002", [{"state": "os_installed"}, {"state": "configured"}, {"state": "platform_ready"}])):
        start = store.engine.statements
        write_moves(store, [{"serial": serial, "moves": moves}])
        costs.append(store.engine.statements - start)
    assert costs[0] == costs[1]
