# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ztp_stage module and its action plugin share: options and the result.

The rules of what a stage does to a device are ztp_model.plan_stage; the write
is ZtpStore.record_stage. This file only shapes input and output.
"""

from __future__ import annotations

from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import STAGES
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_module import DATABASE_ARGSPEC

REPORT_KEYS = ("serial", "host", "failure", "hardware", "facts")

STAGE_ARGSPEC = dict(
    stage=dict(type="str", required=True, choices=list(STAGES)),
    reports=dict(type="list", elements="dict", options=dict(
        serial=dict(type="str", required=True),
        host=dict(type="str"),
        failure=dict(type="str"),
        hardware=dict(type="dict"),
        facts=dict(type="dict"),
    )),
    record_var=dict(type="str", default="edgefleet_stage_record"),
    actor=dict(type="str"),
)
STAGE_ARGSPEC.update(DATABASE_ARGSPEC)


def default_stage_actor(stage: str) -> str:
    return "edgefleet.platform %s stage" % stage


def stage_result(stage: str, outcome: dict, want_diff: bool) -> dict:
    """The task result: per device what the stage did, a line each for the play's output."""
    devices = outcome["devices"]
    counts = dict((action, 0) for action in ("advanced", "retried", "kept", "failed", "behind", "decommissioned"))
    summary = []
    for device in devices:
        counts[device["action"]] += 1
        name = device.get("host") or device["serial"]
        line = "%s (%s): %s" % (name, device["serial"], device["state"])
        if device["action"] == "failed":
            line += " in %s: %s" % (stage, device["reason"])
        elif device["action"] != "advanced":
            line += " (%s)" % device["note"]
        summary.append(line)
    result: dict = dict(changed=outcome["changed"], stage=stage, devices=devices, counts=counts, summary=summary)
    if want_diff and outcome["changed"]:
        result["diff"] = outcome["diff"]
    return result
