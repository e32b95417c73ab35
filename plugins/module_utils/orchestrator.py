# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The orchestrator's rules: who is run, how many at once, leases, and what a run's end records.

Pure Python, no I/O, like ztp_model: orchestrator_store applies them inside
its one claim transaction and at a run's end, orchestrator_service is the
thin program around them.

- A device is **eligible** when it phoned home (``os_installed``) at least
  ``settle`` seconds ago, is in no active run, and has had no run since that
  phone-home, except runs that ended without a result (their process died):
  those are retried up to ``max_attempts`` runs in all.
- A run holds the eligible devices of one cluster (a device without a cluster
  runs alone); a cluster with a device in an active run waits for it, so two
  runs never work on one cluster at once.
- **Caps** count devices in active runs, per site and in all; a batch is cut to
  what the caps leave.
- A run's **lease** is renewed by the process running it; once it passed, the
  run is over (``crashed``) and its devices are free again.
"""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import (
    ZtpError,
    failing_stage,
    stage_failure_reason,
)

# The state a phone-home leaves a device in: what the orchestrator picks up.
PHONED_HOME = "os_installed"
RUN_STATUSES = ("running", "successful", "failed", "timeout", "canceled", "crashed")
# Per device at a run's end: moved on by the stages, failed in a stage (recorded
# by the stage or, when the run ended without one, by the orchestrator), left
# where it was by a successful run (nothing in site.yml applies to it yet), or
# its run ended without a result (retried while attempts are left).
DEVICE_OUTCOMES = ("moved", "failed", "unchanged", "crashed")
RETRIED = ("crashed",)
ISO = "%Y-%m-%dT%H:%M:%SZ"


class Caps(t.NamedTuple):
    """Devices in active runs at most, in all and per site."""

    total: int
    per_site: int


class Batch(t.NamedTuple):
    site: str
    cluster: t.Optional[str]
    serials: t.Tuple[str, ...]


def check_settings(total: t.Any, per_site: t.Any, lease_seconds: t.Any, max_attempts: t.Any) -> Caps:
    """The caps and lease checked: whole numbers of at least 1 (a lease of at least 10 s)."""
    for field, value, least in (("max_total", total, 1), ("max_per_site", per_site, 1),
                                ("lease_seconds", lease_seconds, 10), ("max_attempts", max_attempts, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ZtpError("orchestrator", field, "must be a whole number of at least %d, got %r" % (least, value))
    return Caps(total, per_site)


# Time ------------------------------------------------------------------------------

def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, ISO).replace(tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(ISO)


def lease_until(now: str, lease_seconds: int) -> str:
    return iso(parse_iso(now) + timedelta(seconds=lease_seconds))


def lease_expired(until: str, now: str) -> bool:
    """A lease is over once its time passed (ISO UTC strings compare in time order)."""
    return until < now


# Eligibility and batches -----------------------------------------------------------------

def attempts(history: t.Iterable[t.Mapping], since: str) -> t.Tuple[int, bool]:
    """(runs since the phone-home at ``since``, whether one of them ended with a result)."""
    runs = [h for h in history if h["since"] == since]
    return len(runs), any(h["outcome"] not in RETRIED for h in runs)


def eligible(device: t.Mapping, history: t.Iterable[t.Mapping], active: bool, now: str, settle: int,
             max_attempts: int) -> bool:
    """Whether the orchestrator runs the device now (see the module docstring)."""
    if device["state"] != PHONED_HOME or active:
        return False
    since = device["state_changed_at"]
    if parse_iso(since) + timedelta(seconds=settle) > parse_iso(now):
        return False
    count, finished = attempts(history, since)
    return not finished and count < max_attempts


def plan_batches(candidates: t.Sequence[t.Mapping], active_per_site: t.Mapping[str, int], busy_clusters: t.Container[str],
                 caps: Caps) -> t.List[Batch]:
    """The runs to start: the candidates (eligible devices, oldest phone-home first)
    grouped by cluster, each batch cut to what the caps leave, busy clusters skipped."""
    left_total = caps.total - sum(active_per_site.values())
    left_site = dict((site, caps.per_site - n) for site, n in active_per_site.items())
    groups = {}  # type: dict[tuple, list]
    order = []
    for device in candidates:
        key = (device["site"], device.get("cluster") or None, None if device.get("cluster") else device["serial"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(device["serial"])
    batches = []
    for site, cluster, _alone in order:
        if cluster is not None and cluster in busy_clusters:
            continue
        room = min(left_total, left_site.get(site, caps.per_site))
        if room <= 0:
            continue
        serials = tuple(groups[(site, cluster, _alone)][:room])
        batches.append(Batch(site, cluster, serials))
        left_total -= len(serials)
        left_site[site] = left_site.get(site, caps.per_site) - len(serials)
    return batches


# A run's end ----------------------------------------------------------------------------

def device_outcome(before_since: str, after: t.Optional[t.Mapping], run_status: str, reason: str) -> t.Tuple[str, t.Optional[str], str]:
    """(outcome, stage, reason) of one device of a finished run, from its record now.

    Moved on by the stages, or failed in a stage (the stage's reason): as the
    stages recorded it. Still where the phone-home left it: unchanged after a
    successful run; after a failed or timed-out run, a failure the orchestrator
    records in the stage the device was working on, with the run's reason;
    after a canceled run, ``crashed``: it is run again while attempts are left.
    """
    if after is None:
        return ("failed", None, "the device is no longer in the ZTP database")
    if after["state"] == "failed":
        return ("failed", after.get("failed_stage"), after.get("failure_reason") or "failed")
    if after["state"] != PHONED_HOME or after["state_changed_at"] != before_since:
        return ("moved", None, after["state"])
    if run_status == "successful":
        return ("unchanged", None, "site.yml had nothing for it")
    if run_status == "canceled":  # stopped from outside (a shutdown, a lost lease): run again, as a crash
        return ("crashed", None, stage_failure_reason(reason))
    return ("failed", failing_stage(after["state"], None), stage_failure_reason(reason))


def crash_reason(run: t.Mapping, exhausted: bool) -> str:
    """Why a run whose lease expired is over, for the run and (when no attempt is left) the device."""
    text = "run %s on %s ended without a result: its lease expired at %s (the process running it stopped)" % (
        run["id"], run["owner"], run["lease_until"])
    return text + ("; no attempt left" if exhausted else "; the device is run again")


def runner_reason(status: str, rc: t.Optional[int], timeout: t.Optional[int], last_failure: t.Optional[str]) -> str:
    """One line for a run that did not succeed."""
    if status == "timeout":
        text = "site.yml timed out after %s s" % timeout
    elif status == "canceled":
        text = "site.yml was canceled (the orchestrator stopped or lost the run's lease)"
    else:
        text = "site.yml failed (rc %s)" % rc
    return stage_failure_reason(text + (": " + last_failure if last_failure else ""))
