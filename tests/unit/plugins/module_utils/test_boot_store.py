# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-time tokens, phone-home, netboot flags and unknown machines in the ZTP database."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils.boot_store import BootStore
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_tokens import BootRefused, parse_phone_home
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpError, ZtpStore

MAC1, MAC2 = "52:54:00:00:00:01", "52:54:00:00:00:02"
FLEET = {
    "regions": ["emea"],
    "sites": [{"name": "plant-a", "region": "emea", "topology": "multi_node"}],
    "devices": [
        {"serial": "SN-0001", "mac": MAC1, "site": "plant-a", "role": "control"},
        {"serial": "SN-0002", "mac": MAC2, "site": "plant-a", "role": "worker"},
    ],
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def boot(db_url):
    with ZtpStore(db_url) as store:
        store.import_data(FLEET, "test")
        yield BootStore(store, Clock())


def call(token, serial="SN-0001", macs=(MAC1,), source=None, **extra):
    """A parsed phone-home; ``source`` is the caller's address, the boot server's to add (never the body's)."""
    parsed = parse_phone_home(dict({"token": token, "serial": serial, "macs": list(macs),
                                    "hardware": {"cpu_cores": 4, "memory_mb": 8192}}, **extra))
    return dict(parsed, source=source) if source is not None else parsed


def snapshot(boot):
    """Everything a refused call must leave as it was (the boot log aside)."""
    e = boot.engine
    return (boot.store.devices(with_events=True), e.execute("SELECT * FROM boot_tokens ORDER BY digest"),
            e.execute("SELECT * FROM device_boot ORDER BY serial"))


def test_a_valid_phone_home_installs_records_and_stops_netboot(boot):
    token = boot.issue_token("SN-0001", MAC1)
    outcome = boot.phone_home(call(token, ssh_host_keys=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA host"]))
    assert (outcome["action"], outcome["before"], outcome["state"], outcome["netboot"]) == ("advanced", "registered", "os_installed", False)
    dev = boot.store.devices(serial=["SN-0001"], with_events=True)[0]
    assert dev["state"] == "os_installed"
    assert dev["hardware"]["cpu_cores"] == 4 and dev["hardware"]["memory_mb"] == 8192
    assert dev["facts"]["phone_home"]["ssh_host_keys"] == ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA host"]
    # the lifecycle moves are the os_install stage's (plan_stage), each in the event log
    assert [(e["from"], e["to"], e["reason"]) for e in dev["events"][1:]] == [
        ("registered", "discovered", "discovered by its network boot"), ("discovered", "os_installed", "os_install stage")]
    assert boot.netboot("SN-0001") is False
    assert boot.lookup(MAC1).netboot is False
    assert boot.netboot("SN-0002") is True  # the other device is untouched


def test_a_live_token_means_the_install_waits_for_its_phone_home(boot):
    assert boot.awaiting_phone_home("SN-0001") is False
    token = boot.issue_token("SN-0001", MAC1, ttl=600)
    assert boot.awaiting_phone_home("SN-0001") is True
    assert boot.awaiting_phone_home("SN-0002") is False
    boot.clock.now += 601  # expired: the install is due again
    assert boot.awaiting_phone_home("SN-0001") is False
    token = boot.issue_token("SN-0001", MAC1, ttl=600)
    boot.phone_home(call(token))  # used: revoked
    assert boot.awaiting_phone_home("SN-0001") is False


def test_the_database_keeps_only_the_tokens_digest(boot, db_url):
    token = boot.issue_token("SN-0001", MAC1)
    stored = boot.engine.execute("SELECT digest FROM boot_tokens")[0][0]
    assert stored != token and len(stored) == 64
    boot.store.close()
    with open(db_url[len("sqlite://"):], "rb") as handle:
        assert token.encode() not in handle.read()


@pytest.mark.parametrize("case, why", [
    ("replay", "replayed"), ("expired", "expired"), ("foreign_mac", "wrong_mac"), ("other_device", "wrong_device"),
    ("unknown", "unknown_token"), ("superseded", "replayed"), ("neighbour", "wrong_mac"),
])
def test_refused_calls_change_nothing(boot, case, why):
    token = boot.issue_token("SN-0001", MAC1)
    neighbour = None
    if case == "replay":
        boot.phone_home(call(token))
        bad = call(token)
    elif case == "expired":
        boot.clock.now += 4 * 3600 + 1
        bad = call(token)
    elif case == "foreign_mac":
        bad = call(token, macs=[MAC2])  # SN-0002's MAC reporting SN-0001's token
    elif case == "other_device":
        bad = call(token, serial="SN-0002", macs=[MAC1])
    elif case == "unknown":
        bad = call("A" * 43)
    elif case == "superseded":
        boot.issue_token("SN-0001", MAC1)  # the answer file was fetched again: the old token is dead
        bad = call(token)
    else:
        bad, neighbour = call(token), MAC2  # the call came from another machine on the link
    before = snapshot(boot)
    with pytest.raises(BootRefused) as err:
        boot.phone_home(bad, neighbour)
    assert err.value.why == why
    assert snapshot(boot) == before


@pytest.mark.parametrize("body, field", [
    ("not a mapping", "a JSON object is required"),
    ({"token": "short", "serial": "SN-0001", "macs": [MAC1]}, "field 'token'"),
    ({"token": "A" * 43, "serial": "SN 1", "macs": [MAC1]}, "field 'serial'"),
    ({"token": "A" * 43, "serial": "SN-0001", "macs": []}, "field 'macs'"),
    ({"token": "A" * 43, "serial": "SN-0001", "macs": ["nope"]}, "field 'macs[0]'"),
    ({"token": "A" * 43, "serial": "SN-0001", "macs": [MAC1], "hardware": {"cpu_cores": -1}}, "field 'hardware.cpu_cores'"),
    ({"token": "A" * 43, "serial": "SN-0001", "macs": [MAC1], "state": "operational"}, "field 'state': unknown field"),
    ({"token": "A" * 43, "serial": "SN-0001", "macs": [MAC1], "ssh_host_keys": ["x; rm -rf /"]}, "field 'ssh_host_keys'"),
])
def test_malformed_bodies_are_refused_naming_the_field(body, field):
    with pytest.raises(BootRefused) as err:
        parse_phone_home(body)
    assert err.value.why == "malformed" and field in err.value.detail


def test_a_device_failed_in_os_install_is_retried_by_its_phone_home(boot):
    boot.store.save_devices([{"serial": "SN-0001", "state": "discovered"}], "test")
    boot.store.save_devices([{"serial": "SN-0001", "state": "failed", "stage": "os_install", "reason": "timeout"}], "test")
    outcome = boot.phone_home(call(boot.issue_token("SN-0001", MAC1)))
    assert (outcome["action"], outcome["state"]) == ("retried", "os_installed")


def test_a_decommissioned_device_cannot_phone_home(boot):
    token = boot.issue_token("SN-0001", MAC1)
    boot.store.save_devices([{"serial": "SN-0001", "state": "decommissioned"}], "test")
    before = snapshot(boot)
    with pytest.raises(BootRefused) as err:
        boot.phone_home(call(token))
    assert err.value.why == "not_due" and snapshot(boot) == before


def test_check_token_is_bound_to_its_mac(boot):
    token = boot.issue_token("SN-0001", MAC1)
    assert boot.check_token(token, MAC1) == "SN-0001"
    with pytest.raises(BootRefused, match="wrong_mac"):
        boot.check_token(token, MAC2)


def test_netboot_flag(boot):
    assert boot.set_netboot("SN-0002", False) is True
    assert boot.set_netboot("SN-0002", False) is False
    assert boot.set_netboot("SN-0002", True) is True
    with pytest.raises(ZtpError, match="device SN-9: field 'serial': is not in the ZTP database"):
        boot.set_netboot("SN-9", True)


def test_netboot_switched_on_again_cancels_the_live_token(boot):
    token = boot.issue_token("SN-0001", MAC1)
    boot.set_netboot("SN-0001", True)  # already on (the os_install stage, every run): the install in flight goes on
    assert boot.awaiting_phone_home("SN-0001") is True
    boot.set_netboot("SN-0001", False)
    assert boot.awaiting_phone_home("SN-0001") is True  # off alone does not cancel it
    assert boot.set_netboot("SN-0001", True) is True  # back on: a reinstall
    assert boot.awaiting_phone_home("SN-0001") is False
    before = snapshot(boot)
    with pytest.raises(BootRefused, match="replayed: token was revoked at .* \\(netboot switched on again \\(reinstall\\)\\)"):
        boot.phone_home(call(token))
    assert snapshot(boot) == before


def test_the_phone_home_records_where_a_dhcp_device_is_reached(boot):
    outcome = boot.phone_home(call(boot.issue_token("SN-0001", MAC1), source="10.20.0.31"))
    assert (outcome["ip"], outcome["address"], outcome["address_note"]) == ("10.20.0.31", "10.20.0.31", None)
    dev = boot.store.devices(serial=["SN-0001"])[0]
    assert dev["ip"] == "10.20.0.31" and dev["facts"]["phone_home"]["address"] == "10.20.0.31"
    # reinstalled, it came back with another lease: the address follows
    boot.set_netboot("SN-0001", True)
    boot.store.save_devices([{"serial": "SN-0001", "state": "registered"}], "test")
    boot.phone_home(call(boot.issue_token("SN-0001", MAC1), source="10.20.0.77"))
    assert boot.store.devices(serial=["SN-0001"])[0]["ip"] == "10.20.0.77"
    assert not [r for r in boot.log_rows() if r["event"] == "phone_home_address"]


def test_a_static_address_is_kept_and_the_mismatch_logged(boot):
    boot.store.save_devices([{"serial": "SN-0002", "ip": "10.20.0.50", "labels": {"edgefleet.io/net": "static"}}], "test")
    outcome = boot.phone_home(call(boot.issue_token("SN-0002", MAC2), serial="SN-0002", macs=(MAC2,), source="10.20.0.31"))
    assert outcome["state"] == "os_installed" and outcome["ip"] == "10.20.0.50"
    dev = boot.store.devices(serial=["SN-0002"])[0]
    assert dev["ip"] == "10.20.0.50"
    note = "the phone-home came from 10.20.0.31: its static address 10.20.0.50 is kept"
    assert dev["facts"]["phone_home"]["address"] == "10.20.0.31" and dev["facts"]["phone_home"]["address_note"] == note
    assert [(r["event"], r["serial"], r["client"], r["detail"]) for r in boot.log_rows()] == [
        ("phone_home_address", "SN-0002", "10.20.0.31", note)]


def test_a_local_caller_records_no_address(boot):
    boot.phone_home(call(boot.issue_token("SN-0001", MAC1), source="127.0.0.1"))
    dev = boot.store.devices(serial=["SN-0001"])[0]
    assert dev["ip"] is None and dev["facts"]["phone_home"]["address"] is None
    assert [r["event"] for r in boot.log_rows()] == ["phone_home_address"]


# Unknown machines ----------------------------------------------------------------------

def test_a_blank_smbios_uuid_is_not_recorded(boot):
    zeros = boot.record_unknown("52:54:00:aa:bb:01", {"uuid": "00000000-0000-0000-0000-000000000000", "platform": "pcbios"})
    ones = boot.record_unknown("52:54:00:aa:bb:02", {"uuid": "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"})
    real = boot.record_unknown("52:54:00:aa:bb:03", {"uuid": "9f1c2d3e-4b5a-6978-8695-a4b3c2d1e0f9"})
    assert zeros["attributes"] == {"platform": "pcbios"} and ones["attributes"] == {}
    assert real["attributes"] == {"uuid": "9f1c2d3e-4b5a-6978-8695-a4b3c2d1e0f9"}


def test_an_unknown_mac_waits_unassigned_and_is_counted(boot):
    first = boot.record_unknown("52-54-00-AA-BB-CC", {"serial": "X1", "platform": "efi", "arch": "x86_64", "junk": "ignored"})
    assert (first["mac"], first["status"], first["seen"]) == ("52:54:00:aa:bb:cc", "unassigned", 1)
    assert first["attributes"] == {"serial": "X1", "platform": "efi", "arch": "x86_64"}
    again = boot.record_unknown("52:54:00:aa:bb:cc", {"serial": "X1"})
    assert again["seen"] == 2 and again["first_seen"] == first["first_seen"]
    assert [m["mac"] for m in boot.machines("unassigned")] == ["52:54:00:aa:bb:cc"]
    assert boot.lookup("52:54:00:aa:bb:cc").device is None


def test_an_unknown_mac_reporting_a_planned_serial_links_to_that_device(boot):
    machine = boot.record_unknown("52:54:00:aa:bb:cd", {"serial": "SN-0002"})
    assert (machine["status"], machine["device"]) == ("linked", "SN-0002")
    dev = boot.lookup("52:54:00:aa:bb:cd").device
    assert dev["serial"] == "SN-0002" and "52:54:00:aa:bb:cd" in dev["macs"]


def test_a_serial_of_a_device_past_its_install_does_not_link(boot):
    boot.store.save_devices([{"serial": "SN-0002", "state": "discovered"}], "t")
    boot.store.save_devices([{"serial": "SN-0002", "state": "os_installed"}], "t")
    assert boot.record_unknown("52:54:00:aa:bb:ce", {"serial": "SN-0002"})["status"] == "unassigned"


def test_an_operator_claims_an_unassigned_machine(boot):
    boot.record_unknown("52:54:00:aa:bb:cf", {})
    claimed = boot.claim("52:54:00:aa:bb:cf", "SN-0001", "ops")
    assert claimed["status"] == "linked" and claimed["changed"] is True
    assert boot.claim("52:54:00:aa:bb:cf", "SN-0001", "ops")["changed"] is False
    with pytest.raises(ZtpError, match="is already linked to device SN-0001"):
        boot.claim("52:54:00:aa:bb:cf", "SN-0002", "ops")
    with pytest.raises(ZtpError, match="was never seen booting"):
        boot.claim("52:54:00:aa:bb:00", "SN-0002", "ops")


def test_a_batch_answers_each_call_and_writes_the_accepted_ones_together(boot):
    token_a = boot.issue_token("SN-0001", MAC1)
    token_b = boot.issue_token("SN-0002", MAC2)
    writes = boot.engine.statements
    results = boot.phone_home_batch([
        (call(token_a), None),
        (call(token_a), None),  # the same device twice: handled after the first, so a replay
        (call(token_b, serial="SN-0002", macs=[MAC1]), None),  # B's token from A's MAC
        (call(token_b, serial="SN-0002", macs=[MAC2]), None),
    ])
    assert results[0]["state"] == "os_installed" and results[3]["state"] == "os_installed"
    assert (results[1].why, results[2].why) == ("replayed", "wrong_mac")
    assert [d["state"] for d in boot.store.devices()] == ["os_installed", "os_installed"]
    assert boot.netboot("SN-0001") is False and boot.netboot("SN-0002") is False
    first_round = boot.engine.statements - writes
    # the statements of a batch do not grow with its size
    more = dict(FLEET, devices=[{"serial": "SN-1%03d" % i, "mac": "52:54:00:01:00:%02x" % i, "site": "plant-a", "role": "worker"}
                                for i in range(40)])
    boot.store.import_data(more, "test")
    tokens = [boot.issue_token(d["serial"], d["mac"]) for d in more["devices"]]
    writes = boot.engine.statements
    results = boot.phone_home_batch([(call(tok, serial=d["serial"], macs=[d["mac"]]), None) for tok, d in zip(tokens, more["devices"])])
    assert all(r["state"] == "os_installed" for r in results)
    assert boot.engine.statements - writes <= first_round + 2
