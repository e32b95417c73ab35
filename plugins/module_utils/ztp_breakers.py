# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud breakers' records in the ZTP database (table cloud_breakers, migration 5).

Reads and writes of the breaker records, on an open ZtpStore: the rules of
what a breaker does are cloud_breaker's; this file stores what they decide.
Each write is one transaction (check mode: the store's dry run, never committed).
"""

from __future__ import annotations

import re
import typing as t
from datetime import datetime

from ansible_collections.edgefleet.platform.plugins.module_utils import cloud_breaker as cb
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_engine import now_iso, placeholders
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import ZtpError, check_name

COLUMNS = ("site", "dependency", "state", "failures", "opened_at", "next_retry", "last_error")


def check_dependency(site: str, dependency: t.Any) -> str:
    if not isinstance(dependency, str) or not re.match(cb.DEPENDENCY_PATTERN, dependency):
        raise ZtpError("breaker %s" % site, "dependency",
                       "%r is not a dependency name (lower case letters, digits and _, at most 32)" % (dependency,))
    return dependency


def breakers(store: t.Any, sites: t.Sequence[str] = ()) -> t.List[dict]:
    """Every stored breaker record (of these sites), ordered by site and dependency."""
    where, params = "", list(sites)
    if sites:
        where = " WHERE site IN (%s)" % placeholders(len(sites))
    rows = store.engine.execute("SELECT %s FROM cloud_breakers%s ORDER BY site, dependency" % (", ".join(COLUMNS), where), params)
    return [dict(zip(COLUMNS, row)) for row in rows]


def breaker(store: t.Any, site: str, dependency: str) -> dict:
    """The record of one breaker; a closed one if none is stored yet."""
    check_name("breaker", "site", site)
    check_dependency(site, dependency)
    rows = store.engine.execute("SELECT %s FROM cloud_breakers WHERE site = ? AND dependency = ?" % ", ".join(COLUMNS),
                                (site, dependency))
    return dict(zip(COLUMNS, rows[0])) if rows else cb.new_record(site, dependency)


def save_breaker(store: t.Any, record: dict) -> bool:
    """Store a breaker record; returns whether it changed. The site must exist."""
    site = check_name("breaker", "site", record.get("site"))
    dependency = check_dependency(site, record.get("dependency"))
    if record.get("state") not in cb.STATES:
        raise ZtpError("breaker %s/%s" % (site, dependency), "state", "must be one of %s" % ", ".join(cb.STATES))

    def write() -> bool:
        if not store.engine.execute("SELECT 1 FROM sites WHERE name = ?", (site,)):
            raise ZtpError("breaker %s/%s" % (site, dependency), "site", "unknown site %r" % site)
        old = breaker(store, site, dependency)
        new = dict((k, record.get(k)) for k in COLUMNS)
        new["failures"] = int(new["failures"] or 0)
        if old == new:
            return False
        values = (new["state"], new["failures"], new["opened_at"], new["next_retry"], new["last_error"], now_iso())
        if store.engine.execute("SELECT 1 FROM cloud_breakers WHERE site = ? AND dependency = ?", (site, dependency)):
            store.engine.execute("UPDATE cloud_breakers SET state = ?, failures = ?, opened_at = ?, next_retry = ?,"
                                 " last_error = ?, updated_at = ? WHERE site = ? AND dependency = ?", values + (site, dependency))
        else:
            store.engine.execute("INSERT INTO cloud_breakers (state, failures, opened_at, next_retry, last_error, updated_at,"
                                 " site, dependency) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values + (site, dependency))
        return True

    return bool(store._run_write(write))


def admit(store: t.Any, site: str, dependency: str, now: datetime) -> t.Tuple[str, dict]:
    """cloud_breaker.admit on the stored record; an open breaker turning half-open is stored."""
    decision, record = cb.admit(breaker(store, site, dependency), now)
    if decision == cb.TRIAL:
        save_breaker(store, record)
    return decision, record


def report(store: t.Any, record: dict, now: datetime, error: str | None, threshold: int, timeout: int) -> dict:
    """Store a call's outcome (error None: it succeeded); returns the new record."""
    new = cb.succeeded(record) if error is None else cb.failed(record, now, error, threshold, timeout)
    save_breaker(store, new)
    return new
