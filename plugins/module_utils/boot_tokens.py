# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-time install tokens and the phone-home body: pure rules, no I/O.

A token is issued for one device and one MAC when that MAC fetches its answer
file, is written into that answer file only, and is revoked when the device
phones home (or when a newer one is issued). The database stores its SHA-256,
never the token. boot_store holds the reads and writes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import typing as t
from datetime import datetime, timezone

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import (
    ZtpError,
    check_hardware,
    check_serial,
    normalize_mac,
)

TOKEN_BYTES = 32
DEFAULT_TTL_SECONDS = 4 * 3600  # an install plus its first boot, on a slow site
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
PHONE_HOME_KEYS = ("token", "serial", "macs", "hardware", "facts", "ssh_host_keys")
MAX_BODY = 64 * 1024
MAX_MACS = 32
MAX_HOST_KEYS = 8

# Why a token or a call is refused: the log says which, the caller only "refused".
REFUSALS = ("malformed", "unknown_token", "replayed", "expired", "wrong_device", "wrong_mac", "not_due")


class BootRefused(Exception):
    """A boot or phone-home call refused: ``why`` is one of REFUSALS, ``detail`` is for the log."""

    def __init__(self, why: str, detail: str, serial: t.Optional[str] = None, mac: t.Optional[str] = None) -> None:
        super().__init__("%s: %s" % (why, detail))
        self.why = why
        self.detail = detail
        self.serial = serial
        self.mac = mac


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_verdict(row: t.Optional[t.Sequence[t.Any]], serial: str, macs: t.Sequence[str], now: str) -> t.Optional[t.Tuple[str, str]]:
    """None when the stored token ``row`` (serial, mac, expires_at, revoked_at,
    revoked_why) admits this call, else (refusal, detail)."""
    if row is None:
        return ("unknown_token", "no such token")
    token_serial, token_mac, expires_at, revoked_at, revoked_why = row
    if revoked_at is not None:
        return ("replayed", "token was revoked at %s (%s)" % (revoked_at, revoked_why))
    if expires_at <= now:
        return ("expired", "token expired at %s" % expires_at)
    if not hmac.compare_digest(token_serial, serial):
        return ("wrong_device", "token belongs to device %s, the call says %s" % (token_serial, serial))
    if token_mac not in macs:
        return ("wrong_mac", "token was issued to %s, not among the MACs reported (%s)" % (token_mac, ", ".join(macs)))
    return None


def parse_phone_home(body: t.Any) -> dict:
    """The phone-home body checked whole: refused as ``malformed`` naming the field."""
    try:
        if not isinstance(body, dict):
            raise ZtpError("phone-home", None, "a JSON object is required")
        unknown = sorted(str(k) for k in set(body) - set(PHONE_HOME_KEYS))
        if unknown:
            raise ZtpError("phone-home", unknown[0], "unknown field (known: %s)" % ", ".join(PHONE_HOME_KEYS))
        token = body.get("token")
        if not isinstance(token, str) or not _TOKEN_RE.match(token):
            raise ZtpError("phone-home", "token", "a token string is required")
        serial = check_serial("phone-home", body.get("serial"))
        macs = body.get("macs")
        if not isinstance(macs, list) or not 1 <= len(macs) <= MAX_MACS:
            raise ZtpError("phone-home", "macs", "a list of 1 to %d MAC addresses is required" % MAX_MACS)
        macs = sorted(set(normalize_mac("phone-home", "macs[%d]" % i, m) for i, m in enumerate(macs)))
        hardware = check_hardware("phone-home", body.get("hardware") if body.get("hardware") is not None else {})
        facts = body.get("facts") if body.get("facts") is not None else {}
        if not isinstance(facts, dict):
            raise ZtpError("phone-home", "facts", "a mapping is required")
        keys = body.get("ssh_host_keys") if body.get("ssh_host_keys") is not None else []
        if not isinstance(keys, list) or len(keys) > MAX_HOST_KEYS or not all(
                isinstance(k, str) and re.match(r"^(ssh|ecdsa)-[a-z0-9-]+ [A-Za-z0-9+/=]+( [^\x00-\x1f]*)?$", k) for k in keys):
            raise ZtpError("phone-home", "ssh_host_keys", "a list of at most %d OpenSSH public keys is required" % MAX_HOST_KEYS)
    except ZtpError as exc:
        raise BootRefused("malformed", str(exc)) from None
    return {"token": token, "serial": serial, "macs": macs, "hardware": hardware, "facts": facts, "ssh_host_keys": keys}
