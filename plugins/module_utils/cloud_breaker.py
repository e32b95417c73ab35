# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The circuit breaker in front of every cloud call: pure rules, no I/O.

One breaker per site and per cloud dependency (``arm``, ``flux``, ...). Its
record is kept in the ZTP database (ztp_breakers) so that it survives between
runs; this file only decides:

- ``closed``: calls go through; each failure counts, and ``threshold``
  consecutive failures open the breaker.
- ``open``: calls fail fast, without touching the network, until
  ``next_retry`` (opened_at + timeout).
- ``half_open``: after ``next_retry`` one trial call goes through. Success
  closes the breaker, failure opens it again for another timeout.

A failure is an outage of the dependency (unreachable, timed out, 5xx, 429
after the client's own retries); a refusal of the request itself (400, 401,
403, 409) says nothing about the dependency's health and is not counted.
"""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)

DEFAULT_THRESHOLD = 3
DEFAULT_TIMEOUT = 900  # seconds an open breaker waits before one trial call
DEPENDENCY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"

# What admit() says about a call.
CALL = "call"      # closed: go
TRIAL = "trial"    # the one trial call of a half-open breaker: go
REJECT = "reject"  # open: fail fast


class BreakerOpen(Exception):
    """A cloud call was refused because its breaker is open."""

    def __init__(self, site: str, dependency: str, next_retry: str | None) -> None:
        self.site = site
        self.dependency = dependency
        self.next_retry = next_retry
        super().__init__("the %s breaker of site %s is open: cloud calls fail fast until %s (local only)"
                         % (dependency, site, next_retry or "the next run"))


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def new_record(site: str, dependency: str) -> dict:
    """A breaker never seen before: closed, no failures."""
    return {"site": site, "dependency": dependency, "state": CLOSED, "failures": 0,
            "opened_at": None, "next_retry": None, "last_error": None}


def check_settings(threshold: int, timeout: int) -> None:
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise ValueError("the breaker threshold must be an integer >= 1, got %r" % (threshold,))
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
        raise ValueError("the breaker timeout must be an integer number of seconds >= 0, got %r" % (timeout,))


def admit(record: dict, now: datetime) -> t.Tuple[str, dict]:
    """Whether a call may go, and the record to store before it goes.

    An open breaker whose retry time has come turns half-open (stored, so a
    run that dies during its trial is seen as half-open next time and tries
    once again). A half-open breaker found at the start of a call is one whose
    trial never reported: it gets the trial.
    """
    state = record["state"]
    if state == CLOSED:
        return CALL, record
    if state == HALF_OPEN:
        return TRIAL, record
    if state != OPEN:
        raise ValueError("breaker %s/%s has an unknown state %r" % (record["site"], record["dependency"], state))
    retry = parse_iso(record.get("next_retry"))
    if retry is not None and now < retry:
        return REJECT, record
    return TRIAL, dict(record, state=HALF_OPEN)


def succeeded(record: dict) -> dict:
    """A call went through: the breaker closes and forgets past failures."""
    return dict(record, state=CLOSED, failures=0, opened_at=None, next_retry=None, last_error=None)


def failed(record: dict, now: datetime, error: str, threshold: int, timeout: int) -> dict:
    """A call failed for an outage: count it; open at the threshold, or at once after a trial."""
    check_settings(threshold, timeout)
    failures = int(record.get("failures") or 0) + 1
    out = dict(record, failures=failures, last_error=error[:1024])
    if record["state"] == HALF_OPEN or failures >= threshold:
        out.update(state=OPEN, opened_at=iso(now), next_retry=iso(now + timedelta(seconds=timeout)))
    return out


def is_outage(status: int | None) -> bool:
    """Whether an HTTP outcome counts against the dependency (None: no answer at all)."""
    return status is None or status == 408 or status == 429 or status >= 500
