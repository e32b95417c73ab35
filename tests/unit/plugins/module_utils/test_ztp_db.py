# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import sqlite3

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_schema
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import (
    SCHEMA_VERSION,
    ZtpDatabaseError,
    ZtpError,
    ZtpStore,
    redact_url,
)


def counts(url):
    with ZtpStore(url) as store:
        return {
            "regions": len(store.regions()), "sites": len(store.sites()), "clusters": len(store.clusters()),
            "devices": len(store.devices()),
            "events": store.engine.execute("SELECT COUNT(*) FROM device_events")[0][0],
        }


def test_import_creates_then_is_idempotent(db_url, example):
    with ZtpStore(db_url) as store:
        first = store.import_data(example, "tester")
        assert first["created"] == {"regions": ["emea"], "sites": ["plant-a", "plant-b"], "clusters": ["plant-a-line1"],
                                    "devices": ["SN-0001", "SN-0002", "SN-0003"]}
        second = store.import_data(example, "tester")
        assert not any(second["created"].values()) and not any(second["updated"].values())
        assert second["unchanged"] == {"regions": 1, "sites": 2, "clusters": 1, "devices": 3}
        device = store.devices(serial=["SN-0001"])[0]
    assert device["hostname"] == "plant-a-c-sn0001"
    assert device["region"] == "emea" and device["topology"] == "multi_node" and device["platform"] == "k3s"
    assert device["hardware"] == {"cpu_cores": 4, "memory_mb": 8192, "disk_gb": 128, "disk_type": "ssd"}
    assert device["state"] == "registered" and device["revision"] == 1
    assert device["cluster_workloads"][1] == {"name": "historian", "type": "database"}


def test_import_updates_only_what_differs(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        change = {"devices": [{"serial": "SN-0002", "ip": "192.0.2.99", "labels": {"rack": "7"}}],
                  "sites": [{"name": "plant-b", "connectivity": "airgapped"}]}
        result = store.import_data(change, "tester")
        assert result["updated"]["devices"] == ["SN-0002"] and result["updated"]["sites"] == ["plant-b"]
        device = store.devices(serial=["SN-0002"])[0]
        assert device["ip"] == "192.0.2.99" and device["labels"] == {"rack": "7"} and device["revision"] == 2
        assert device["mac"] == "00:11:22:33:44:56"  # left out, kept
        assert result["diff"]["before"]["devices"]["SN-0002"]["ip"] == "192.0.2.11"


@pytest.mark.parametrize("mutate,record,field,text", [
    (lambda d: d["devices"][1].update(mac="00:11:22:33:44:5"), "device SN-0002", "mac", "is not a MAC address"),
    (lambda d: d["devices"][1].update(mac="00:11:22:33:44:55"), "device SN-0002", "mac", "already belongs to device SN-0001"),
    (lambda d: d["devices"][1].update(macs=["00-11-22-33-44-55"]), "device SN-0002", "macs", "already belongs to device SN-0001"),
    (lambda d: d["devices"][1].update(serial="SN-0001"), "device SN-0001", "serial", "listed twice"),
    (lambda d: d["devices"][1].update(ip="192.0.2.256"), "device SN-0002", "ip", "not an IPv4 or IPv6"),
    (lambda d: d["devices"][1].update(site="plant-z"), "device SN-0002", "site", "unknown site 'plant-z'"),
    (lambda d: d["devices"][2].update(cluster="nope"), "device SN-0003", "cluster", "unknown cluster 'nope'"),
    (lambda d: d["devices"][2].update(cluster="plant-a-line1"), "device SN-0003", "cluster", "belongs to site plant-a"),
    (lambda d: d["devices"][1].update(state="flying"), "device SN-0002", "state", "'flying' is not one of"),
    (lambda d: d["devices"][1].update(hardware={"memory_mb": -1}), "device SN-0002", "hardware.memory_mb", "must not be negative"),
    (lambda d: d["devices"][1].update(role="boss"), "device SN-0002", "role", "'boss' is not one of"),
    (lambda d: d["devices"][1].update(labels={"k": "x" * 300}), "device SN-0002", "labels.k", "at most 255"),
    (lambda d: d["devices"][1].update(color="red"), "device SN-0002", "color", "unknown field"),
    (lambda d: d["devices"][2].update(hostname="plant-b-windows-host"), "device SN-0003", "hostname", "at most 15"),
    (lambda d: d["devices"][1].update(hostname="plant-a-c-sn0001"), "device SN-0002", "hostname", "already used by device SN-0001 in site plant-a"),
    (lambda d: d["devices"][1].pop("site"), "device SN-0002", "site", "required for a new device"),
    (lambda d: d["clusters"][0]["workloads"].append({"name": "x", "type": "gigantic"}), "cluster plant-a-line1", "workloads[2].type", "not one of"),
    (lambda d: d["sites"][0].update(topology="mesh"), "site plant-a", "topology", "'mesh' is not one of"),
    (lambda d: d["sites"][0].update(region="apac"), "site plant-a", "region", "unknown region 'apac'"),
    (lambda d: d["devices"][1].update(serial="S" * 80), "devices[1]", "serial", "at most 64"),
])
def test_bad_input_names_record_and_field_and_writes_nothing(db_url, example, mutate, record, field, text):
    mutate(example)
    with ZtpStore(db_url) as store:
        with pytest.raises(ZtpError) as err:
            store.import_data(example, "tester")
    assert (err.value.record, err.value.field) == (record, field)
    assert text in str(err.value)
    # one transaction: the valid records before the bad one are not written either
    assert counts(db_url) == {"regions": 0, "sites": 0, "clusters": 0, "devices": 0, "events": 0}


def test_bad_update_leaves_database_as_it_was(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        before = store.devices(with_events=True)
        with pytest.raises(ZtpError, match="device SN-0003: field 'mac'"):
            store.save_devices([{"serial": "SN-0002", "labels": {"a": "b"}, "state": "discovered"},
                                {"serial": "SN-0003", "mac": "00:11:22:33:44:55"}], "tester")
        assert store.devices(with_events=True) == before


def test_macs_can_move_between_devices_in_one_batch(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        store.save_devices([{"serial": "SN-0001", "mac": "aa:aa:aa:aa:aa:aa"},
                            {"serial": "SN-0002", "macs": ["00:11:22:33:44:55"]}], "tester")
        found = dict((d["serial"], d) for d in store.devices())
    assert found["SN-0001"]["mac"] == "aa:aa:aa:aa:aa:aa"
    assert found["SN-0002"]["macs"] == ["00:11:22:33:44:55"]


def test_lifecycle_moves_are_logged(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        for state in ("discovered", "os_installed"):
            store.save_devices([{"serial": "SN-0001", "state": state, "reason": "stage done"}], "ops")
        store.save_devices([{"serial": "SN-0001", "state": "failed", "reason": "sshd -t failed"}], "ops")
        failed = store.devices(serial=["SN-0001"])[0]
        assert (failed["state"], failed["failed_stage"], failed["failure_reason"]) == ("failed", "configure", "sshd -t failed")
        # the same failure again is no change
        again = store.save_devices([{"serial": "SN-0001", "state": "failed", "reason": "sshd -t failed"}], "ops")
        assert again["unchanged"]["devices"] == 1
        with pytest.raises(ZtpError, match="device SN-0001: field 'state': cannot move from failed to platform_ready"):
            store.save_devices([{"serial": "SN-0001", "state": "platform_ready"}], "ops")
        store.save_devices([{"serial": "SN-0001", "state": "configured", "reason": "retry"}], "ops")
        device = store.devices(serial=["SN-0001"], with_events=True)[0]
    assert device["state"] == "configured" and device["failed_stage"] is None and device["failure_reason"] is None
    assert [(e["from"], e["to"], e["stage"], e["by"]) for e in device["events"]] == [
        (None, "registered", None, "tester"), ("registered", "discovered", None, "ops"),
        ("discovered", "os_installed", None, "ops"), ("os_installed", "failed", "configure", "ops"),
        ("failed", "configured", None, "ops"),
    ]


def test_failed_device_keeps_its_failure_when_updated_without_a_state(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        store.save_devices([{"serial": "SN-0001", "state": "failed", "reason": "no DHCP lease"}], "ops")
        # the planning file again, and a label: neither names a state
        again = store.import_data(example, "tester")
        assert again["unchanged"]["devices"] == 3 and not again["updated"]["devices"]
        store.save_devices([{"serial": "SN-0001", "labels": {"rack": "7"}, "reason": "relabelled"}], "ops")
        with pytest.raises(ZtpError, match="device SN-0001: field 'stage': is only used with state: failed"):
            store.save_devices([{"serial": "SN-0001", "stage": "configure"}], "ops")
        device = store.devices(serial=["SN-0001"], with_events=True)[0]
    assert (device["state"], device["failed_stage"], device["failure_reason"]) == ("failed", "discover", "no DHCP lease")
    assert [(e["from"], e["to"]) for e in device["events"]] == [(None, "registered"), ("registered", "failed")]


def test_event_log_is_append_only(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
    conn = sqlite3.connect(db_url[len("sqlite://"):])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE device_events SET actor = 'mallory'")
    conn.close()


def test_new_device_may_be_reported_from_a_later_state(db_url, example):
    new = example["devices"].pop(0)
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        new["state"] = "discovered"
        store.save_devices([new], "discover-stage")
        device = store.devices(serial=["SN-0001"], with_events=True)[0]
        assert device["state"] == "discovered"
        assert [(e["from"], e["to"]) for e in device["events"]] == [(None, "registered"), ("registered", "discovered")]
        new.update(serial="SN-0009", mac="02:00:00:00:00:09", state="operational")
        with pytest.raises(ZtpError, match="device SN-0009: field 'state': cannot move from registered to operational"):
            store.save_devices([new], "t")


def test_device_can_leave_its_cluster(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        store.save_devices([{"serial": "SN-0002", "cluster": ""}], "t")
        assert store.devices(serial=["SN-0002"])[0]["cluster"] is None


def test_labels_merge_or_purge(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        store.save_devices([{"serial": "SN-0001", "labels": {"rack": "7"}}], "t")
        assert store.devices(serial=["SN-0001"])[0]["labels"] == {"line": "1", "rack": "7"}
        store.save_devices([{"serial": "SN-0001", "labels": {"rack": "8"}}], "t", purge_labels=True)
        assert store.devices(serial=["SN-0001"])[0]["labels"] == {"rack": "8"}


def test_hostname_is_frozen_past_configured(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        for state in ("discovered", "os_installed", "configured"):
            store.save_devices([{"serial": "SN-0001", "state": state}], "t")
        # still configured: a rename is allowed
        store.save_devices([{"serial": "SN-0001", "hostname": "ipc-line1-a"}], "t")
        store.save_devices([{"serial": "SN-0001", "state": "platform_ready"}], "t")
        with pytest.raises(ZtpError, match="device SN-0001: field 'hostname': is frozen at 'ipc-line1-a'"):
            store.save_devices([{"serial": "SN-0001", "hostname": "other"}], "t")
        with pytest.raises(ZtpError, match="field 'site': cannot move"):
            store.save_devices([{"serial": "SN-0001", "site": "plant-b", "cluster": ""}], "t")


def test_derived_hostnames_stay_unique_per_site(db_url, example):
    example["devices"] = [
        {"serial": "A-000001", "mac": "02:00:00:00:00:01", "site": "plant-a", "role": "worker"},
        {"serial": "B-000001", "mac": "02:00:00:00:00:02", "site": "plant-a", "role": "worker"},
        {"serial": "C-000001", "mac": "02:00:00:00:00:03", "site": "plant-b", "role": "worker"},
    ]
    with ZtpStore(db_url) as store:
        store.import_data(example, "t")
        names = dict((d["serial"], d["hostname"]) for d in store.devices())
    assert names["A-000001"] == "plant-a-w-000001"
    assert names["B-000001"] != names["A-000001"]
    assert names["C-000001"] == "plant-b-w-000001"


def test_hostnames_are_unique_across_sites(db_url, example):
    # Windows names shorten the site: "plant-1x" and "plant1x" both become "plant1"
    example["sites"] += [{"name": "plant-1x", "region": "emea", "topology": "single_node"},
                         {"name": "plant1x", "region": "emea", "topology": "single_node"}]
    example["devices"] = [
        {"serial": "A-777777", "mac": "02:00:00:00:00:01", "site": "plant-1x", "role": "worker", "os_family": "windows"},
        {"serial": "B-777777", "mac": "02:00:00:00:00:02", "site": "plant1x", "role": "worker", "os_family": "windows"},
    ]
    with ZtpStore(db_url) as store:
        store.import_data(example, "t")
        names = [d["hostname"] for d in store.devices()]
        assert len(set(names)) == 2 and all(len(n) <= 15 for n in names)
        first = [d["hostname"] for d in store.devices() if d["serial"] == "A-777777"][0]
        with pytest.raises(ZtpError, match="already used by device A-777777 in site plant-1x"):
            store.save_devices([{"serial": "B-777777", "hostname": first}], "t")


def test_check_mode_creates_no_file_and_writes_nothing(tmp_path, example):
    path = tmp_path / "ztp.db"
    url = "sqlite:///%s" % path
    with ZtpStore(url, dry_run=True) as store:
        result = store.import_data(example, "t")
        assert len(result["created"]["devices"]) == 3
        assert len(store.devices()) == 3  # visible inside the check-mode transaction
    assert not path.exists()
    with ZtpStore(url) as store:
        store.import_data(example, "t")
    with ZtpStore(url, dry_run=True) as store:
        store.save_devices([{"serial": "SN-0001", "state": "discovered"}], "t")
    with ZtpStore(url) as store:
        assert store.devices(serial=["SN-0001"])[0]["state"] == "registered"


def test_database_file_is_private(db_url):
    ZtpStore(db_url).close()
    assert os.stat(db_url[len("sqlite://"):]).st_mode & 0o777 == 0o600


# Migrations -------------------------------------------------------------------------

def _make_v1(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE ztp_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for statement in ztp_schema.MIGRATIONS[1]:
        conn.execute(statement.format(**ztp_schema.DIALECT_TOKENS["sqlite"]))
    conn.execute("INSERT INTO ztp_schema_version VALUES (1, '2026-01-01T00:00:00Z')")
    conn.execute("INSERT INTO regions VALUES ('emea', 'x', 'x')")
    conn.commit()
    conn.close()


def test_older_database_is_upgraded_once(tmp_path):
    path = tmp_path / "old.db"
    _make_v1(str(path))
    with ZtpStore("sqlite:///%s" % path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.regions() == [{"name": "emea"}]
        assert store.engine.table_exists("device_events")
    with ZtpStore("sqlite:///%s" % path) as store:
        rows = store.engine.execute("SELECT version FROM ztp_schema_version ORDER BY version")
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))


def test_check_mode_does_not_upgrade(tmp_path):
    path = tmp_path / "old.db"
    _make_v1(str(path))
    with ZtpStore("sqlite:///%s" % path, dry_run=True) as store:
        assert store.schema_version() == SCHEMA_VERSION
    conn = sqlite3.connect(str(path))
    assert conn.execute("SELECT MAX(version) FROM ztp_schema_version").fetchone()[0] == 1


def test_newer_database_is_refused(db_url):
    ZtpStore(db_url).close()
    conn = sqlite3.connect(db_url[len("sqlite://"):])
    conn.execute("INSERT INTO ztp_schema_version VALUES (?, 'x')", (SCHEMA_VERSION + 5,))
    conn.commit()
    conn.close()
    with pytest.raises(ZtpDatabaseError, match="schema version %d, newer than the %d" % (SCHEMA_VERSION + 5, SCHEMA_VERSION)):
        ZtpStore(db_url)


# URLs --------------------------------------------------------------------------------

def test_urls():
    assert redact_url("postgresql://ztp:s3cret@db:5432/ztp") == "postgresql://ztp:********@db:5432/ztp"
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    with pytest.raises(ZtpDatabaseError, match="SQLite URLs look like sqlite:///abs/path/ztp.db"):
        ZtpStore("sqlite://relative.db")
    with pytest.raises(ZtpDatabaseError, match="unsupported ZTP database URL mysql://u:\\*+@h/db"):
        ZtpStore("mysql://u:pw@h/db")


def test_url_from_environment(monkeypatch, db_url):
    monkeypatch.setenv("EDGEFLEET_ZTP_DB", db_url)
    with ZtpStore() as store:
        assert store.url == db_url
    monkeypatch.delenv("EDGEFLEET_ZTP_DB")
    with pytest.raises(ZtpDatabaseError, match="EDGEFLEET_ZTP_DB"):
        ZtpStore()


def test_unreachable_postgres_message_hides_password():
    with pytest.raises(ZtpDatabaseError) as err:
        ZtpStore("postgresql://ztp:TopSecret99@127.0.0.1:1/ztp")
    assert "TopSecret99" not in str(err.value) and "********" in str(err.value)


def test_inventory_must_not_create_a_database(tmp_path):
    with pytest.raises(ZtpDatabaseError, match="does not exist"):
        ZtpStore("sqlite:///%s" % (tmp_path / "missing.db"), create=False)


# Scale and concurrency -----------------------------------------------------------------

def _fleet(n, sites=5):
    return {
        "regions": [{"name": "r"}],
        "sites": [{"name": "s%d" % i, "region": "r", "topology": "multi_node"} for i in range(sites)],
        "devices": [{"serial": "SN%05d" % i, "mac": "02:00:00:00:%02x:%02x" % (i // 256, i % 256),
                     "site": "s%d" % (i % sites), "role": "worker", "labels": {"i": str(i)}} for i in range(n)],
    }


def test_reads_take_a_constant_number_of_queries(tmp_path):
    statements = []
    for n in (10, 300):
        url = "sqlite:///%s" % (tmp_path / ("f%d.db" % n))
        with ZtpStore(url) as store:
            store.import_data(_fleet(n), "t")
            before = store.engine.statements
            assert len(store.devices()) == n
            statements.append(store.engine.statements - before)
    assert statements[0] == statements[1] == 2


def test_v4_renames_the_install_os_stage_of_failed_devices(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "test")
        store.save_devices([{"serial": "SN-0001", "state": "failed", "stage": "os_install", "reason": "no disk"}], "test")
    # as a collection before the rename wrote it
    conn = sqlite3.connect(db_url[len("sqlite://"):])
    conn.execute("UPDATE devices SET failed_stage = 'install_os' WHERE serial = 'SN-0001'")
    conn.execute("DELETE FROM ztp_schema_version WHERE version >= 4")
    conn.execute("DROP TABLE cloud_breakers")  # migrations 5 and 6 applied again after 4 (7, 8: IF NOT EXISTS)
    conn.execute("ALTER TABLE devices DROP COLUMN storage")
    conn.execute("ALTER TABLE sites DROP COLUMN proxy")  # 9 applied again too
    conn.commit()
    conn.close()
    with ZtpStore(db_url) as store:
        device = store.devices(serial=["SN-0001"])[0]
        assert (device["state"], device["failed_stage"]) == ("failed", "os_install")
        store.save_devices([{"serial": "SN-0001", "state": "discovered", "reason": "retry"}], "test")


def test_a_site_proxy_reaches_its_devices_and_a_bad_one_writes_nothing(db_url, example):
    with ZtpStore(db_url) as store:
        store.import_data(example, "tester")
        proxy = {"https_proxy": "http://proxy.plant-a.example:3128", "no_proxy": ["10.42.0.0/16", ".svc"]}
        result = store.import_data({"sites": [{"name": "plant-a", "proxy": proxy}]}, "tester")
        assert result["updated"]["sites"] == ["plant-a"]
        assert store.import_data({"sites": [{"name": "plant-a", "proxy": proxy}]}, "tester")["unchanged"]["sites"] == 1
        wanted = {"https_proxy": "http://proxy.plant-a.example:3128", "no_proxy": "10.42.0.0/16,.svc"}
        assert [s["proxy"] for s in store.sites()] == [wanted, {}]
        assert dict((d["site"], d["site_proxy"]) for d in store.devices()) == {"plant-a": wanted, "plant-b": {}}
        before = counts(db_url)
        bad = {"sites": [{"name": "plant-b", "proxy": {"https_proxy": "http://u:secret@proxy:3128"}}],
               "devices": [{"serial": "SN-0002", "ip": "192.0.2.99"}]}
        with pytest.raises(ZtpError, match="site plant-b: field 'proxy.https_proxy'"):
            store.import_data(bad, "tester")
        assert counts(db_url) == before and store.devices(serial=["SN-0002"])[0]["ip"] == "192.0.2.11"
        assert [s["proxy"] for s in store.sites()] == [wanted, {}]
