# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The orchestrator's reads and writes on a ZtpStore (schema version 8).

Claims, leases and a run's end, each in one write transaction that works the
same on SQLite (BEGIN IMMEDIATE takes the write lock) and PostgreSQL (the
claim locks the one row of ``orchestrator_lock`` FOR UPDATE, so two
orchestrators on one database claim one after the other and the caps hold
across them). A device is in at most one active run: the partial unique index
``orchestrator_devices_one_active`` refuses a second, whatever the code does.
The rules are orchestrator.py's; lifecycle moves go through ZtpStore's stage
write (ztp_model.plan_stage), never around it.
"""

from __future__ import annotations

import time
import typing as t
from datetime import datetime, timezone

from ansible_collections.edgefleet.platform.plugins.module_utils import orchestrator as rules
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_engine import chunks, placeholders
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import check_text

if t.TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore

ACTOR = "edgefleet.platform orchestrator"
RUN_KEYS = ("id", "site", "cluster", "owner", "host", "status", "lease_until", "pid", "ansible_pid", "started_at",
            "finished_at", "rc", "artifacts", "reason")
DEVICE_KEYS = ("serial", "since", "active", "outcome", "stage", "reason")


class RunStore:
    """Orchestrator operations on one open ZtpStore."""

    def __init__(self, store: ZtpStore, clock: t.Callable[[], float] = time.time) -> None:
        self.store = store
        self.engine = store.engine
        self.clock = clock

    def now(self) -> str:
        return rules.iso(datetime.fromtimestamp(self.clock(), timezone.utc))

    # reads ---------------------------------------------------------------------
    def runs(self, status: t.Sequence[str] = (), ids: t.Sequence[int] = ()) -> t.List[dict]:
        """Runs with their devices, oldest first."""
        where, params = [], []  # type: t.Tuple[list, list]
        if status:
            where.append("status IN (%s)" % placeholders(len(status)))
            params.extend(status)
        if ids:
            where.append("id IN (%s)" % placeholders(len(ids)))
            params.extend(ids)
        rows = self.engine.execute("SELECT %s FROM orchestrator_runs%s ORDER BY id" % (
            ", ".join(RUN_KEYS), (" WHERE " + " AND ".join(where)) if where else ""), params)
        runs = [dict(zip(RUN_KEYS, r), devices=[]) for r in rows]
        by_id = dict((r["id"], r) for r in runs)
        for chunk in chunks(sorted(by_id)):
            for row in self.engine.execute("SELECT run_id, %s FROM orchestrator_devices WHERE run_id IN (%s) ORDER BY run_id, serial"
                                           % (", ".join(DEVICE_KEYS), placeholders(len(chunk))), list(chunk)):
                by_id[row[0]]["devices"].append(dict(zip(DEVICE_KEYS, row[1:])))
        return runs

    def run(self, run_id: int) -> t.Optional[dict]:
        found = self.runs(ids=[run_id])
        return found[0] if found else None

    # the claim -----------------------------------------------------------------
    def claim(self, owner: str, host: str, caps: rules.Caps, lease_seconds: int, settle: int, max_attempts: int,
              fence: t.Optional[t.Callable[[dict], None]] = None) -> t.List[dict]:
        """Expire the runs whose lease passed, then claim the runs the caps allow: one transaction.

        ``fence`` is called with each expired run before its devices are free
        again (the service stops a leftover ansible-playbook of its own host).
        Returns the new runs (``id``, ``site``, ``cluster``, ``devices``).
        """
        check_text("orchestrator", "owner", owner, 255)
        return self.store._run_write(lambda: self._claim(owner, host, caps, lease_seconds, settle, max_attempts, fence))

    def _claim(self, owner: str, host: str, caps: rules.Caps, lease_seconds: int, settle: int, max_attempts: int,
               fence: t.Optional[t.Callable[[dict], None]]) -> t.List[dict]:
        now = self.now()
        self.engine.execute("SELECT id FROM orchestrator_lock WHERE id = 1%s" % self.engine.lock_suffix)
        self._expire(now, max_attempts, fence)
        active = self.engine.execute("SELECT d.serial, r.site, r.cluster FROM orchestrator_devices d"
                                     " JOIN orchestrator_runs r ON r.id = d.run_id WHERE d.active = 1")
        busy = set(row[0] for row in active)
        per_site = {}  # type: dict[str, int]
        for _serial, site, _cluster in active:
            per_site[site] = per_site.get(site, 0) + 1
        busy_clusters = set(row[2] for row in active if row[2])
        devices = self.store.devices(state=[rules.PHONED_HOME], with_facts=False)
        history = self._history([d["serial"] for d in devices])
        candidates = sorted((d for d in devices if rules.eligible(d, history.get(d["serial"], ()), d["serial"] in busy, now,
                                                                  settle, max_attempts)),
                            key=lambda d: (d["state_changed_at"], d["serial"]))
        since = dict((d["serial"], d["state_changed_at"]) for d in candidates)
        claimed = []
        until = rules.lease_until(now, lease_seconds)
        for batch in rules.plan_batches(candidates, per_site, busy_clusters, caps):
            self.engine.execute("INSERT INTO orchestrator_runs (site, cluster, owner, host, status, lease_until, started_at)"
                                " VALUES (?, ?, ?, ?, 'running', ?, ?)", (batch.site, batch.cluster, owner, host, until, now))
            # claims are serialised by the lock row, so the newest id is this one (no RETURNING: SQLite < 3.35)
            run_id = self.engine.execute("SELECT MAX(id) FROM orchestrator_runs")[0][0]
            self.engine.executemany("INSERT INTO orchestrator_devices (run_id, serial, since, active) VALUES (?, ?, ?, 1)",
                                    [(run_id, serial, since[serial]) for serial in batch.serials])
            claimed.append({"id": run_id, "site": batch.site, "cluster": batch.cluster, "devices": list(batch.serials),
                            "lease_until": until})
        return claimed

    def _history(self, serials: t.Sequence[str]) -> t.Dict[str, t.List[dict]]:
        out = {}  # type: dict[str, list]
        for chunk in chunks(sorted(serials)):
            for serial, since, outcome, active in self.engine.execute(
                    "SELECT serial, since, outcome, active FROM orchestrator_devices WHERE serial IN (%s)" % placeholders(len(chunk)),
                    list(chunk)):
                out.setdefault(serial, []).append({"since": since, "outcome": outcome, "active": active})
        return out

    def _expire(self, now: str, max_attempts: int, fence: t.Optional[t.Callable[[dict], None]]) -> None:
        """Runs whose lease passed are over: crashed; their devices free, or failed when no attempt is left."""
        stale = [r for r in self.runs(status=["running"]) if rules.lease_expired(r["lease_until"], now)]
        if not stale:
            return
        serials = sorted(set(d["serial"] for r in stale for d in r["devices"]))
        history = self._history(serials)
        records = dict((d["serial"], d) for d in self.store.devices(serial=serials, with_facts=False)) if serials else {}
        failures = {}  # type: dict[str, list]
        for run in stale:
            if fence is not None:
                fence(run)
            for dev in run["devices"]:
                count = len([h for h in history.get(dev["serial"], ()) if h["since"] == dev["since"]])
                exhausted = count >= max_attempts
                reason = rules.crash_reason(run, exhausted)
                self.engine.execute("UPDATE orchestrator_devices SET active = NULL, outcome = 'crashed', reason = ?"
                                    " WHERE run_id = ? AND serial = ?", (reason, run["id"], dev["serial"]))
                rec = records.get(dev["serial"])
                if exhausted and rec is not None and rec["state"] == rules.PHONED_HOME and rec["state_changed_at"] == dev["since"]:
                    stage = rules.failing_stage(rec["state"], None)
                    failures.setdefault(str(stage), []).append({"serial": dev["serial"], "failure": reason})
            self.engine.execute("UPDATE orchestrator_runs SET status = 'crashed', finished_at = ?, reason = ? WHERE id = ?",
                                (now, rules.crash_reason(run, False).split(";")[0], run["id"]))
        for stage, reports in sorted(failures.items()):
            self.store._record_stage(stage, reports, ACTOR)

    # a run's life --------------------------------------------------------------
    def renew(self, run_id: int, lease_seconds: int, pid: t.Optional[int] = None, ansible_pid: t.Optional[int] = None,
              artifacts: t.Optional[str] = None) -> bool:
        """Extend the run's lease (and note who runs it); False when the run is no longer running:
        its lease expired and another claim ended it, so the caller must stop."""
        def write() -> bool:
            rows = self.engine.execute("SELECT status, pid, ansible_pid, artifacts FROM orchestrator_runs WHERE id = ?%s"
                                       % self.engine.lock_suffix, (run_id,))
            if not rows or rows[0][0] != "running":
                return False
            self.engine.execute("UPDATE orchestrator_runs SET lease_until = ?, pid = ?, ansible_pid = ?, artifacts = ? WHERE id = ?",
                                (rules.lease_until(self.now(), lease_seconds), pid if pid is not None else rows[0][1],
                                 ansible_pid if ansible_pid is not None else rows[0][2],
                                 artifacts if artifacts is not None else rows[0][3], run_id))
            return True
        return bool(self.store._run_write(write))

    def finish(self, run_id: int, status: str, rc: t.Optional[int], reason: str, max_attempts: int = 1) -> t.Optional[dict]:
        """A run's end, in one transaction: its status and, per device, what the run did.

        A device the run left where the phone-home put it after a failed or
        timed-out run is recorded failed in the stage it was working on, with the
        run's reason (the stages record their own failures). Returns the run, or
        None when it was no longer running (its lease had expired: the claim that
        noticed recorded it crashed).
        """
        if status not in rules.RUN_STATUSES or status in ("running", "crashed"):
            raise ValueError("not a final run status: %r" % (status,))
        return self.store._run_write(lambda: self._finish(run_id, status, rc, reason, max_attempts))

    def _finish(self, run_id: int, status: str, rc: t.Optional[int], reason: str, max_attempts: int) -> t.Optional[dict]:
        rows = self.engine.execute("SELECT status FROM orchestrator_runs WHERE id = ?%s" % self.engine.lock_suffix, (run_id,))
        if not rows or rows[0][0] != "running":
            return None
        run = t.cast(dict, self.run(run_id))
        serials = [d["serial"] for d in run["devices"]]
        after = dict((d["serial"], d) for d in self.store.devices(serial=serials, with_facts=False)) if serials else {}
        history = self._history(serials)
        failures = {}  # type: dict[str, list]
        for dev in run["devices"]:
            outcome, stage, why = rules.device_outcome(dev["since"], after.get(dev["serial"]), status, reason)
            rec = after.get(dev["serial"])
            if outcome == "crashed" and rec is not None:
                count = len([h for h in history.get(dev["serial"], ()) if h["since"] == dev["since"]])
                if count >= max_attempts:  # canceled once too often: recorded like a failure
                    why = why + "; no attempt left"
                    failures.setdefault(str(rules.failing_stage(rec["state"], None)), []).append({"serial": dev["serial"], "failure": why})
            elif outcome == "failed" and rec is not None and rec["state"] == rules.PHONED_HOME:
                failures.setdefault(str(stage), []).append({"serial": dev["serial"], "failure": why})
            self.engine.execute("UPDATE orchestrator_devices SET active = NULL, outcome = ?, stage = ?, reason = ?"
                                " WHERE run_id = ? AND serial = ?", (outcome, stage, why, run_id, dev["serial"]))
        for stage, reports in sorted(failures.items()):
            self.store._record_stage(stage, reports, ACTOR)
        self.engine.execute("UPDATE orchestrator_runs SET status = ?, finished_at = ?, rc = ?, reason = ? WHERE id = ?",
                            (status, self.now(), rc, reason or None, run_id))
        return self.run(run_id)
