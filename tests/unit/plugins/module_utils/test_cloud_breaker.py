# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The circuit breaker: every transition of the rules, then the same through the ZTP database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils import cloud_breaker as cb
from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_breakers
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpError, ZtpStore

T0 = datetime(2026, 12, 3, 9, 0, 0, tzinfo=timezone.utc)


def fresh():
    return cb.new_record("plant-a", "arm")


def test_closed_admits_every_call():
    assert cb.admit(fresh(), T0) == (cb.CALL, fresh())


def test_closed_counts_failures_below_the_threshold():
    rec = cb.failed(fresh(), T0, "unreachable", threshold=3, timeout=60)
    assert rec["state"] == cb.CLOSED and rec["failures"] == 1 and rec["opened_at"] is None
    rec = cb.failed(rec, T0, "unreachable", threshold=3, timeout=60)
    assert rec["state"] == cb.CLOSED and rec["failures"] == 2
    assert cb.admit(rec, T0)[0] == cb.CALL


def test_closed_opens_at_the_threshold():
    rec = fresh()
    for _attempt in range(3):
        rec = cb.failed(rec, T0, "ARM answered 503", threshold=3, timeout=60)
    assert rec["state"] == cb.OPEN and rec["failures"] == 3
    assert rec["opened_at"] == "2026-12-03T09:00:00Z" and rec["next_retry"] == "2026-12-03T09:01:00Z"
    assert rec["last_error"] == "ARM answered 503"


def test_a_success_resets_the_count():
    rec = cb.failed(fresh(), T0, "x", 3, 60)
    assert cb.succeeded(rec) == fresh()


def test_open_rejects_until_next_retry():
    rec = cb.failed(fresh(), T0, "x", 1, 60)
    assert cb.admit(rec, T0)[0] == cb.REJECT
    assert cb.admit(rec, T0 + timedelta(seconds=59))[0] == cb.REJECT


def test_open_goes_half_open_after_the_timeout():
    rec = cb.failed(fresh(), T0, "x", 1, 60)
    decision, trial = cb.admit(rec, T0 + timedelta(seconds=60))
    assert decision == cb.TRIAL and trial["state"] == cb.HALF_OPEN


def test_half_open_trial_success_closes():
    trial = cb.admit(cb.failed(fresh(), T0, "x", 1, 60), T0 + timedelta(seconds=61))[1]
    assert cb.succeeded(trial)["state"] == cb.CLOSED and cb.succeeded(trial)["failures"] == 0


def test_half_open_trial_failure_opens_again_for_a_new_timeout():
    trial = cb.admit(cb.failed(fresh(), T0, "x", 1, 60), T0 + timedelta(seconds=61))[1]
    assert trial["state"] == cb.HALF_OPEN
    later = T0 + timedelta(seconds=61)
    again = cb.failed(trial, later, "still down", threshold=5, timeout=60)  # below the threshold, still opens
    assert again["state"] == cb.OPEN and again["next_retry"] == cb.iso(later + timedelta(seconds=60))


def test_half_open_found_at_start_gets_its_trial():
    rec = dict(fresh(), state=cb.HALF_OPEN)
    assert cb.admit(rec, T0)[0] == cb.TRIAL


def test_timeout_zero_retries_at_once():
    rec = cb.failed(fresh(), T0, "x", 1, 0)
    assert cb.admit(rec, T0)[0] == cb.TRIAL


@pytest.mark.parametrize("threshold,timeout", [(0, 60), (1, -1), ("3", 60), (True, 60), (3, 1.5)])
def test_settings_are_checked(threshold, timeout):
    with pytest.raises(ValueError):
        cb.failed(fresh(), T0, "x", threshold, timeout)


def test_unknown_state_is_refused():
    with pytest.raises(ValueError, match="unknown state"):
        cb.admit(dict(fresh(), state="ajar"), T0)


@pytest.mark.parametrize("status,outage", [(None, True), (408, True), (429, True), (500, True), (503, True),
                                           (400, False), (401, False), (403, False), (404, False), (409, False)])
def test_what_counts_as_an_outage(status, outage):
    assert cb.is_outage(status) is outage


def test_error_text_is_capped():
    assert len(cb.failed(fresh(), T0, "e" * 5000, 3, 60)["last_error"]) == 1024


# the records in the ZTP database ----------------------------------------------------

@pytest.fixture
def store(db_url, example):
    with ZtpStore(db_url) as s:
        s.import_data(example, "tester")
        yield s


def test_a_breaker_never_seen_is_closed(store):
    assert ztp_breakers.breaker(store, "plant-a", "arm") == fresh()
    assert ztp_breakers.breakers(store) == []


def test_the_whole_cycle_persists(db_url, example):
    with ZtpStore(db_url) as s:
        s.import_data(example, "tester")
    for _run in range(2):
        with ZtpStore(db_url) as s:  # a run each
            decision, rec = ztp_breakers.admit(s, "plant-a", "arm", T0)
            assert decision == cb.CALL
            ztp_breakers.report(s, rec, T0, "unreachable", threshold=2, timeout=300)
    with ZtpStore(db_url) as s:
        rec = ztp_breakers.breaker(s, "plant-a", "arm")
        assert rec["state"] == cb.OPEN and rec["failures"] == 2 and rec["next_retry"] == "2026-12-03T09:05:00Z"
        assert ztp_breakers.admit(s, "plant-a", "arm", T0 + timedelta(seconds=10))[0] == cb.REJECT
        assert ztp_breakers.breaker(s, "plant-a", "arm")["state"] == cb.OPEN
        decision, rec = ztp_breakers.admit(s, "plant-a", "arm", T0 + timedelta(seconds=301))
        assert decision == cb.TRIAL
    with ZtpStore(db_url) as s:
        # the half-open state was stored before the trial went out
        assert ztp_breakers.breaker(s, "plant-a", "arm")["state"] == cb.HALF_OPEN
        ztp_breakers.report(s, rec, T0, None, 2, 300)
        assert ztp_breakers.breaker(s, "plant-a", "arm") == fresh()
        # the other site and dependency were never touched
        assert [(b["site"], b["dependency"]) for b in ztp_breakers.breakers(s)] == [("plant-a", "arm")]


def test_per_site_and_per_dependency(store):
    ztp_breakers.report(store, cb.new_record("plant-a", "arm"), T0, "down", 1, 60)
    ztp_breakers.report(store, cb.new_record("plant-b", "flux"), T0, "down", 5, 60)
    states = dict(((b["site"], b["dependency"]), b["state"]) for b in ztp_breakers.breakers(store))
    assert states == {("plant-a", "arm"): cb.OPEN, ("plant-b", "flux"): cb.CLOSED}
    assert [b["site"] for b in ztp_breakers.breakers(store, sites=["plant-b"])] == ["plant-b"]


def test_saving_the_same_record_changes_nothing(store):
    rec = cb.failed(fresh(), T0, "x", 1, 60)
    assert ztp_breakers.save_breaker(store, rec) is True
    assert ztp_breakers.save_breaker(store, rec) is False


def test_check_mode_never_writes(db_url, example):
    with ZtpStore(db_url) as s:
        s.import_data(example, "tester")
    with ZtpStore(db_url, dry_run=True) as s:
        ztp_breakers.report(s, fresh(), T0, "down", 1, 60)
        assert ztp_breakers.breaker(s, "plant-a", "arm")["state"] == cb.OPEN
    with ZtpStore(db_url) as s:
        assert ztp_breakers.breakers(s) == []


@pytest.mark.parametrize("record,field", [
    (dict(fresh(), site="nowhere"), "site"),
    (dict(fresh(), dependency="Bad-Name"), "dependency"),
    (dict(fresh(), state="ajar"), "state"),
])
def test_bad_records_are_refused_naming_the_field(store, record, field):
    with pytest.raises(ZtpError) as err:
        ztp_breakers.save_breaker(store, record)
    assert err.value.field == field
    assert ztp_breakers.breakers(store) == []
