# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ztp_stage action: the play's hosts and what they reported, read from the play."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.action.ztp_stage import play_reports
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import ZtpError


def _vars(hostvars, alive, batch=None):
    return {
        "ansible_play_hosts_all": list(hostvars),
        "ansible_play_hosts": alive,
        "ansible_play_batch": alive if batch is None else batch,
        "hostvars": hostvars,
    }


def test_hosts_are_classified_from_the_play_itself():
    hostvars = {
        "ok": {"ztp_serial": "SN-1", "discover_observed": {"hardware": {"cpu_cores": 4}, "facts": {"nics": []}}},
        "rescued": {"ztp_serial": "SN-2", "edgefleet_stage_failure": "Check the serial: the host reports serial X"},
        "gone": {"ztp_serial": "SN-3"},
        "helper": {"inventory_hostname": "helper"},  # not a ZTP device
        "numeric": {"ztp_serial": 12345},
    }
    reports = play_reports("discover", _vars(hostvars, ["ok", "rescued", "helper", "numeric"]), "discover_observed")
    assert reports == [
        {"serial": "SN-1", "host": "ok", "hardware": {"cpu_cores": 4}, "facts": {"nics": []}},
        {"serial": "SN-2", "host": "rescued", "failure": "Check the serial: the host reports serial X"},
        {"serial": "SN-3", "host": "gone",
         "failure": "gone left the play during the discover stage (unreachable, or a failure the stage did not catch)"},
        {"serial": "12345", "host": "numeric"},
    ]


def test_a_record_in_another_variable_is_not_read():
    hostvars = {"ok": {"ztp_serial": "SN-1", "discover_observed": {"hardware": {"cpu_cores": 4}}}}
    assert play_reports("configure", _vars(hostvars, ["ok"]), "edgefleet_stage_record") == [{"serial": "SN-1", "host": "ok"}]


def test_a_play_with_serial_is_refused():
    hostvars = {"a": {"ztp_serial": "SN-1"}, "b": {"ztp_serial": "SN-2"}}
    with pytest.raises(ZtpError, match="without serial"):
        play_reports("configure", _vars(hostvars, ["a", "b"], batch=["a"]), "edgefleet_stage_record")
