# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network boot's reads and writes on a ZtpStore (its tables: schema migration 7).

Netboot flags, one-time install tokens, machines seen with an unknown MAC and
the log of refused calls. Lifecycle moves go through ZtpStore's stage write
(ztp_model.plan_stage decides them), never around it: a phone-home is the
``os_install`` stage's success for that one device.
"""

from __future__ import annotations

import functools
import json
import time
import typing as t

from ansible_collections.edgefleet.platform.plugins.module_utils.boot_rules import phone_home_address
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_tokens import (
    DEFAULT_TTL_SECONDS,
    BootRefused,
    digest,
    iso,
    new_token,
    token_verdict,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_engine import chunks, dumps, placeholders
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import (
    ZtpError,
    check_serial,
    check_text,
    normalize_mac,
    stage_failure_reason,
)

if t.TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore

MACHINE_STATUSES = ("unassigned", "linked")
# What the boot script reports about an unknown machine (iPXE settings).
MACHINE_ATTRIBUTES = ("serial", "uuid", "manufacturer", "product", "platform", "arch", "vendor_class")
MAX_ATTRIBUTE = 128
PHONE_HOME_ACTOR = "edgefleet.platform boot server"


class BootView(t.NamedTuple):
    device: t.Optional[dict]
    netboot: bool
    machine: t.Optional[dict]


def _placeholder_uuid(value: t.Any) -> bool:
    """All zeros or all ones: what firmware reports when the board has no UUID."""
    digits = str(value or "").replace("-", "").lower()
    return len(digits) == 32 and digits in ("0" * 32, "f" * 32)


class BootStore:
    """Boot server operations on one open ZtpStore (one per thread)."""

    def __init__(self, store: ZtpStore, clock: t.Callable[[], float] = time.time) -> None:
        self.store = store
        self.engine = store.engine
        self.clock = clock

    def now(self) -> str:
        return iso(self.clock())

    # reads --------------------------------------------------------------------
    def device_by_mac(self, mac: str) -> t.Optional[dict]:
        rows = self.engine.execute("SELECT serial FROM device_macs WHERE mac = ?", (mac,))
        if not rows:
            return None
        found = self.store.devices(serial=[rows[0][0]], with_facts=False)
        return found[0] if found else None

    def netboot(self, serial: str) -> bool:
        """On unless switched off: a planned device may netboot (Tinkerbell's allowPXE)."""
        rows = self.engine.execute("SELECT netboot FROM device_boot WHERE serial = ?", (serial,))
        return bool(rows[0][0]) if rows else True

    def machine(self, mac: str) -> t.Optional[dict]:
        rows = self.engine.execute("SELECT mac, status, serial, device, attributes, first_seen, last_seen, seen"
                                   " FROM boot_machines WHERE mac = ?", (mac,))
        return _machine(rows[0]) if rows else None

    def machines(self, status: t.Optional[str] = None) -> t.List[dict]:
        query = "SELECT mac, status, serial, device, attributes, first_seen, last_seen, seen FROM boot_machines"
        rows = self.engine.execute(query + " WHERE status = ? ORDER BY mac", (status,)) if status else \
            self.engine.execute(query + " ORDER BY mac")
        return [_machine(r) for r in rows]

    def awaiting_phone_home(self, serial: str) -> bool:
        """Whether the device holds a live one-time token (its install fetched it as its last step)."""
        return bool(self.engine.execute("SELECT 1 FROM boot_tokens WHERE serial = ? AND revoked_at IS NULL AND expires_at > ?",
                                        (serial, self.now())))

    def lookup(self, mac: str) -> BootView:
        """What the boot server knows of a MAC: its device (None when unknown) and netboot flag."""
        mac = normalize_mac("boot request", "mac", mac)
        rows = self.engine.execute("SELECT m.serial, b.netboot FROM device_macs m LEFT JOIN device_boot b ON b.serial = m.serial"
                                   " WHERE m.mac = ?", (mac,))
        found = self.store.devices(serial=[rows[0][0]], with_facts=False) if rows else []
        if not found:
            return BootView(None, False, self.machine(mac))
        return BootView(found[0], rows[0][1] is None or bool(rows[0][1]), None)

    def log_rows(self) -> t.List[dict]:
        keys = ("at", "event", "mac", "serial", "client", "detail")
        return [dict(zip(keys, r)) for r in self.engine.execute(
            "SELECT at, event, mac, serial, client, detail FROM boot_log ORDER BY id")]

    # writes ---------------------------------------------------------------------
    def log(self, event: str, detail: str, mac: t.Optional[str] = None, serial: t.Optional[str] = None,
            client: t.Optional[str] = None) -> None:
        """A refused or notable call, in its own transaction (the refused call changed nothing)."""
        row = (self.now(), event, mac, serial, client, stage_failure_reason(detail))
        self.store._run_write(lambda: self.engine.execute(
            "INSERT INTO boot_log (at, event, mac, serial, client, detail) VALUES (?, ?, ?, ?, ?, ?)", row))

    def set_netboot(self, serial: str, enabled: bool) -> bool:
        """Switch netboot for a device; returns whether it changed.

        Switched back on (a reinstall), the device's live tokens are revoked: a
        token of the install before must not phone home for the next one.
        Switched on while already on (the os_install stage does on every run)
        leaves an install in flight alone."""
        serial = check_serial("netboot", serial)

        def write() -> bool:
            if not self.engine.execute("SELECT 1 FROM devices WHERE serial = ?", (serial,)):
                raise ZtpError("device %s" % serial, "serial", "is not in the ZTP database")
            return self._set_netboot(serial, enabled)
        return self.store._run_write(write)

    def _set_netboot(self, serial: str, enabled: bool) -> bool:
        rows = self.engine.execute("SELECT netboot FROM device_boot WHERE serial = ?", (serial,))
        current = bool(rows[0][0]) if rows else True
        if rows and current != enabled:
            self.engine.execute("UPDATE device_boot SET netboot = ?, updated_at = ? WHERE serial = ?", (int(enabled), self.now(), serial))
            if enabled:
                self.engine.execute("UPDATE boot_tokens SET revoked_at = ?, revoked_why = ? WHERE serial = ? AND revoked_at IS NULL",
                                    (self.now(), "netboot switched on again (reinstall)", serial))
        elif not rows:
            self.engine.execute("INSERT INTO device_boot (serial, netboot, updated_at) VALUES (?, ?, ?)",
                                (serial, int(enabled), self.now()))
        return current != enabled

    def issue_token(self, serial: str, mac: str, ttl: float = DEFAULT_TTL_SECONDS) -> str:
        """A new one-time token for (device, MAC); the device's older ones are revoked."""
        token = new_token()
        now = self.now()

        def write() -> None:
            self.engine.execute("UPDATE boot_tokens SET revoked_at = ?, revoked_why = ? WHERE serial = ? AND revoked_at IS NULL",
                                (now, "superseded by a newer answer file", serial))
            self.engine.execute("INSERT INTO boot_tokens (digest, serial, mac, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                                (digest(token), serial, mac, now, iso(self.clock() + ttl)))
        self.store._run_write(write)
        return token

    def _token_row(self, token: str) -> t.Optional[tuple]:
        rows = self.engine.execute("SELECT serial, mac, expires_at, revoked_at, revoked_why FROM boot_tokens WHERE digest = ?%s"
                                   % self.engine.lock_suffix, (digest(token),))
        return tuple(rows[0]) if rows else None

    def check_token(self, token: str, mac: str) -> str:
        """The serial a live token was issued for, when it was issued to ``mac`` (not consumed)."""
        row = self._token_row(token)
        verdict = token_verdict(row, row[0] if row else "", [mac], self.now())
        if verdict:
            raise BootRefused(verdict[0], verdict[1], row[0] if row else None, mac)
        return t.cast(tuple, row)[0]

    def phone_home(self, call: dict, neighbour_mac: t.Optional[str] = None) -> dict:
        """A parsed phone-home (boot_tokens.parse_phone_home): the os_install stage's
        success for that device, its hardware recorded, netboot off, the token
        revoked; a refusal raises BootRefused and changes nothing. ``call["source"]``,
        when given, is the address the call came from (boot_rules.phone_home_address
        decides what it does to the device's ip)."""
        outcome = self.phone_home_batch([(call, neighbour_mac)])[0]
        if isinstance(outcome, BootRefused):
            raise outcome
        return t.cast(dict, outcome)

    def phone_home_batch(self, calls: t.Sequence[t.Tuple[dict, t.Optional[str]]]) -> t.List[t.Any]:
        """Phone-homes that arrived together, in one transaction (a site's boot storm).

        Per call, in order: its outcome, or the BootRefused that refused it and
        left its device untouched. The accepted ones are one os_install stage
        write (ZtpStore's, decided by ztp_model.plan_stage), one token revocation
        and one netboot update, whatever their number. A device reported twice in
        one batch is handled in the next one, so the second call sees the first's
        revoked token.
        """
        out = {}  # type: dict[int, t.Any]
        pending = list(enumerate(calls))
        while pending:
            batch, later, seen = [], [], set()  # type: ignore[var-annotated]
            for index, item in pending:
                (later if item[0]["serial"] in seen else batch).append((index, item))
                seen.add(item[0]["serial"])
            done = self.store._run_write(functools.partial(self._phone_home_batch, [entry[1] for entry in batch]))
            for entry, result in zip(batch, done):
                out[entry[0]] = result
            pending = later
        return [out[index] for index in range(len(calls))]

    def _phone_home_batch(self, calls: t.Sequence[t.Tuple[dict, t.Optional[str]]]) -> t.List[t.Any]:
        now = self.now()
        rows = {}
        digests = sorted(set(digest(item[0]["token"]) for item in calls))
        for chunk in chunks(digests):
            for row in self.engine.execute("SELECT digest, serial, mac, expires_at, revoked_at, revoked_why FROM boot_tokens"
                                           " WHERE digest IN (%s) ORDER BY digest%s" % (placeholders(len(chunk)), self.engine.lock_suffix),
                                           list(chunk)):
                rows[row[0]] = tuple(row[1:])
        results = []  # type: list[t.Any]
        accepted = {}  # serial -> (index, call, token mac)
        for call, neighbour in calls:
            row = rows.get(digest(call["token"]))
            verdict = token_verdict(row, call["serial"], call["macs"], now)
            if verdict is None and neighbour is not None and neighbour != t.cast(tuple, row)[1]:
                verdict = ("wrong_mac", "the call came from %s, the token was issued to %s" % (neighbour, t.cast(tuple, row)[1]))
            if verdict:
                results.append(BootRefused(verdict[0], verdict[1], call["serial"], row[1] if row else None))
                continue
            accepted[call["serial"]] = (len(results), call, t.cast(tuple, row)[1])
            results.append(None)
        if not accepted:
            return results
        devices = dict((d["serial"], d) for d in self.store.devices(serial=sorted(accepted)))
        reports, addresses = [], {}
        for serial, (_index, call, _mac) in sorted(accepted.items()):
            facts = dict(devices[serial]["facts"])
            address = addresses[serial] = phone_home_address(devices[serial], call.get("source"))
            facts["phone_home"] = {"at": now, "macs": call["macs"], "ssh_host_keys": call["ssh_host_keys"], "reported": call["facts"],
                                   "address": address.seen}
            if address.note:
                facts["phone_home"]["address_note"] = address.note
            report = {"serial": serial, "host": devices[serial]["hostname"], "facts": facts}
            if call["hardware"]:
                report["hardware"] = call["hardware"]
            if address.ip:
                report["ip"] = address.ip
            reports.append(report)
        done, notes = [], []  # type: t.Tuple[t.List[str], t.List[tuple]]
        for outcome in self.store._record_stage("os_install", reports, PHONE_HOME_ACTOR)["devices"]:
            index, call, token_mac = accepted[outcome["serial"]]
            if outcome["action"] in ("advanced", "retried", "kept"):
                address = addresses[outcome["serial"]]
                ip = address.ip or devices[outcome["serial"]]["ip"]
                results[index] = dict(outcome, mac=token_mac, netboot=False, ip=ip, address=address.seen, address_note=address.note)
                done.append(outcome["serial"])
                if address.note:  # the operator's to look at: the inventory may not reach the device
                    notes.append((now, "phone_home_address", token_mac, outcome["serial"], address.seen, address.note))
            else:  # nothing was written for it: plan_stage leaves such a device untouched
                results[index] = BootRefused("not_due", "device %s is %s: %s" % (outcome["serial"], outcome["before"], outcome["note"]),
                                             outcome["serial"], token_mac)
        for chunk in chunks(done):
            self.engine.execute("UPDATE boot_tokens SET revoked_at = ?, revoked_why = ? WHERE serial IN (%s) AND revoked_at IS NULL"
                                % placeholders(len(chunk)), [now, "phoned home"] + list(chunk))
            self.engine.execute("DELETE FROM device_boot WHERE serial IN (%s)" % placeholders(len(chunk)), list(chunk))
        self.engine.executemany("INSERT INTO device_boot (serial, netboot, updated_at) VALUES (?, 0, ?)", [(s, now) for s in done])
        self.engine.executemany("INSERT INTO boot_log (at, event, mac, serial, client, detail) VALUES (?, ?, ?, ?, ?, ?)", notes)
        return results

    def record_unknown(self, mac: str, attributes: dict, client: t.Optional[str] = None) -> dict:
        """A machine booting with a MAC the database does not know.

        Recorded (first and last seen, how often, what iPXE reported). When a
        device still waiting for its OS has the serial it reported, the MAC is
        added to that device (``linked``) and it boots as that device from now
        on; otherwise it waits ``unassigned`` for an operator to claim it.
        """
        mac = normalize_mac("boot request", "mac", mac)
        attrs = {}
        for key in MACHINE_ATTRIBUTES:
            value = attributes.get(key)
            if key == "uuid" and _placeholder_uuid(value):
                continue  # a blank SMBIOS UUID names no machine
            if value not in (None, ""):
                attrs[key] = check_text("machine %s" % mac, key, str(value), MAX_ATTRIBUTE)
        return self.store._run_write(lambda: self._record_unknown(mac, attrs))

    def _record_unknown(self, mac: str, attrs: dict) -> dict:
        now = self.now()
        old = self.machine(mac)
        serial = attrs.get("serial")
        device = None
        if serial and (old is None or old["status"] == "unassigned"):
            found = self.store.devices(serial=[serial], with_facts=False) if _plain_serial(serial) else []
            if found and found[0]["state"] in ("registered", "discovered") and not self.engine.execute(
                    "SELECT 1 FROM device_macs WHERE mac = ?", (mac,)):
                device = found[0]
        status = "linked" if device is not None else (old["status"] if old else "unassigned")
        linked = device["serial"] if device is not None else (old["device"] if old else None)
        if old is None:
            self.engine.execute("INSERT INTO boot_machines (mac, status, serial, device, attributes, first_seen, last_seen, seen)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, 1)", (mac, status, serial, linked, dumps(attrs), now, now))
        else:
            self.engine.execute("UPDATE boot_machines SET status = ?, serial = ?, device = ?, attributes = ?, last_seen = ?,"
                                " seen = seen + 1 WHERE mac = ?", (status, serial, linked, dumps(attrs), now, mac))
        if device is not None:
            self._add_mac(device, mac, "MAC %s linked by its reported serial at network boot" % mac)
        return self.machine(mac) or {}

    def claim(self, mac: str, serial: str, actor: str) -> dict:
        """An operator assigns an unassigned machine to a planned device (its MAC is added)."""
        mac = normalize_mac("claim", "mac", mac)
        serial = check_serial("claim", serial)

        def write() -> dict:
            machine = self.machine(mac)
            if machine is None:
                raise ZtpError("machine %s" % mac, "mac", "was never seen booting")
            found = self.store.devices(serial=[serial], with_facts=False)
            if not found:
                raise ZtpError("device %s" % serial, "serial", "is not in the ZTP database")
            if machine["status"] == "linked":
                if machine["device"] == serial:
                    return dict(machine, changed=False)
                raise ZtpError("machine %s" % mac, "mac", "is already linked to device %s" % machine["device"])
            self._add_mac(found[0], mac, "MAC %s claimed by %s" % (mac, actor))
            self.engine.execute("UPDATE boot_machines SET status = 'linked', device = ? WHERE mac = ?", (serial, mac))
            return dict(self.machine(mac) or {}, changed=True)
        return self.store._run_write(write)

    def _add_mac(self, device: dict, mac: str, reason: str) -> None:
        macs = sorted(set(device["macs"]) | {mac})
        self.store._import({"devices": [{"serial": device["serial"], "macs": macs}]}, PHONE_HOME_ACTOR, reason, merge_labels=True)


def _plain_serial(serial: str) -> bool:
    try:
        check_serial("machine", serial)
    except ZtpError:
        return False
    return True


def _machine(row: t.Sequence[t.Any]) -> dict:
    rec = dict(zip(("mac", "status", "serial", "device", "attributes", "first_seen", "last_seen", "seen"), row))
    rec["attributes"] = json.loads(rec["attributes"])
    return rec
