# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ZTP database: the one data layer every plugin and module uses.

``ZtpStore`` opens a database by URL (``sqlite:///abs/path.db`` or
``postgresql://...``), brings its schema up to date and holds the reads and
writes of regions, sites, clusters, devices and the device event log. All SQL of
the collection lives in this layer:

- ztp_engine: URLs, connections, the SQLite/PostgreSQL differences;
- ztp_schema: versioned migrations;
- ztp_devices: device rows and the device batch (validation, merge, write);
- ztp_db (this file): the store, its transactions, reads and imports.

Writes run in one transaction each (a bulk import is all or nothing). SQLite
writers take the write lock up front (BEGIN IMMEDIATE, WAL, busy timeout);
PostgreSQL writers lock the device rows they change (SELECT ... FOR UPDATE, in
serial order so two writers cannot deadlock) and retry when a concurrent insert
wins a unique key, so two processes updating devices at once lose no update.
"""

from __future__ import annotations

import contextlib
import json
import time
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_devices import (
    DEVICE_COLUMNS,
    DeviceBatch,
    device_from_row,
    load_lifecycle,
    record_diff,
    reject_unknown,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_engine import (
    ENV_VAR,
    ZtpDatabaseError,
    dumps,
    is_driver_error,
    now_iso,
    open_engine,
    placeholders,
    redact_url,
    resolve_url,
    scrub,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import (
    CONNECTIVITY,
    LIFECYCLE,
    PLATFORMS,
    SITE_KINDS,
    TOPOLOGIES,
    ZtpError,
    check_choice,
    check_name,
    check_proxy,
    check_serial,
    check_text,
    check_workloads,
    plan_stage,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_schema import (
    SCHEMA_VERSION,
    migrate,
    needs_migration,
    schema_version,
)

PG_RETRIES = 5
IMPORT_KEYS = ("regions", "sites", "clusters", "devices")
STAGE_REPORT_KEYS = ("serial", "host", "failure", "hardware", "facts", "ip")


def new_result() -> dict:
    """What a write reports: names created and updated, counts unchanged, per kind; the diff."""
    return {"created": {k: [] for k in IMPORT_KEYS}, "updated": {k: [] for k in IMPORT_KEYS},
            "unchanged": {k: 0 for k in IMPORT_KEYS}, "diff": {"before": {}, "after": {}}}


class ZtpStore:
    """One open ZTP database.

    With ``dry_run=True`` (check mode) nothing is ever committed: the whole
    session is one transaction that is rolled back on close, so check mode
    reports exactly what a real run would change, migrations included.
    """

    def __init__(self, url: str | None = None, dry_run: bool = False, create: bool = True) -> None:
        self.url = resolve_url(url)
        self.dry_run = dry_run
        self.engine = open_engine(self.url, dry_run, create)
        self._in_txn = False
        try:
            if dry_run:
                # deferred: check mode takes no write lock until it must
                self.engine.script("BEGIN")
                self._in_txn = True
            self._ensure_schema()
        except Exception:
            self.close()
            raise

    # context manager
    def __enter__(self) -> "ZtpStore":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.close()

    def close(self) -> None:
        if self._in_txn:
            self.engine.rollback()
            self._in_txn = False
        self.engine.close()

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    # transactions -------------------------------------------------------------
    @contextlib.contextmanager
    def _write(self) -> t.Iterator[None]:
        """One write transaction; ZtpError or any failure leaves nothing written."""
        if self.dry_run:
            self.engine.script("SAVEPOINT ztp_write")
            try:
                yield
            except BaseException:
                self.engine.script("ROLLBACK TO SAVEPOINT ztp_write")
                raise
            self.engine.script("RELEASE SAVEPOINT ztp_write")
            return
        self.engine.begin_write()
        done = False
        try:
            yield
            self.engine.commit()
            done = True
        finally:
            if not done:
                self.engine.rollback()

    def _run_write(self, func: t.Callable[[], t.Any]) -> t.Any:
        """Run func in a write transaction, retrying PostgreSQL races."""
        for attempt in range(PG_RETRIES):
            try:
                with self._write():
                    return func()
            except ZtpError:
                raise
            except Exception as exc:
                if self.dry_run or attempt == PG_RETRIES - 1 or not self.engine.is_retryable(exc):
                    if is_driver_error(exc):
                        raise ZtpDatabaseError(
                            "ZTP database %s: %s" % (self.redacted_url, scrub(str(exc).strip(), self.url))) from None
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    # schema -------------------------------------------------------------------
    def schema_version(self) -> int:
        return schema_version(self.engine)

    def _ensure_schema(self) -> None:
        if needs_migration(self.engine, self.redacted_url):
            self._run_write(lambda: migrate(self.engine))

    # reads ----------------------------------------------------------------------
    def _where(self, alias: str, filters: dict) -> t.Tuple[str, list]:
        """WHERE clause for device filters: site, region, cluster, state, serial lists."""
        clauses = []
        params = []  # type: list
        columns = {"site": alias + ".site", "region": "s.region", "cluster": alias + ".cluster",
                   "state": alias + ".state", "serial": alias + ".serial"}
        for key, column in columns.items():
            values = filters.get(key)
            if values:
                values = list(values)
                clauses.append("%s IN (%s)" % (column, placeholders(len(values))))
                params.extend(values)
        if not filters.get("include_decommissioned", True) and "decommissioned" not in (filters.get("state") or ()):
            clauses.append(alias + ".state <> 'decommissioned'")
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def devices(self, site: t.Sequence[str] = (), region: t.Sequence[str] = (), cluster: t.Sequence[str] = (),
                state: t.Sequence[str] = (), serial: t.Sequence[str] = (), include_decommissioned: bool = True,
                with_events: bool = False, with_facts: bool = True) -> t.List[dict]:
        """Devices with their site, region and cluster joined in: a fixed number of queries."""
        lists = dict(site=site, region=region, cluster=cluster, state=state, serial=serial)
        for key, values in lists.items():
            if len(values) > 10000:
                raise ZtpError("query", key, "at most 10000 values may be given")
        filters: t.Dict[str, t.Any] = dict(lists, include_decommissioned=include_decommissioned)
        where, params = self._where("d", filters)
        # facts can be large and the inventory does not need them
        cols = ", ".join("d." + c if c != "facts" or with_facts else "'{}'" for c in DEVICE_COLUMNS)
        rows = self.engine.execute(
            "SELECT %s, s.region, s.topology, s.kind, s.connectivity, c.platform, c.workloads, s.proxy"
            " FROM devices d JOIN sites s ON s.name = d.site LEFT JOIN clusters c ON c.name = d.cluster"
            "%s ORDER BY d.site, d.hostname" % (cols, where), params)
        n = len(DEVICE_COLUMNS)
        out = []
        by_serial = {}
        for row in rows:
            rec = device_from_row(row[:n])
            rec["region"], rec["topology"], rec["kind"], rec["connectivity"], rec["platform"] = row[n:n + 5]
            rec["cluster_workloads"] = json.loads(row[n + 5]) if row[n + 5] is not None else []
            rec["site_proxy"] = json.loads(row[n + 6])
            out.append(rec)
            by_serial[rec["serial"]] = rec
        if not out:
            return out
        for mac_serial, mac, primary in self.engine.execute(
                "SELECT m.serial, m.mac, m.is_primary FROM device_macs m JOIN devices d ON d.serial = m.serial"
                " JOIN sites s ON s.name = d.site%s ORDER BY m.serial, m.mac" % where, params):
            rec = by_serial[mac_serial]
            if primary:
                rec["mac"] = mac
            else:
                rec["macs"].append(mac)
        if with_events:
            for rec in out:
                rec["events"] = []
            for ev in self.engine.execute(
                    "SELECT e.serial, e.from_state, e.to_state, e.stage, e.at, e.actor, e.reason FROM device_events e"
                    " JOIN devices d ON d.serial = e.serial JOIN sites s ON s.name = d.site%s ORDER BY e.id" % where, params):
                by_serial[ev[0]]["events"].append(dict(zip(("from", "to", "stage", "at", "by", "reason"), ev[1:])))
        return out

    def regions(self) -> t.List[dict]:
        return [{"name": r[0]} for r in self.engine.execute("SELECT name FROM regions ORDER BY name")]

    def sites(self) -> t.List[dict]:
        keys = ("name", "region", "topology", "kind", "connectivity", "proxy")
        rows = self.engine.execute("SELECT %s FROM sites ORDER BY name" % ", ".join(keys))
        return [dict(zip(keys, r[:-1]), proxy=json.loads(r[-1])) for r in rows]

    def clusters(self) -> t.List[dict]:
        rows = self.engine.execute("SELECT name, site, platform, workloads FROM clusters ORDER BY name")
        return [{"name": r[0], "site": r[1], "platform": r[2], "workloads": json.loads(r[3])} for r in rows]

    # writes ------------------------------------------------------------------------
    def import_data(self, data: t.Any, actor: str, reason: str = "imported") -> dict:
        """Create or update regions, sites, clusters and devices in one transaction.

        Fields a record gives replace the stored ones (labels as a whole); fields it
        leaves out are kept. Returns what was created, updated and left unchanged.
        """
        if not isinstance(data, dict):
            raise ZtpError("import", None, "a mapping with regions, sites, clusters and devices is required")
        unknown = sorted(set(data) - set(IMPORT_KEYS))
        if unknown:
            raise ZtpError("import", unknown[0], "unknown section (known: %s)" % ", ".join(IMPORT_KEYS))
        for key in IMPORT_KEYS:
            if data.get(key) is not None and not isinstance(data[key], list):
                raise ZtpError("import", key, "a list is required")
        return self._run_write(lambda: self._import(data, actor, reason))

    def save_devices(self, changes: t.List[dict], actor: str, purge_labels: bool = False) -> dict:
        """Create or update devices (ztp_device): labels merge unless purge_labels, state moves."""
        return self._run_write(lambda: self._import({"devices": changes}, actor, None, merge_labels=not purge_labels))

    def record_stage(self, stage: str, reports: t.List[dict], actor: str) -> dict:
        """One stage's outcome for every reported device, in one transaction.

        ``reports``: ``{serial, host?, failure?, hardware?, facts?, ip?}`` per device
        (``ip``: where the device was seen, e.g. its phone-home's address).
        What happens to each device is ztp_model.plan_stage's decision; the
        device batch checks and writes every move. Returns ``devices`` (per
        report: serial, host, action, before, state, note, reason on failure),
        ``changed`` and the per-device ``diff``.
        """
        return self._run_write(lambda: self._record_stage(stage, reports, actor))

    def _record_stage(self, stage: str, reports: t.List[dict], actor: str) -> dict:
        if not isinstance(reports, list):
            raise ZtpError("stage %s" % stage, "reports", "a list is required")
        parsed = []
        for index, report in enumerate(reports):
            if not isinstance(report, dict):
                raise ZtpError("reports[%d]" % index, None, "a mapping is required, got %r" % (report,))
            where = "device %s" % check_serial("reports[%d]" % index, report.get("serial"))
            reject_unknown(where, report, STAGE_REPORT_KEYS)
            parsed.append((where, dict(report, serial=where[len("device "):])))
        serials = [report["serial"] for where, report in parsed]
        twice = sorted(set(s for s in serials if serials.count(s) > 1))
        if twice:
            raise ZtpError("device %s" % twice[0], "serial", "is reported twice for the %s stage" % stage)
        lifecycle = load_lifecycle(self.engine, serials)
        items, outcome = [], []
        for where, report in parsed:
            if report["serial"] not in lifecycle:
                raise ZtpError(where, "serial", "is not in the ZTP database")
            state, failed_stage = lifecycle[report["serial"]]
            plan = plan_stage(stage, where, state, failed_stage, report.get("failure"))
            item = {"serial": report["serial"], "moves": [dict(zip(("state", "stage", "reason"), m)) for m in plan.moves]}
            if plan.store:
                item.update((k, report[k]) for k in ("hardware", "facts", "ip") if report.get(k) is not None)
            if len(item) > 2 or item["moves"]:
                items.append(item)
            after = plan.moves[-1][0] if plan.moves else state
            done = {"serial": report["serial"], "action": plan.action, "before": state, "state": after, "note": plan.note}
            if report.get("host"):
                done["host"] = report["host"]
            if plan.action == "failed":
                done["reason"] = plan.moves[0][2]
            outcome.append(done)
        result = new_result()
        DeviceBatch(self, items, actor, None, False, now_iso(), result, with_moves=True).run()
        diff = result["diff"]
        return {"devices": outcome, "changed": bool(result["updated"]["devices"]),
                "diff": {"before": diff["before"].get("devices", {}), "after": diff["after"].get("devices", {})}}

    def _import(self, data: dict, actor: str, reason: str | None, merge_labels: bool = False) -> dict:
        stamp = now_iso()
        result = new_result()
        check_text("import", "actor", actor, 255)
        self._import_regions(data.get("regions") or [], stamp, result)
        self._import_sites(data.get("sites") or [], stamp, result)
        self._import_clusters(data.get("clusters") or [], stamp, result)
        DeviceBatch(self, data.get("devices") or [], actor, reason, merge_labels, stamp, result).run()
        return result

    def _import_regions(self, items: list, stamp: str, result: dict) -> None:
        existing = set(r["name"] for r in self.regions())
        wanted = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict):
                raise ZtpError("regions[%d]" % index, None, "a mapping with a name is required")
            reject_unknown("regions[%d]" % index, item, ("name",))
            wanted.append(check_name("regions[%d]" % index, "name", item.get("name")))
        new = sorted(set(wanted) - existing)
        self.engine.executemany("INSERT INTO regions (name, created_at, updated_at) VALUES (?, ?, ?)", [(n, stamp, stamp) for n in new])
        result["created"]["regions"].extend(new)
        result["unchanged"]["regions"] += len(set(wanted) & existing)
        for name in new:
            record_diff(result, "regions", name, None, {"name": name})

    def _named_items(self, kind: str, items: list, fields: t.Sequence[str]) -> t.Iterator[tuple]:
        """(name, where, item) of each record, with mapping, name, duplicates and fields checked."""
        label = kind[:-1]  # sites -> site
        seen = set()
        for index, item in enumerate(items):
            where = "%s[%d]" % (kind, index)
            if not isinstance(item, dict):
                raise ZtpError(where, None, "a mapping is required")
            name = check_name(where, "name", item.get("name"))
            where = "%s %s" % (label, name)
            if name in seen:
                raise ZtpError(where, "name", "%s %s is listed twice" % (label, name))
            seen.add(name)
            reject_unknown(where, item, fields)
            yield name, where, item

    def _classify(self, result: dict, kind: str, name: str, old: dict | None, rec: dict) -> str | None:
        """Whether a record is created, updated or unchanged; counted and diffed in result."""
        if old is not None and rec == old:
            result["unchanged"][kind] += 1
            return None
        status = "created" if old is None else "updated"
        result[status][kind].append(name)
        record_diff(result, kind, name, old, rec)
        return status

    def _import_sites(self, items: list, stamp: str, result: dict) -> None:
        existing = dict((s["name"], s) for s in self.sites())
        regions = set(r["name"] for r in self.regions())
        inserts, updates = [], []
        for name, where, item in self._named_items("sites", items, ("name", "region", "topology", "kind", "connectivity", "proxy")):
            old = existing.get(name)
            rec = dict(old) if old else {"name": name, "kind": "edge", "connectivity": "online", "proxy": {}}
            for key, choices in (("topology", TOPOLOGIES), ("kind", SITE_KINDS), ("connectivity", CONNECTIVITY)):
                if item.get(key) is not None:
                    rec[key] = check_choice(where, key, item[key], choices)
            if item.get("region") is not None:
                rec["region"] = check_name(where, "region", item["region"])
            if item.get("proxy") is not None:
                rec["proxy"] = check_proxy(where, item["proxy"])
            for key in ("region", "topology"):
                if not rec.get(key):
                    raise ZtpError(where, key, "is required for a new site")
            if rec["region"] not in regions:
                raise ZtpError(where, "region", "unknown region %r (add it under regions)" % rec["region"])
            status = self._classify(result, "sites", name, old, rec)
            if status == "created":
                inserts.append((name, rec["region"], rec["topology"], rec["kind"], rec["connectivity"], dumps(rec["proxy"]), stamp, stamp))
            elif status == "updated":
                updates.append((rec["region"], rec["topology"], rec["kind"], rec["connectivity"], dumps(rec["proxy"]), stamp, name))
        self.engine.executemany("INSERT INTO sites (name, region, topology, kind, connectivity, proxy, created_at, updated_at)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", inserts)
        self.engine.executemany("UPDATE sites SET region = ?, topology = ?, kind = ?, connectivity = ?, proxy = ?, updated_at = ?"
                                " WHERE name = ?", updates)

    def _import_clusters(self, items: list, stamp: str, result: dict) -> None:
        existing = dict((c["name"], c) for c in self.clusters())
        sites = set(s["name"] for s in self.sites())
        inserts, updates = [], []
        for name, where, item in self._named_items("clusters", items, ("name", "site", "platform", "workloads")):
            old = existing.get(name)
            rec = dict(old) if old else {"name": name, "platform": "k3s", "workloads": []}
            if item.get("site") is not None:
                rec["site"] = check_name(where, "site", item["site"])
            if not rec.get("site"):
                raise ZtpError(where, "site", "is required for a new cluster")
            if rec["site"] not in sites:
                raise ZtpError(where, "site", "unknown site %r" % rec["site"])
            if old is not None and old["site"] != rec["site"]:
                raise ZtpError(where, "site", "a cluster cannot move from site %s to %s" % (old["site"], rec["site"]))
            if item.get("platform") is not None:
                rec["platform"] = check_choice(where, "platform", item["platform"], PLATFORMS)
            if item.get("workloads") is not None:
                rec["workloads"] = check_workloads(where, item["workloads"])
            status = self._classify(result, "clusters", name, old, rec)
            if status == "created":
                inserts.append((name, rec["site"], rec["platform"], dumps(rec["workloads"]), stamp, stamp))
            elif status == "updated":
                updates.append((rec["platform"], dumps(rec["workloads"]), stamp, name))
        self.engine.executemany("INSERT INTO clusters (name, site, platform, workloads, created_at, updated_at)"
                                " VALUES (?, ?, ?, ?, ?, ?)", inserts)
        self.engine.executemany("UPDATE clusters SET platform = ?, workloads = ?, updated_at = ? WHERE name = ?", updates)


__all__ = ["ZtpStore", "ZtpError", "ZtpDatabaseError", "redact_url", "resolve_url", "scrub", "ENV_VAR", "SCHEMA_VERSION", "LIFECYCLE"]
