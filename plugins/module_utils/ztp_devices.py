# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ZTP device records: row mapping and the device batch (validate, merge, write).

A batch reads by its own keys only (serials, MACs) in a fixed number of chunked
queries, so a 10,000-device import and a one-device update both cost a handful
of statements. On PostgreSQL it locks the device rows it changes, in serial
order, so two writers cannot deadlock.
"""

from __future__ import annotations

import collections
import json
import re
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_engine import chunks, dumps, placeholders
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import (
    HARDWARE_FIELDS,
    HOSTNAME_FROZEN_STATES,
    MAX_REASON,
    OS_FAMILIES,
    ROLES,
    STAGES,
    STATES,
    ZtpError,
    check_choice,
    check_hardware,
    check_hostname,
    check_ip,
    check_labels,
    check_name,
    check_serial,
    check_storage,
    check_text,
    check_transition,
    derive_hostname,
    failing_stage,
    normalize_mac,
)

if t.TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore

DEVICE_COLUMNS = (
    "serial", "hostname", "hostname_source", "site", "cluster", "role", "os_family", "ip",
    "cpu_cores", "memory_mb", "disk_gb", "disk_type", "labels", "facts", "storage", "state",
    "failed_stage", "failure_reason", "revision", "created_at", "updated_at", "state_changed_at",
)
# Fields a caller may set; the rest is kept by the data layer.
DEVICE_INPUT_KEYS = (
    "serial", "mac", "macs", "hostname", "site", "cluster", "role", "os_family", "ip",
    "hardware", "labels", "facts", "storage", "state", "stage", "reason",
)
# What one lifecycle move of a device carries (see DeviceBatch, with_moves).
MOVE_KEYS = ("state", "stage", "reason")
# The fields a user sees (and diffs), without bookkeeping.
PUBLIC_KEYS = ("serial", "mac", "macs", "hostname", "site", "cluster", "role", "os_family", "ip",
               "hardware", "labels", "storage", "state", "failed_stage", "failure_reason")


# Rows ------------------------------------------------------------------------------

def device_from_row(row: t.Sequence[t.Any]) -> dict:
    """A device record from a DEVICE_COLUMNS row; its MACs are filled in by the caller."""
    rec = dict(zip(DEVICE_COLUMNS, row))
    rec["labels"] = json.loads(rec["labels"])
    rec["facts"] = json.loads(rec["facts"])
    rec["storage"] = json.loads(rec["storage"])
    disk = rec["disk_gb"]
    if isinstance(disk, float) and disk.is_integer():
        rec["disk_gb"] = int(disk)
    rec["hardware"] = dict((k, rec.pop(k)) for k in HARDWARE_FIELDS)
    rec["mac"] = None
    rec["macs"] = []
    return rec


def device_row(rec: dict) -> tuple:
    flat = dict(rec)
    flat.update(rec["hardware"])
    flat["labels"] = dumps(rec["labels"])
    flat["facts"] = dumps(rec["facts"])
    flat["storage"] = dumps(rec["storage"])
    return tuple(flat.get(col) for col in DEVICE_COLUMNS)


def public_view(rec: dict) -> dict:
    return dict((k, rec[k]) for k in PUBLIC_KEYS)


def load_lifecycle(engine: t.Any, serials: t.List[str]) -> dict:
    """serial -> (state, failed_stage) of the devices found, their rows locked
    (in serial order) until the transaction ends."""
    found = {}
    for chunk in chunks(sorted(serials)):
        for serial, state, failed_stage in engine.execute(
                "SELECT serial, state, failed_stage FROM devices WHERE serial IN (%s) ORDER BY serial%s"
                % (placeholders(len(chunk)), engine.lock_suffix), list(chunk)):
            found[serial] = (state, failed_stage)
    return found


# Results -----------------------------------------------------------------------------

def reject_unknown(record: str, item: dict, known: t.Sequence[str]) -> None:
    unknown = sorted(str(k) for k in set(item) - set(known))
    if unknown:
        raise ZtpError(record, unknown[0], "unknown field (known: %s)" % ", ".join(known))


def record_diff(result: dict, kind: str, key: str, before: t.Any, after: t.Any) -> None:
    result["diff"]["before"].setdefault(kind, {})[key] = before
    result["diff"]["after"].setdefault(kind, {})[key] = after


# The batch ------------------------------------------------------------------------------

class DeviceBatch:
    """Validate and write a batch of device records against the stored state.

    ``result`` collects created, updated and unchanged devices and the diff.
    With ``with_moves`` (the data layer's own callers, never user input) an
    item may carry ``moves``, an ordered list of ``{state, stage, reason}``
    instead of its own state, stage and reason: each move is checked from the
    state the previous one left and gets its own event row, so a stage can
    record discovered -> os_installed -> configured in one transaction.
    """

    def __init__(self, store: ZtpStore, items: list, actor: str, reason: str | None, merge_labels: bool,
                 stamp: str, result: dict, with_moves: bool = False) -> None:
        self.store = store
        self.engine = store.engine
        self.items = items
        self.actor = actor
        self.reason = reason
        self.merge_labels = merge_labels
        self.stamp = stamp
        self.result = result
        self.known_keys = DEVICE_INPUT_KEYS + ("moves",) if with_moves else DEVICE_INPUT_KEYS
        # stage write-backs (the data layer's own callers) merge facts by top-level key
        self.merge_facts = with_moves

    def run(self) -> None:
        if not self.items:
            return
        parsed = [self._parse(index, item) for index, item in enumerate(self.items)]
        serials = [p["serial"] for p in parsed]
        dupes = sorted(s for s, n in collections.Counter(serials).items() if n > 1)
        if dupes:
            raise ZtpError("device %s" % dupes[0], "serial", "is listed twice in this batch")
        existing = self._load_devices(sorted(serials))
        sites = dict((s["name"], s) for s in self.store.sites())
        clusters = dict((c["name"], c) for c in self.store.clusters())
        taken = self._load_hostnames()  # hostname -> (serial, site)
        owners = self._load_mac_owners(sorted(set(m for p in parsed for m in p["all_macs"])))
        events, mac_rows, inserts, updates, changed_macs = [], [], [], [], []
        merged = []
        for p in parsed:
            old = existing.get(p["serial"])
            rec, new_events = self._merge(p, old, sites, clusters)
            merged.append((p, old, rec, new_events))
            # MACs a device gives up in this batch are free for the others in it
            if old is not None:
                for mac in set([old["mac"]] + old["macs"]) - set([rec["mac"]] + rec["macs"]):
                    if owners.get(mac) == rec["serial"]:
                        del owners[mac]
        for p, old, rec, new_events in merged:
            self._claim_hostname(p, old, rec, taken)
            macs = self._claim_macs(p, rec, owners)
            if old is None:
                inserts.append(device_row(rec))
                changed_macs.append(rec["serial"])
                mac_rows.extend(macs)
                self.result["created"]["devices"].append(rec["serial"])
                record_diff(self.result, "devices", rec["serial"], None, public_view(rec))
            else:
                old_view, new_view = public_view(old), public_view(rec)
                if old_view != new_view or rec["facts"] != old["facts"]:
                    rec["revision"] = old["revision"] + 1
                    rec["updated_at"] = self.stamp
                    updates.append(device_row(rec)[1:] + (rec["serial"],))
                    if (rec["mac"], rec["macs"]) != (old["mac"], old["macs"]):
                        changed_macs.append(rec["serial"])
                        mac_rows.extend(macs)
                    self.result["updated"]["devices"].append(rec["serial"])
                    record_diff(self.result, "devices", rec["serial"], old_view, new_view)
                else:
                    self.result["unchanged"]["devices"] += 1
            events.extend(new_events)
        e = self.engine
        e.executemany("INSERT INTO devices (%s) VALUES (%s)" % (", ".join(DEVICE_COLUMNS), placeholders(len(DEVICE_COLUMNS))), inserts)
        e.executemany("UPDATE devices SET %s WHERE serial = ?" % ", ".join("%s = ?" % c for c in DEVICE_COLUMNS[1:]), updates)
        # MAC ownership: drop the changed devices' rows first so MACs can move between devices.
        for chunk in chunks(changed_macs):
            e.execute("DELETE FROM device_macs WHERE serial IN (%s)" % placeholders(len(chunk)), list(chunk))
        e.executemany("INSERT INTO device_macs (mac, serial, is_primary) VALUES (?, ?, ?)", mac_rows)
        e.executemany("INSERT INTO device_events (serial, from_state, to_state, stage, at, actor, reason)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)", events)

    # loading --------------------------------------------------------------------
    def _load_devices(self, serials: t.List[str]) -> dict:
        found = {}
        cols = ", ".join(DEVICE_COLUMNS)
        for chunk in chunks(serials):
            rows = self.engine.execute("SELECT %s FROM devices WHERE serial IN (%s) ORDER BY serial%s"
                                       % (cols, placeholders(len(chunk)), self.engine.lock_suffix), list(chunk))
            for row in rows:
                rec = device_from_row(row)
                found[rec["serial"]] = rec
        for chunk in chunks(sorted(found)):
            for serial, mac, primary in self.engine.execute(
                    "SELECT serial, mac, is_primary FROM device_macs WHERE serial IN (%s) ORDER BY mac" % placeholders(len(chunk)),
                    list(chunk)):
                if primary:
                    found[serial]["mac"] = mac
                else:
                    found[serial]["macs"].append(mac)
        return found

    def _load_hostnames(self) -> dict:
        # Fleet-wide: the hostname is the inventory host name, which must be unique.
        return dict((hostname, (serial, site)) for serial, site, hostname
                    in self.engine.execute("SELECT serial, site, hostname FROM devices"))

    def _load_mac_owners(self, macs: t.List[str]) -> dict:
        owners = {}
        for chunk in chunks(macs):
            rows = self.engine.execute("SELECT mac, serial FROM device_macs WHERE mac IN (%s)" % placeholders(len(chunk)), list(chunk))
            for mac, serial in rows:
                owners[mac] = serial
        return owners

    # validation --------------------------------------------------------------
    def _parse(self, index: int, item: t.Any) -> dict:
        if not isinstance(item, dict):
            raise ZtpError("devices[%d]" % index, None, "a mapping is required, got %r" % (item,))
        serial = check_serial("devices[%d]" % index, item.get("serial"))
        where = "device %s" % serial
        reject_unknown(where, item, self.known_keys)
        p = {"serial": serial, "where": where}  # type: dict[str, t.Any]
        if item.get("site") is not None:
            p["site"] = check_name(where, "site", item["site"])
        if item.get("cluster") is not None:
            # an empty string takes the device out of its cluster
            p["cluster"] = check_name(where, "cluster", item["cluster"]) if item["cluster"] != "" else None
        for key, choices in (("role", ROLES), ("os_family", OS_FAMILIES)):
            if item.get(key) is not None:
                p[key] = check_choice(where, key, item[key], choices)
        if item.get("mac") is not None:
            p["mac"] = normalize_mac(where, "mac", item["mac"])
        if item.get("macs") is not None:
            macs = item["macs"]
            if isinstance(macs, str):
                macs = [m for m in re.split(r"[\s,;]+", macs) if m]
            if not isinstance(macs, list):
                raise ZtpError(where, "macs", "a list of MAC addresses is required")
            p["macs"] = sorted(set(normalize_mac(where, "macs[%d]" % i, m) for i, m in enumerate(macs)))
        p["all_macs"] = ([p["mac"]] if "mac" in p else []) + p.get("macs", [])
        if len(set(p["all_macs"])) != len(p["all_macs"]):
            raise ZtpError(where, "macs", "repeats the primary MAC %s" % p.get("mac"))
        if item.get("ip") is not None:
            p["ip"] = check_ip(where, item["ip"]) if item["ip"] != "" else None
        if item.get("hostname") is not None:
            p["hostname"] = item["hostname"]  # checked against os_family once merged
        if item.get("hardware") is not None:
            p["hardware"] = check_hardware(where, item["hardware"])
        if item.get("labels") is not None:
            p["labels"] = check_labels(where, item["labels"])
        if item.get("storage") is not None:
            p["storage"] = check_storage(where, item["storage"])
        if item.get("facts") is not None:
            if not isinstance(item["facts"], dict):
                raise ZtpError(where, "facts", "a mapping is required")
            try:
                p["facts"] = json.loads(dumps(item["facts"]))
            except (TypeError, ValueError) as exc:
                raise ZtpError(where, "facts", "must be plain data: %s" % exc) from None
        if item.get("moves") is not None:
            p["moves"] = self._parse_moves(where, item)
        else:
            # The item's own state, stage and reason are one move. Without a state
            # it is no move: re-importing a failed device keeps its failure.
            move = self._parse_move(where, "", item)
            if "reason" in move:
                p["reason"] = move["reason"]  # also the reason a new device is registered for
            if "stage" in move and "state" not in move:
                raise ZtpError(where, "stage", "is only used with state: failed")
            p["moves"] = [move] if "state" in move else []
        return p

    def _parse_moves(self, where: str, item: dict) -> t.List[dict]:
        given = sorted(k for k in MOVE_KEYS if item.get(k) is not None)
        if given:
            raise ZtpError(where, given[0], "goes into each of the moves, not beside them")
        if not isinstance(item["moves"], list):
            raise ZtpError(where, "moves", "a list of {state, stage, reason} is required")
        moves = []
        for index, move in enumerate(item["moves"]):
            prefix = "moves[%d]." % index
            if not isinstance(move, dict):
                raise ZtpError(where, prefix[:-1], "a mapping with state, stage and reason is required")
            unknown = sorted(str(k) for k in set(move) - set(MOVE_KEYS))
            if unknown:
                raise ZtpError(where, prefix + unknown[0], "unknown field (known: %s)" % ", ".join(MOVE_KEYS))
            if move.get("state") is None:
                raise ZtpError(where, prefix + "state", "is required")
            moves.append(self._parse_move(where, prefix, move))
        return moves

    def _parse_move(self, where: str, prefix: str, item: dict) -> dict:
        move = {}
        if item.get("state") is not None:
            move["state"] = check_choice(where, prefix + "state", item["state"], STATES)
        if item.get("stage") is not None:
            move["stage"] = check_choice(where, prefix + "stage", item["stage"], tuple(STAGES))
        if item.get("reason") is not None:
            move["reason"] = check_text(where, prefix + "reason", item["reason"], MAX_REASON)
        return move

    def _merge(self, p: dict, old: dict | None, sites: dict, clusters: dict) -> t.Tuple[dict, t.List[tuple]]:
        where = p["where"]
        if old is None:
            for key in ("mac", "site", "role"):
                if key not in p:
                    raise ZtpError(where, key, "is required for a new device")
            rec = {"serial": p["serial"], "hostname": None, "hostname_source": "rule", "cluster": None, "ip": None,
                   "os_family": "linux", "macs": [], "hardware": dict.fromkeys(HARDWARE_FIELDS),
                   "labels": {}, "facts": {}, "storage": {}, "state": "registered", "failed_stage": None, "failure_reason": None,
                   "revision": 1, "created_at": self.stamp, "updated_at": self.stamp, "state_changed_at": self.stamp}
        else:
            rec = dict(old)
            rec["hardware"] = dict(old["hardware"])
        for key in ("mac", "macs", "site", "cluster", "role", "os_family", "ip", "facts", "storage"):
            if key in p:
                rec[key] = p[key]
        if "facts" in p and self.merge_facts and old is not None:
            # a stage owns the top-level keys it reports; the other stages' keys stay
            rec["facts"] = dict(old["facts"], **p["facts"])
        if "hardware" in p:
            rec["hardware"].update(p["hardware"])
        if "labels" in p:
            rec["labels"] = dict(rec["labels"], **p["labels"]) if self.merge_labels else p["labels"]
        if rec["site"] not in sites:
            raise ZtpError(where, "site", "unknown site %r" % rec["site"])
        if rec["cluster"] is not None:
            cluster = clusters.get(rec["cluster"])
            if cluster is None:
                raise ZtpError(where, "cluster", "unknown cluster %r" % rec["cluster"])
            if cluster["site"] != rec["site"]:
                raise ZtpError(where, "cluster", "cluster %s belongs to site %s, not %s" % (rec["cluster"], cluster["site"], rec["site"]))
        if old is not None and old["site"] != rec["site"] and old["state"] in HOSTNAME_FROZEN_STATES:
            raise ZtpError(where, "site", "cannot move to site %s while %s" % (rec["site"], old["state"]))
        return rec, self._transition(p, old, rec)

    # lifecycle ------------------------------------------------------------------
    def _transition(self, p: dict, old: dict | None, rec: dict) -> t.List[tuple]:
        """Apply the requested state moves in order; return their event rows."""
        events = []
        if old is None:
            # a new device is registered first; it may be reported from a later stage at once
            events.append((rec["serial"], None, "registered", None, self.stamp, self.actor, p.get("reason", self.reason or "registered")))
        for move in p["moves"]:
            event = self._move(p["where"], rec, move)
            if event is not None:
                events.append(event)
        return events

    def _move(self, where: str, rec: dict, move: dict) -> tuple | None:
        """One move from the record's current state; its event row, or None when nothing changes."""
        current, failed_stage = rec["state"], rec["failed_stage"]
        wanted = move["state"]
        if wanted != "failed" and "stage" in move:
            raise ZtpError(where, "stage", "is only used with state: failed")
        check_transition(where, current, wanted, failed_stage)
        if wanted == "failed":
            stage = move.get("stage") or failing_stage(current, failed_stage)
            if stage is None:
                raise ZtpError(where, "stage", "name the stage that failed (device is %s)" % current)
            if current == "failed" and (stage, move.get("reason")) == (failed_stage, rec["failure_reason"]):
                return None
            return self._apply_state(rec, move, current, stage, wanted)
        if wanted == current:
            return None
        return self._apply_state(rec, move, current, None, wanted)

    def _apply_state(self, rec: dict, move: dict, current: str, stage: str | None, wanted: str) -> tuple:
        rec["state"] = wanted
        rec["failed_stage"] = stage if wanted == "failed" else None
        rec["failure_reason"] = move.get("reason") if wanted == "failed" else None
        rec["state_changed_at"] = self.stamp
        return (rec["serial"], current, wanted, stage, self.stamp, self.actor, move.get("reason"))

    # uniqueness --------------------------------------------------------------------
    def _claim_hostname(self, p: dict, old: dict | None, rec: dict, taken: dict) -> None:
        where = p["where"]
        if old is not None and old["state"] in HOSTNAME_FROZEN_STATES:
            # Kubernetes knows the node by this name now (a site move is refused in _merge).
            if "hostname" in p and p["hostname"] != old["hostname"]:
                raise ZtpError(where, "hostname",
                               "is frozen at %r once a device is past configured (state %s)" % (old["hostname"], old["state"]))
            return
        if "hostname" in p:
            name, source = check_hostname(where, p["hostname"], rec["os_family"]), "given"
        elif old is not None and old["hostname_source"] == "given":
            name, source = check_hostname(where, old["hostname"], rec["os_family"]), "given"
        elif old is not None and (old["site"], old["role"], old["os_family"]) == (rec["site"], rec["role"], rec["os_family"]):
            name, source = old["hostname"], "rule"
        else:
            name, source = derive_hostname(rec["site"], rec["role"], rec["serial"], rec["mac"], rec["os_family"],
                                           _OthersIn(taken, rec["serial"])), "rule"
        holder, holder_site = taken.get(name, (None, None))
        if holder is not None and holder != rec["serial"]:
            raise ZtpError(where, "hostname", "%r is already used by device %s in site %s" % (name, holder, holder_site))
        if old is not None and taken.get(old["hostname"], (None,))[0] == rec["serial"]:
            del taken[old["hostname"]]
        taken[name] = (rec["serial"], rec["site"])
        rec["hostname"], rec["hostname_source"] = name, source

    def _claim_macs(self, p: dict, rec: dict, owners: dict) -> list:
        where = p["where"]
        rows = [(rec["mac"], rec["serial"], 1)] + [(m, rec["serial"], 0) for m in rec["macs"]]
        if rec["mac"] in rec["macs"]:
            raise ZtpError(where, "macs", "repeats the primary MAC %s" % rec["mac"])
        for mac, serial, primary in rows:
            holder = owners.get(mac)
            if holder is not None and holder != serial:
                raise ZtpError(where, "mac" if primary else "macs", "%s already belongs to device %s" % (mac, holder))
            owners[mac] = serial
        return rows


class _OthersIn:
    """Hostnames held by devices other than `serial` (for derive_hostname)."""

    def __init__(self, taken: dict, serial: str) -> None:
        self.taken = taken
        self.serial = serial

    def __contains__(self, name: object) -> bool:
        return self.taken.get(name, (self.serial,))[0] != self.serial
