# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The os_install stage's rules: which devices get their OS from the network, the install
plan check, what the stage waits for; and the filters that expose them to the plays."""

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.platform.plugins.filter import os_install as os_install_filter
from ansible_collections.edgefleet.platform.plugins.module_utils import os_install
from ansible_collections.edgefleet.platform.plugins.module_utils import ztp_model as m
from ansible_collections.edgefleet.platform.tests.unit.plugins.filter.test_sizing import FILTER_DIR, _template

PLANNED = {"edgefleet.io/install": "image"}


def device(state="registered", failed_stage=None, labels=None, **extra):
    rec = {"serial": "SN-1", "mac": "52:54:00:00:00:01", "state": state, "failed_stage": failed_stage,
           "labels": PLANNED if labels is None else labels, "os_family": "linux", "hostname": "plant-a-c-sn1"}
    rec.update(extra)
    return rec


@pytest.mark.parametrize("state,failed_stage", [
    ("registered", None), ("discovered", None), ("failed", "discover"), ("failed", "os_install"),
])
def test_a_planned_device_without_its_os_waits_for_it(state, failed_stage):
    assert os_install.needs_os(device(state, failed_stage))


@pytest.mark.parametrize("state,failed_stage", [
    ("os_installed", None), ("configured", None), ("operational", None), ("decommissioned", None),
    ("failed", "configure"), ("failed", "platform"),
])
def test_a_device_with_its_os_does_not(state, failed_stage):
    assert not os_install.needs_os(device(state, failed_stage))


@pytest.mark.parametrize("labels", [{}, {"edgefleet.io/install": ""}, {"line": "3"}])
def test_without_a_planned_install_the_device_arrives_with_its_os(labels):
    # the lab's IPCs and any pre-imaged one: discover logs in to them, as before
    assert not os_install.needs_os(device(labels=labels))


def test_hosts_without_a_serial_are_not_devices():
    assert not os_install.needs_os({"labels": PLANNED, "state": "registered"})


def test_host_variables_are_read_with_their_prefix():
    hostvars = {"ztp_serial": "SN-9", "ztp_state": "registered", "ztp_labels": PLANNED, "inventory_hostname": "x"}
    assert os_install.device_of(hostvars) == {"serial": "SN-9", "state": "registered", "labels": PLANNED}
    assert os_install.needs_os(os_install.device_of(hostvars))


def test_an_unknown_state_names_the_device():
    with pytest.raises(m.ZtpError, match="device SN-1: field 'state'"):
        os_install.needs_os(device("installing"))


def test_the_install_plan_is_the_boot_servers():
    assert os_install.install_plan(device(), "debian-12.img") == {
        "serial": "SN-1", "method": "image", "image": "debian-12.img", "disk_rule": "single", "network": "dhcp", "domain": None}
    # without the server's default image, the image is left to the boot server
    assert os_install.install_plan(device())["image"] is None
    plan = os_install.install_plan(device(labels={"edgefleet.io/install": "preseed", "edgefleet.io/os-disk": "serial:S1"}))
    assert (plan["method"], plan["image"], plan["disk_rule"]) == ("preseed", None, "serial:S1")


@pytest.mark.parametrize("labels,field", [
    ({"edgefleet.io/install": "floppy"}, "labels.edgefleet.io/install"),
    ({"edgefleet.io/install": "unattend"}, "labels.edgefleet.io/install"),
    ({"edgefleet.io/install": "image", "edgefleet.io/image": "Bad Image"}, "labels.edgefleet.io/image"),
    ({"edgefleet.io/install": "image", "edgefleet.io/os-disk": "first"}, "labels.edgefleet.io/os-disk"),
    ({"edgefleet.io/install": "image", "edgefleet.io/net": "static"}, "ip"),
])
def test_a_bad_label_fails_naming_the_device_and_the_label(labels, field):
    with pytest.raises(m.ZtpError) as err:
        os_install.install_plan(device(labels=labels))
    assert (err.value.record, err.value.field) == ("device SN-1", field)


def test_a_network_install_needs_the_boot_mac():
    with pytest.raises(m.ZtpError, match="device SN-1: field 'mac'"):
        os_install.install_plan(device(mac=None))


@pytest.mark.parametrize("state,failed_stage,waits", [
    ("registered", None, True), ("discovered", None, True), ("failed", "os_install", True), ("failed", "discover", True),
    ("os_installed", None, False), ("configured", None, False), ("failed", "configure", False),
    ("decommissioned", None, False),
])
def test_the_stage_waits_until_the_device_phoned_home(state, failed_stage, waits):
    assert os_install.phoned_home(device(state, failed_stage)) is not waits


def test_waiting_lists_serials_sorted():
    devices = [device("registered", serial="SN-3"), device("os_installed", serial="SN-2"), device("discovered", serial="SN-1")]
    assert os_install.waiting(devices) == ["SN-1", "SN-3"]


def test_a_device_failed_in_discover_is_installed_by_its_phone_home():
    # netboot installs a device failed in discover (boot_rules): its phone-home records the discovery it missed
    plan = m.plan_stage("os_install", "device SN-1", "failed", "discover")
    assert plan.action == "advanced"
    assert plan.moves == (("discovered", None, "discovered by its network boot after failing discover"),
                          ("os_installed", None, "os_install stage"))
    m.check_transition("d", "failed", "discovered", "discover")
    # a later stage still finds it behind (configure on a device failed in discover)
    assert m.plan_stage("configure", "d", "failed", "discover").action == "behind"


# the filters ------------------------------------------------------------------------

def test_filters_raise_ansible_errors():
    with pytest.raises(AnsibleFilterError, match="labels.edgefleet.io/install"):
        os_install_filter.os_install_plan({"ztp_serial": "SN-1", "ztp_mac": "52:54:00:00:00:01",
                                           "ztp_labels": {"edgefleet.io/install": "floppy"}, "ztp_os_family": "linux"})
    with pytest.raises(AnsibleFilterError, match="a list of devices"):
        os_install_filter.os_install_waiting("SN-1")
    with pytest.raises(AnsibleFilterError, match="a device record"):
        os_install_filter.os_install_needed("SN-1")


@pytest.mark.parametrize("name", ["os_install_needed", "os_install_plan", "os_install_waiting"])
def test_every_filter_is_documented(name):
    doc = yaml.safe_load((FILTER_DIR / (name + ".yml")).read_text(encoding="utf-8"))
    assert doc["DOCUMENTATION"]["name"] == name
    assert name in os_install_filter.FilterModule().filters()


def test_the_filters_through_ansibles_templar():
    hv = {"ztp_serial": "SN-1", "ztp_mac": "52:54:00:00:00:01", "ztp_state": "registered", "ztp_labels": PLANNED,
          "ztp_os_family": "linux"}
    out = _template({"needed": "{{ hv | edgefleet.platform.os_install_needed }}",
                     "image": "{{ (hv | edgefleet.platform.os_install_plan('debian-12.img'))['image'] }}",
                     "waiting": "{{ [{'serial': 'SN-1', 'state': 'os_installed'}, {'serial': 'SN-2', 'state': 'registered'}]"
                                " | edgefleet.platform.os_install_waiting }}"}, {"hv": hv})
    assert out == {"needed": {"value": True}, "image": {"value": "debian-12.img"}, "waiting": {"value": ["SN-2"]}}
