# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data layer's guarantees on both engines: concurrency, migrations, append-only log."""

from __future__ import annotations

import multiprocessing

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_db, ztp_engine, ztp_schema
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpDatabaseError, ZtpStore

FLEET = {
    "regions": [{"name": "r"}],
    "sites": [{"name": "s1", "region": "r", "topology": "multi_node"}],
    "devices": [{"serial": "SN%03d" % i, "mac": "02:00:00:00:00:%02x" % i, "site": "s1", "role": "worker"} for i in range(20)],
}


def _run_together(jobs):
    """Run (function, args) jobs in parallel processes; each must succeed."""
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=func, args=args) for func, args in jobs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
        assert worker.exitcode == 0


def _writer(url, key, rounds, bulk):
    for i in range(rounds):
        with ZtpStore(url) as store:
            if bulk:
                # a whole-batch writer: every device, as a stage write-back does
                store.save_devices([{"serial": d["serial"], "labels": {key: str(i)}} for d in FLEET["devices"]], key)
            else:
                store.save_devices([{"serial": "SN000", "labels": {key: str(i)}}], key)


@pytest.mark.parametrize("bulk", [False, True], ids=["one-device", "whole-batch"])
def test_concurrent_writers_lose_no_update(db_url, bulk):
    with ZtpStore(db_url) as store:
        store.import_data(FLEET, "t")
    rounds = 25
    _run_together([(_writer, (db_url, key, rounds, bulk)) for key in ("a", "b")])
    with ZtpStore(db_url) as store:
        device = store.devices(serial=["SN000"])[0]
        events = store.engine.execute("SELECT COUNT(*) FROM device_events")[0][0]
    assert device["labels"] == {"a": str(rounds - 1), "b": str(rounds - 1)}
    assert device["revision"] == 1 + 2 * rounds
    assert events == len(FLEET["devices"])  # label changes are not state changes


def _concurrent_import(url, offset):
    fleet = dict(FLEET, devices=[{"serial": "NEW%03d" % (i % 10), "mac": "02:00:00:00:01:%02x" % (i % 10),
                                  "site": "s1", "role": "worker", "labels": {"writer": str(offset)}} for i in range(10)])
    with ZtpStore(url) as store:
        store.import_data(fleet, "writer%d" % offset)


def test_two_importers_creating_the_same_devices_both_succeed(db_url):
    with ZtpStore(db_url) as store:
        store.import_data(FLEET, "t")
    _run_together([(_concurrent_import, (db_url, n)) for n in (1, 2)])
    with ZtpStore(db_url) as store:
        created = store.devices(serial=["NEW%03d" % i for i in range(10)], with_events=True)
    assert len(created) == 10
    # the second importer updated what the first created: one registration event each, no duplicates
    assert all(len(d["events"]) == 1 for d in created)


def _v1(url):
    """A database as the first release of the schema left it."""
    store = ZtpStore.__new__(ZtpStore)
    store.url, store.dry_run, store._in_txn = url, False, False
    store.engine = ztp_engine.open_engine(url, False, True)
    tokens = ztp_schema.DIALECT_TOKENS[store.engine.dialect]
    store.engine.begin_write()
    store.engine.script("CREATE TABLE ztp_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for statement in ztp_schema.MIGRATIONS[1]:
        store.engine.script(statement.format(**tokens))
    store.engine.execute("INSERT INTO ztp_schema_version VALUES (1, 'then')")
    store.engine.execute("INSERT INTO regions VALUES ('emea', 'then', 'then')")
    store.engine.commit()
    store.engine.close()


def test_migration_from_an_older_schema(db_url):
    _v1(db_url)
    with ZtpStore(db_url, dry_run=True) as store:  # check mode upgrades nothing
        assert store.schema_version() == ztp_db.SCHEMA_VERSION
    with ZtpStore(db_url) as store:
        assert store.regions() == [{"name": "emea"}]
        store.import_data(FLEET, "t")  # the v2 event log works
        versions = [r[0] for r in store.engine.execute("SELECT version FROM ztp_schema_version ORDER BY version")]
    assert versions == list(range(1, ztp_db.SCHEMA_VERSION + 1))


def test_newer_schema_is_refused(db_url):
    with ZtpStore(db_url) as store:
        store.engine.begin_write()
        store.engine.execute("INSERT INTO ztp_schema_version VALUES (99, 'future')")
        store.engine.commit()
    with pytest.raises(ZtpDatabaseError, match="schema version 99, newer than"):
        ZtpStore(db_url)


def test_event_log_is_append_only(db_url):
    with ZtpStore(db_url) as store:
        store.import_data(FLEET, "t")
        with pytest.raises(Exception, match="append-only"):
            store.engine.begin_write()
            try:
                store.engine.execute("UPDATE device_events SET actor = 'mallory'")
            finally:
                store.engine.rollback()
