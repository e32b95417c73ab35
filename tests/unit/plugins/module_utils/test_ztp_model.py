# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_model as m


@pytest.mark.parametrize("raw", [
    "00:11:22:AA:bb:cc", "00-11-22-aa-BB-cc", "0011.22aa.bbcc", "001122AABBCC", " 00:11:22:aa:bb:cc ",
])
def test_mac_notations_normalise_to_lower_colon(raw):
    assert m.normalize_mac("device X", "mac", raw) == "00:11:22:aa:bb:cc"


@pytest.mark.parametrize("raw", [
    "00:11:22:33:44", "00:11:22:33:44:5g", "00:11-22:33:44:55", "0011.2233.445", "00112233445566", "", 1234, None,
])
def test_malformed_mac_names_record_and_field(raw):
    with pytest.raises(m.ZtpError) as err:
        m.normalize_mac("device SN-1", "macs[0]", raw)
    assert str(err.value).startswith("device SN-1: field 'macs[0]':")
    assert (err.value.record, err.value.field) == ("device SN-1", "macs[0]")


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-", "", "."]), st.booleans())
def test_mac_roundtrip_property(raw, sep, upper):
    hexd = raw.hex()
    if sep == ".":
        text = ".".join(hexd[i:i + 4] for i in range(0, 12, 4))
    else:
        text = sep.join(hexd[i:i + 2] for i in range(0, 12, 2))
    text = text.upper() if upper else text
    canonical = m.normalize_mac("d", "mac", text)
    assert canonical.replace(":", "") == hexd
    assert m.normalize_mac("d", "mac", canonical) == canonical


def test_ip_validation():
    assert m.check_ip("d", "192.0.2.1") == "192.0.2.1"
    assert m.check_ip("d", "2001:DB8::1") == "2001:db8::1"
    for bad in ("192.0.2.300", "host.example", "", 10):
        with pytest.raises(m.ZtpError, match="field 'ip'"):
            m.check_ip("d", bad)


@pytest.mark.parametrize("value,expected", [(4, 4), ("8", 8), (8.0, 8), (0, 0)])
def test_counts_accept_whole_numbers(value, expected):
    assert m.check_count("d", "hardware.cpu_cores", value) == expected


@pytest.mark.parametrize("value,message", [
    (-1, "must not be negative"), ("-2", "must not be negative"), (True, "a number is required"),
    ("four", "is not a whole number"), (2.5, "is not a whole number"), (None, "a number is required"),
    (float("nan"), "not a finite number"),
])
def test_counts_refuse_bad_values(value, message):
    with pytest.raises(m.ZtpError, match=re.escape("field 'hardware.cpu_cores'") + ".*" + message):
        m.check_count("device SN-1", "hardware.cpu_cores", value)


def test_disk_size_may_be_fractional():
    assert m.check_hardware("d", {"disk_gb": "59.6"}) == {"disk_gb": 59.6}
    with pytest.raises(m.ZtpError, match="hardware.gpu"):
        m.check_hardware("d", {"gpu": 1})
    with pytest.raises(m.ZtpError, match="hardware.disk_type"):
        m.check_hardware("d", {"disk_type": "floppy"})


def test_oversize_strings_are_refused():
    with pytest.raises(m.ZtpError, match="field 'serial': is 65 characters long"):
        m.check_serial("devices[0]", "S" * 65)
    with pytest.raises(m.ZtpError, match="field 'name': is 64 characters long"):
        m.check_name("sites[0]", "name", "a" * 64)
    with pytest.raises(m.ZtpError, match="labels.k"):
        m.check_labels("d", {"k": "v" * 256})


def test_labels_keep_template_text_and_stringify_scalars():
    labels = m.check_labels("d", {"note": "{{ lookup('pipe', 'id') }}", "line": 1, "on": True})
    assert labels == {"note": "{{ lookup('pipe', 'id') }}", "line": "1", "on": "true"}


def test_workloads_are_validated():
    assert m.check_workloads("cluster c", [{"name": "db", "type": "database", "count": 2}]) == \
        [{"name": "db", "type": "database", "count": 2}]
    with pytest.raises(m.ZtpError, match=r"cluster c: field 'workloads\[0\].type': 'huge' is not one of"):
        m.check_workloads("cluster c", [{"name": "x", "type": "huge"}])
    with pytest.raises(m.ZtpError, match=r"workloads\[1\].name.*listed twice"):
        m.check_workloads("cluster c", [{"name": "x", "type": "medium"}, {"name": "x", "type": "heavy"}])
    with pytest.raises(m.ZtpError, match=r"workloads\[0\].count.*at least 1"):
        m.check_workloads("cluster c", [{"name": "x", "type": "medium", "count": 0}])


# Hostnames ---------------------------------------------------------------------------

def test_hostname_rule_is_deterministic_and_readable():
    name = m.derive_hostname("plant-a", "control", "SN-0001", "00:11:22:33:44:55", "linux")
    assert name == "plant-a-c-sn0001"
    assert m.derive_hostname("plant-a", "control", "SN-0001", "00:11:22:33:44:55", "linux") == name


def test_windows_hostnames_fit_netbios():
    name = m.derive_hostname("Munich_Plant.North", "worker", "PF3K9X7Q2", "00:11:22:33:44:55", "windows")
    assert len(name) <= 15 and re.match(r"^[a-z][a-z0-9-]*[a-z0-9]$", name)
    assert name.endswith("-w-k9x7q2")


def test_hostname_starts_with_a_letter():
    assert m.derive_hostname("42-hall", "worker", "1234567", "00:11:22:33:44:55", "linux").startswith("s42-hall-w-")


def test_hostname_collision_in_site_falls_back_deterministically():
    first = m.derive_hostname("plant", "worker", "A-123456", "00:00:00:00:00:01", "linux")
    second = m.derive_hostname("plant", "worker", "B-123456", "00:00:00:00:00:02", "linux", taken={first})
    assert second != first and second.startswith("plant-w-")
    assert second == m.derive_hostname("plant", "worker", "B-123456", "00:00:00:00:00:02", "linux", taken={first})


@given(site=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True),
       serial=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/+-]{0,30}", fullmatch=True),
       role=st.sampled_from(m.ROLES), os_family=st.sampled_from(m.OS_FAMILIES))
def test_derived_hostnames_always_pass_the_hostname_check(site, serial, role, os_family):
    name = m.derive_hostname(site, role, serial, "00:11:22:33:44:55", os_family)
    assert m.check_hostname("d", name, os_family) == name


def test_given_hostnames_are_checked():
    with pytest.raises(m.ZtpError, match="at most 15 are allowed for windows hosts"):
        m.check_hostname("device SN-1", "a-very-long-windows-name", "windows")
    for bad in ("Upper", "1abc", "under_score", "trailing-", "{{x}}"):
        with pytest.raises(m.ZtpError, match="field 'hostname'"):
            m.check_hostname("device SN-1", bad, "linux")


# Lifecycle ----------------------------------------------------------------------------

@pytest.mark.parametrize("current,wanted", [
    ("registered", "discovered"), ("discovered", "os_installed"), ("os_installed", "configured"),
    ("configured", "platform_ready"), ("platform_ready", "workloads_deployed"),
    ("workloads_deployed", "operational"), ("configured", "failed"), ("operational", "decommissioned"),
    ("operational", "registered"), ("discovered", "discovered"),
])
def test_legal_transitions(current, wanted):
    m.check_transition("device SN-1", current, wanted, None)


@pytest.mark.parametrize("current,wanted", [
    ("registered", "configured"), ("discovered", "registered-ish"), ("operational", "configured"),
    ("decommissioned", "discovered"), ("configured", "discovered"),
])
def test_illegal_transitions_name_device_state_and_request(current, wanted):
    with pytest.raises(m.ZtpError) as err:
        m.check_transition("device SN-1", current, wanted, None)
    text = str(err.value)
    assert text.startswith("device SN-1: field 'state':")
    assert wanted in text
    if wanted in m.STATES:
        assert "from %s to %s" % (current, wanted) in text


def test_retry_goes_back_to_the_failed_stage():
    # failed in configure: retry from os_installed, or straight to configured
    m.check_transition("d", "failed", "os_installed", "configure")
    m.check_transition("d", "failed", "configured", "configure")
    with pytest.raises(m.ZtpError, match="cannot move from failed to platform_ready"):
        m.check_transition("d", "failed", "platform_ready", "configure")


def test_failing_stage_is_the_one_being_worked_on():
    assert m.failing_stage("registered", None) == "discover"
    assert m.failing_stage("discovered", None) == "os_install"
    assert m.failing_stage("os_installed", None) == "configure"
    assert m.failing_stage("platform_ready", None) == "storage"
    assert m.failing_stage("failed", "platform") == "platform"
    assert m.failing_stage("operational", None) is None


def test_stage_flow_follows_the_lifecycle():
    assert [s.name for s in m.STAGE_FLOW] == list(m.STAGES)
    for stage in m.STAGE_FLOW:
        assert m.LIFECYCLE.index(stage.reaches) - m.LIFECYCLE.index(stage.needs) in (0, 1), stage
    # every state of the workflow but the last is left by some stage
    assert set(m.STAGE_OF_STATE) == set(m.LIFECYCLE[:-1])


# What a stage's outcome does to a device: every case of plan_stage ------------

def _plan(stage, state, failed_stage=None, failure=None):
    return m.plan_stage(stage, "device SN-1", state, failed_stage, failure)


@pytest.mark.parametrize("stage", list(m.STAGES))
def test_success_advances_a_device_due_for_the_stage(stage):
    flow = m.STAGE_BY_NAME[stage]
    plan = _plan(stage, flow.needs)
    assert plan.action == "advanced" and plan.store
    assert plan.moves == (((flow.reaches, None, "%s stage" % stage),) if flow.reaches != flow.needs else ())
    for move in plan.moves:  # every move the plan makes is one the state machine allows
        m.check_transition("d", flow.needs, move[0], None)


def test_configure_passes_a_pre_imaged_ipc_through_os_installed():
    plan = _plan("configure", "discovered")
    assert plan.action == "advanced"
    assert plan.moves == (("os_installed", None, "OS found installed by the configure stage"), ("configured", None, "configure stage"))
    m.check_transition("d", "discovered", "os_installed", None)
    m.check_transition("d", "os_installed", "configured", None)


def test_other_stages_do_not_skip_states():
    assert _plan("platform", "os_installed").action == "behind"
    assert _plan("discover", "registered").moves == (("discovered", None, "discover stage"),)


def test_success_retries_a_device_that_failed_in_this_stage():
    plan = _plan("platform", "failed", "platform")
    assert plan.action == "retried" and plan.moves == (("platform_ready", None, "platform stage"),)
    m.check_transition("d", "failed", "platform_ready", "platform")


@pytest.mark.parametrize("state,failed_stage", [
    ("configured", None), ("platform_ready", None), ("operational", None),
    ("failed", "platform"), ("failed", "handoff"),
])
def test_success_keeps_a_device_already_further_along(state, failed_stage):
    plan = _plan("configure", state, failed_stage)
    assert plan.action == "kept" and plan.moves == () and plan.store
    assert state in plan.note


@pytest.mark.parametrize("state,failed_stage", [
    ("registered", None), ("failed", "discover"), ("failed", None), ("failed", "install_os"),
])
def test_a_device_behind_the_stage_is_never_touched(state, failed_stage):
    for failure in (None, "boom"):
        plan = _plan("configure", state, failed_stage, failure)
        assert plan == m.StagePlan("behind", (), False, plan.note)
        assert "needs os_installed" in plan.note


@pytest.mark.parametrize("state,failed_stage", [
    ("discovered", None), ("os_installed", None), ("configured", None), ("operational", None),
    ("failed", "configure"), ("failed", "platform"),
])
def test_a_failure_is_recorded_in_this_stage_with_the_reason(state, failed_stage):
    plan = _plan("configure", state, failed_stage, "OS hardening: sshd -t\nrefused the\tconfig")
    assert plan.action == "failed" and not plan.store
    assert plan.moves == (("failed", "configure", "OS hardening: sshd -t refused the config"),)
    m.check_transition("d", state, "failed", failed_stage)


def test_unreachable_in_discover_is_a_failure_of_discover():
    plan = _plan("discover", "registered", failure="unreachable: ssh: connect to host 10.0.0.9 port 22: No route to host")
    assert plan.moves[0][:2] == ("failed", "discover")


def test_a_decommissioned_device_is_never_touched():
    for failure in (None, "boom"):
        assert _plan("discover", "decommissioned", failure=failure) == m.StagePlan("decommissioned", (), False, "decommissioned: left untouched")


def test_failure_reasons_are_one_line_cut_to_the_model_limit():
    long = "x" * 5000
    reason = _plan("platform", "configured", failure=long).moves[0][2]
    assert len(reason) == m.MAX_REASON and reason.endswith("...")
    m.check_text("d", "reason", reason, m.MAX_REASON)
    assert m.stage_failure_reason("a\r\nb\x00c\x1b[0m") == "a b c [0m"
    assert m.stage_failure_reason("") == "failed" and m.stage_failure_reason(None) == "failed"


def test_unknown_stage_or_state_names_the_record():
    with pytest.raises(m.ZtpError, match="device SN-1: field 'stage': 'install' is not a stage"):
        _plan("install", "registered")
    with pytest.raises(m.ZtpError, match="device SN-1: field 'state'"):
        _plan("discover", "booting")


def test_a_site_proxy_is_kept_with_no_proxy_comma_separated():
    proxy = m.check_proxy("site plant-b", {"https_proxy": "http://proxy.plant-b.example:3128/",
                                           "no_proxy": ["10.42.0.0/16", " .svc ", "[fd00::1]"]})
    assert proxy == {"https_proxy": "http://proxy.plant-b.example:3128/", "no_proxy": "10.42.0.0/16,.svc,[fd00::1]"}
    assert m.check_proxy("site plant-b", {"http_proxy": "http://[fd00::1]:8080", "no_proxy": "a.example,b.example"}) == {
        "http_proxy": "http://[fd00::1]:8080", "no_proxy": "a.example,b.example"}
    assert m.check_proxy("site plant-b", {}) == {}


@pytest.mark.parametrize("value,field,text", [
    ("http://proxy:3128", "proxy", "a mapping is required"),
    ({"https_proxy": "http://user:pw@proxy:3128"}, "proxy.https_proxy", "stores no secrets"),
    ({"https_proxy": "socks5://proxy:1080"}, "proxy.https_proxy", "http:// or https://"),
    ({"https_proxy": "http://proxy:99999"}, "proxy.https_proxy", "not a proxy host"),
    ({"https_proxy": "http://proxy/path"}, "proxy.https_proxy", "http:// or https://"),
    ({"https_proxy": "http://{{ lookup('env', 'X') }}"}, "proxy.https_proxy", "not a proxy host"),
    ({"ftp_proxy": "http://proxy:3128"}, "proxy.ftp_proxy", "unknown field"),
    ({"https_proxy": "http://proxy:3128", "no_proxy": ["ok.example", "bad host"]}, "proxy.no_proxy", "not a host"),
    ({"no_proxy": "a.example"}, "proxy", "says nothing"),
])
def test_a_bad_site_proxy_names_the_site_and_field(value, field, text):
    with pytest.raises(m.ZtpError) as err:
        m.check_proxy("site plant-b", value)
    assert err.value.record == "site plant-b" and err.value.field == field and text in str(err.value)
    assert "pw" not in str(err.value)
