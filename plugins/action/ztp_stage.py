# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of edgefleet.platform.ztp_stage: the play's outcome, written once.

It runs once per play on the controller (BYPASS_HOST_LOOP), reads what each
host of the play reported from the host variables the stage plays set, finds
the hosts that dropped out of the play from the play itself, and writes every
device's outcome in one ZtpStore.record_stage transaction.
"""

from __future__ import annotations

import os
import typing as t

from ansible.plugins.action import ActionBase
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ENV_VAR, ZtpDatabaseError, ZtpError, ZtpStore, scrub
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_stage import (
    STAGE_ARGSPEC,
    default_stage_actor,
    stage_result,
)

FAILURE_VAR = "edgefleet_stage_failure"


def play_reports(stage: str, task_vars: dict, record_var: str) -> list:
    """One report per ZTP host of the play, from the play's magic variables.

    A host still in the play reports success unless the stage's rescue left
    edgefleet_stage_failure on it; a host that left the play (unreachable, or
    failed outside a rescue) reports a failure. Whether a failure is recorded
    is ztp_model.plan_stage's decision: a host that left in an earlier stage is
    behind this one in the database, and stays untouched.
    """
    play_hosts = task_vars.get("ansible_play_hosts_all") or []
    alive = set(task_vars.get("ansible_play_hosts") or [])
    batch = set(task_vars.get("ansible_play_batch") or [])
    if alive - batch:
        raise ZtpError("stage %s" % stage, None, "ztp_stage records every host of its play at once: run it in a play without serial")
    hostvars = task_vars["hostvars"]
    reports = []
    for host in play_hosts:
        hv = hostvars[host]
        serial = hv.get("ztp_serial")
        if not serial:
            continue  # not a device of the ZTP database (localhost, a helper host)
        report = {"serial": str(serial), "host": str(host)}  # type: dict[str, t.Any]
        failure = hv.get(FAILURE_VAR)
        if failure is not None:
            report["failure"] = str(failure)
        elif host not in alive:
            report["failure"] = "%s left the play during the %s stage (unreachable, or a failure the stage did not catch)" % (host, stage)
        record = hv.get(record_var)
        if isinstance(record, dict):
            for key in ("hardware", "facts"):
                if record.get(key) is not None:
                    report[key] = record[key]
        reports.append(report)
    return reports


class ActionModule(ActionBase):
    BYPASS_HOST_LOOP = True
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: t.Any = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        validation, args = self.validate_argument_spec(argument_spec=STAGE_ARGSPEC)
        params = validation.validated_parameters
        stage = params["stage"]
        url = params.get("database")
        try:
            reports = params["reports"] if params.get("reports") is not None else play_reports(stage, task_vars, params["record_var"])
            with ZtpStore(url, dry_run=bool(self._task.check_mode)) as store:
                outcome = store.record_stage(stage, reports, params.get("actor") or default_stage_actor(stage))
        except (ZtpError, ZtpDatabaseError) as exc:
            result.update(failed=True, msg=scrub(str(exc), url or os.environ.get(ENV_VAR, "")))
            if isinstance(exc, ZtpError):
                result.update(record=exc.record, field=exc.field)
            return result
        result.update(stage_result(stage, outcome, bool(self._task.diff)))
        return result
