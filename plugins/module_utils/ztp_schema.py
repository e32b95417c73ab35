# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ZTP database schema: versioned migrations for both engines.

A database records the migrations applied in ``ztp_schema_version``. Opening
one applies the missing migrations in one write transaction (ZtpStore runs
``migrate`` under the write lock); a database newer than this collection is
refused rather than written with rules it does not know.
"""

from __future__ import annotations

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_engine import (
    Engine,
    ZtpDatabaseError,
    now_iso,
)

SCHEMA_VERSION = 9

# Migrations: ordered, each a list of statements. {id_pk} and {append_only} differ per engine.
MIGRATIONS = {
    1: [
        "CREATE TABLE regions (name TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE TABLE sites (name TEXT PRIMARY KEY, region TEXT NOT NULL REFERENCES regions(name),"
        " topology TEXT NOT NULL, kind TEXT NOT NULL, connectivity TEXT NOT NULL,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE TABLE clusters (name TEXT PRIMARY KEY, site TEXT NOT NULL REFERENCES sites(name),"
        " platform TEXT NOT NULL, workloads TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE TABLE devices (serial TEXT PRIMARY KEY, hostname TEXT NOT NULL, hostname_source TEXT NOT NULL,"
        " site TEXT NOT NULL REFERENCES sites(name), cluster TEXT REFERENCES clusters(name),"
        " role TEXT NOT NULL, os_family TEXT NOT NULL, ip TEXT,"
        " cpu_cores INTEGER, memory_mb INTEGER, disk_gb DOUBLE PRECISION, disk_type TEXT,"
        " labels TEXT NOT NULL, facts TEXT NOT NULL, state TEXT NOT NULL, failed_stage TEXT, failure_reason TEXT,"
        " revision INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
        " state_changed_at TEXT NOT NULL, UNIQUE (site, hostname))",
        "CREATE INDEX devices_state ON devices (state)",
        "CREATE INDEX devices_cluster ON devices (cluster)",
        # Every MAC of every device, so uniqueness across all records is the
        # database's job, not a race between two importers.
        "CREATE TABLE device_macs (mac TEXT PRIMARY KEY, serial TEXT NOT NULL REFERENCES devices(serial),"
        " is_primary INTEGER NOT NULL)",
        "CREATE INDEX device_macs_serial ON device_macs (serial)",
        "CREATE UNIQUE INDEX device_macs_one_primary ON device_macs (serial) WHERE is_primary = 1",
    ],
    2: [
        "CREATE TABLE device_events (id {id_pk}, serial TEXT NOT NULL REFERENCES devices(serial),"
        " from_state TEXT, to_state TEXT NOT NULL, stage TEXT, at TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT)",
        "CREATE INDEX device_events_serial ON device_events (serial, id)",
        "{append_only}",
    ],
    # The hostname is the inventory host name: unique in the fleet, not only per site.
    3: [
        "CREATE UNIQUE INDEX devices_hostname ON devices (hostname)",
    ],
    # The stage install_os is called os_install (the stage names of site.yml).
    # The event log is append-only and keeps the name it was written with.
    4: [
        "UPDATE devices SET failed_stage = 'os_install' WHERE failed_stage = 'install_os'",
    ],
    # The cloud circuit breakers, one per site and cloud dependency (cloud_breaker, ztp_breakers).
    5: [
        "CREATE TABLE cloud_breakers (site TEXT NOT NULL REFERENCES sites(name), dependency TEXT NOT NULL,"
        " state TEXT NOT NULL, failures INTEGER NOT NULL, opened_at TEXT, next_retry TEXT, last_error TEXT,"
        " updated_at TEXT NOT NULL, PRIMARY KEY (site, dependency))",
    ],
    # The device's dedicated storage disks ({"disks": [{id, wipe_allowed}]}), for the storage stage.
    6: [
        "ALTER TABLE devices ADD COLUMN storage TEXT NOT NULL DEFAULT '{{}}'",  # {{}}: str.format
    ],
    # Network boot (boot_store): per-device netboot flag, one-time install tokens
    # (only their SHA-256 is stored), machines seen booting with an unknown MAC,
    # and the boot server's log of refused calls. IF NOT EXISTS: re-applying it
    # after an older migration is replayed (tests do) is harmless.
    7: [
        "CREATE TABLE IF NOT EXISTS device_boot (serial TEXT PRIMARY KEY REFERENCES devices(serial), netboot INTEGER NOT NULL,"
        " updated_at TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS boot_tokens (digest TEXT PRIMARY KEY, serial TEXT NOT NULL REFERENCES devices(serial),"
        " mac TEXT NOT NULL, issued_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT, revoked_why TEXT)",
        "CREATE INDEX IF NOT EXISTS boot_tokens_serial ON boot_tokens (serial)",
        "CREATE TABLE IF NOT EXISTS boot_machines (mac TEXT PRIMARY KEY, status TEXT NOT NULL, serial TEXT,"
        " device TEXT REFERENCES devices(serial), attributes TEXT NOT NULL, first_seen TEXT NOT NULL,"
        " last_seen TEXT NOT NULL, seen INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS boot_machines_status ON boot_machines (status)",
        "CREATE TABLE IF NOT EXISTS boot_log (id {id_pk}, at TEXT NOT NULL, event TEXT NOT NULL, mac TEXT, serial TEXT,"
        " client TEXT, detail TEXT NOT NULL)",
    ],
    # The orchestrator (orchestrator_store): its runs of site.yml, the devices each
    # run holds (a device is in at most one active run: the partial unique index),
    # each run's lease (renewed by the process running it; a run whose lease
    # expired is over), and one lock row its claims serialise on. Re-appliable
    # like 7.
    8: [
        "CREATE TABLE IF NOT EXISTS orchestrator_runs (id {id_pk}, site TEXT NOT NULL, cluster TEXT, owner TEXT NOT NULL,"
        " host TEXT NOT NULL, status TEXT NOT NULL, lease_until TEXT NOT NULL, pid INTEGER, ansible_pid INTEGER,"
        " started_at TEXT NOT NULL, finished_at TEXT, rc INTEGER, artifacts TEXT, reason TEXT)",
        "CREATE INDEX IF NOT EXISTS orchestrator_runs_status ON orchestrator_runs (status)",
        "CREATE TABLE IF NOT EXISTS orchestrator_devices (run_id BIGINT NOT NULL REFERENCES orchestrator_runs(id),"
        " serial TEXT NOT NULL REFERENCES devices(serial), since TEXT NOT NULL, active INTEGER,"
        " outcome TEXT, stage TEXT, reason TEXT, PRIMARY KEY (run_id, serial))",
        "CREATE UNIQUE INDEX IF NOT EXISTS orchestrator_devices_one_active ON orchestrator_devices (serial) WHERE active = 1",
        "CREATE INDEX IF NOT EXISTS orchestrator_devices_serial ON orchestrator_devices (serial, since)",
        "CREATE TABLE IF NOT EXISTS orchestrator_lock (id INTEGER PRIMARY KEY)",
        "INSERT INTO orchestrator_lock (id) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM orchestrator_lock)",
    ],
    # A site's outbound proxy ({https_proxy, http_proxy, no_proxy}; ztp_model.check_proxy), for the
    # cloud stage's agents.
    9: [
        "ALTER TABLE sites ADD COLUMN proxy TEXT NOT NULL DEFAULT '{{}}'",  # {{}}: str.format
    ],
}

DIALECT_TOKENS = {
    "sqlite": {
        "id_pk": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "append_only": "CREATE TRIGGER device_events_append_only BEFORE UPDATE ON device_events"
        " BEGIN SELECT RAISE(ABORT, 'device_events is append-only'); END",
    },
    "postgresql": {
        "id_pk": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "append_only": "CREATE FUNCTION ztp_events_append_only() RETURNS trigger LANGUAGE plpgsql AS"
        " $fn$ BEGIN RAISE EXCEPTION 'device_events is append-only'; END $fn$;"
        " CREATE TRIGGER device_events_append_only BEFORE UPDATE OR DELETE ON device_events"
        " FOR EACH ROW EXECUTE FUNCTION ztp_events_append_only()",
    },
}


def schema_version(engine: Engine) -> int:
    """The highest migration applied; 0 for an empty database."""
    if not engine.table_exists("ztp_schema_version"):
        return 0
    return engine.execute("SELECT MAX(version) FROM ztp_schema_version")[0][0] or 0


def needs_migration(engine: Engine, redacted_url: str) -> bool:
    """Whether migrations are missing; a newer schema is refused."""
    version = schema_version(engine)
    if version > SCHEMA_VERSION:
        raise ZtpDatabaseError(
            "the ZTP database %s has schema version %d, newer than the %d this edgefleet.platform supports:"
            " upgrade the collection" % (redacted_url, version, SCHEMA_VERSION)
        )
    return version != SCHEMA_VERSION


def migrate(engine: Engine) -> None:
    """Apply the missing migrations; run inside a write transaction."""
    # Re-read inside the lock: another process may have migrated meanwhile.
    if not engine.table_exists("ztp_schema_version"):
        engine.script("CREATE TABLE ztp_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    tokens = DIALECT_TOKENS[engine.dialect]
    for number in range(schema_version(engine) + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[number]:
            engine.script(statement.format(**tokens))
        engine.execute("INSERT INTO ztp_schema_version (version, applied_at) VALUES (?, ?)", (number, now_iso()))
