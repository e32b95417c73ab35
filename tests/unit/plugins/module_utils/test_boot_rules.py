# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a machine boots, how it installs, on which disk, under which name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.edgefleet.platform.plugins.module_utils import boot_rules as r
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_scripts import ScriptUrls, device_script, entry_script
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_model import LIFECYCLE, ZtpError

GB = 1024 ** 3
URLS = ScriptUrls("http://192.0.2.1:8080", "http://192.0.2.1")


def device(state="registered", os_family="linux", failed_stage=None, hostname="plant-a-c-sn0001", **labels):
    return {"serial": "SN-0001", "mac": "52:54:00:12:34:56", "hostname": hostname, "os_family": os_family,
            "state": state, "failed_stage": failed_stage, "ip": "192.0.2.10",
            "labels": dict(("edgefleet.io/" + k.replace("_", "-"), v) for k, v in labels.items())}


def disk(name, gb, **extra):
    return dict({"name": name, "size_bytes": gb * GB, "removable": False, "transport": "sata", "model": "IPC SSD",
                 "serial": "S-" + name, "wwn": "0x5000" + name, "by_id": ["ata-IPC_SSD_S-" + name]}, **extra)


# The per-MAC decision -------------------------------------------------------------

def test_an_unknown_mac_is_discovered():
    assert r.boot_decision(None, False).kind == "discovery"


@pytest.mark.parametrize("state", ["registered", "discovered"])
def test_a_device_that_needs_its_os_installs_while_netboot_is_on(state):
    decision = r.boot_decision(device(state), True)
    assert (decision.kind, decision.method) == ("install", "image")
    assert r.boot_decision(device(state, install="preseed"), True).method == "preseed"
    assert r.boot_decision(device(state, os_family="windows", hostname="plant-c-sn0001"), True).method == "unattend"
    # netboot switched off: never an install, whatever the state says
    assert r.boot_decision(device(state), False).kind == "local"


@pytest.mark.parametrize("state", ["registered", "discovered"])
def test_an_install_that_fetched_its_token_boots_its_disk_until_the_phone_home(state):
    # the deployer (or d-i) reboots a PXE-first machine into what it wrote: no second install
    decision = r.boot_decision(device(state), True, awaiting_phone_home=True)
    assert decision.kind == "local" and "token" in decision.reason
    assert r.boot_decision(device(state), True, awaiting_phone_home=False).kind == "install"
    assert r.boot_decision(device("decommissioned"), True, awaiting_phone_home=True).kind == "none"


@pytest.mark.parametrize("state", LIFECYCLE[LIFECYCLE.index("os_installed"):])
def test_a_device_with_its_os_boots_its_disk(state):
    assert r.boot_decision(device(state), True).kind == "local"


def test_failures_install_again_only_in_the_stages_before_the_os():
    assert r.boot_decision(device("failed", failed_stage="os_install"), True).kind == "install"
    assert r.boot_decision(device("failed", failed_stage="discover"), True).kind == "install"
    assert r.boot_decision(device("failed", failed_stage="configure"), True).kind == "local"
    assert r.boot_decision(device("failed", failed_stage="platform"), True).kind == "local"


def test_a_decommissioned_device_gets_nothing():
    decision = r.boot_decision(device("decommissioned"), True)
    assert decision.kind == "none"
    assert device_script(decision, device("decommissioned"), None, URLS, "52:54:00:12:34:56") is None


# The install intent ----------------------------------------------------------------

def test_install_intent_defaults():
    intent = r.install_intent(device(), default_image="debian-12")
    assert intent == r.InstallIntent("image", "debian-12", "single", r.Network("dhcp", "52:54:00:12:34:56"), None)
    with pytest.raises(ZtpError, match=r"device SN-0001: field 'labels.edgefleet.io/image': no golden image"):
        r.install_intent(device())


@pytest.mark.parametrize("labels, field, message", [
    ({"install": "kickstart"}, "labels.edgefleet.io/install", "'kickstart' is not one of image, preseed"),
    ({"image": "Debian 12"}, "labels.edgefleet.io/image", "is not an image name"),
    ({"os_disk": "first"}, "labels.edgefleet.io/os-disk", "is not a disk rule"),
    ({"net": "wifi"}, "labels.edgefleet.io/net", "'wifi' is not one of dhcp, static"),
    ({"net": "static", "net_prefix": "33", "net_gateway": "192.0.2.1"}, "labels.edgefleet.io/net-prefix", "not a prefix length"),
    ({"net": "static", "net_prefix": "24", "net_gateway": "198.51.100.1"}, "labels.edgefleet.io/net-gateway", "is not in 192.0.2.0/24"),
    ({"net": "static", "net_prefix": "24", "net_gateway": "192.0.2.1", "net_dns": "1.1.1.1,dns"}, "labels.edgefleet.io/net-dns",
     "'dns' is not an IP address"),
    ({"domain": "{{ lookup('pipe', 'id') }}"}, "labels.edgefleet.io/domain", "is not a DNS domain"),
])
def test_bad_install_labels_name_the_device_and_the_label(labels, field, message):
    with pytest.raises(ZtpError) as err:
        r.install_intent(device(**labels), default_image="debian-12")
    assert str(err.value).startswith("device SN-0001: field '%s'" % field)
    assert message in str(err.value)


def test_the_install_method_must_fit_the_os_family():
    with pytest.raises(ZtpError, match="a Windows device installs with unattend, not preseed"):
        r.install_method(device(os_family="windows", install="preseed"))
    with pytest.raises(ZtpError, match="a Linux device installs with one of image, preseed, autoinstall, not unattend"):
        r.install_method(device(install="unattend"))


def test_a_static_network_is_pinned_to_the_boot_mac():
    intent = r.install_intent(device(net="static", net_prefix="24", net_gateway="192.0.2.1", net_dns="192.0.2.53, 192.0.2.54"),
                              default_image="debian-12")
    assert intent.network == r.Network("static", "52:54:00:12:34:56", "192.0.2.10/24", "192.0.2.1", ("192.0.2.53", "192.0.2.54"))


# The install disk ---------------------------------------------------------------------

def test_single_refuses_a_machine_with_two_internal_disks_instead_of_taking_the_first():
    with pytest.raises(ZtpError) as err:
        r.choose_disk("device SN-0001", "single", [disk("sda", 256), disk("nvme0n1", 512)])
    assert "matches 2 disks, record one with serial:, wwn: or by-id:" in str(err.value)
    assert "sda (IPC SSD, 256 GB, serial S-sda)" in str(err.value) and "nvme0n1" in str(err.value)


def test_single_ignores_usb_sticks_removable_and_tiny_disks():
    disks = [disk("sdb", 32, transport="usb"), disk("sdc", 64, removable=True), disk("mmcblk0", 4, transport="mmc"),
             disk("sdd", 2), disk("sda", 128)]
    assert r.choose_disk("d", "single", disks)["name"] == "sda"


@pytest.mark.parametrize("rule, name", [
    ("serial:S-nvme0n1", "nvme0n1"), ("wwn:0x5000SDA", "sda"), ("by-id:ata-IPC_SSD_S-sda", "sda"),
    ("by-id:*S-nvme0n1", "nvme0n1"), ("model:Samsung*", "nvme0n1"),
])
def test_rules_name_one_disk(rule, name):
    disks = [disk("sda", 256), disk("nvme0n1", 512, model="Samsung SSD 980")]
    assert r.choose_disk("d", rule, disks)["name"] == name


def test_a_rule_matching_several_or_none_is_refused():
    disks = [disk("sda", 256), disk("sdb", 256)]
    with pytest.raises(ZtpError, match="matches 2 disks"):
        r.choose_disk("d", "by-id:ata-IPC_SSD_*", disks)
    with pytest.raises(ZtpError, match="matches no disk of at least 8 GB; the device has: sda"):
        r.choose_disk("d", "serial:NOPE", disks)
    with pytest.raises(ZtpError, match="matches no disk"):
        r.choose_disk("d", "single", [])


@given(st.lists(st.tuples(st.integers(1, 64), st.booleans(), st.sampled_from(["sata", "nvme", "usb"])), max_size=6))
def test_single_picks_only_when_exactly_one_disk_qualifies(specs):
    disks = [disk("d%d" % i, size, removable=removable, transport=transport) for i, (size, removable, transport) in enumerate(specs)]
    eligible = [d for d in disks if d["size_bytes"] >= 8 * GB and not d["removable"] and d["transport"] != "usb"]
    if len(eligible) == 1:
        assert r.choose_disk("d", "single", disks) is eligible[0]
    else:
        with pytest.raises(ZtpError):
            r.choose_disk("d", "single", disks)


# Names and scripts ------------------------------------------------------------------------

def test_windows_computer_name_holds_at_most_15_characters():
    assert r.computer_name(device(os_family="windows", hostname="plant-a-c-sn001")) == "PLANT-A-C-SN001"
    with pytest.raises(ZtpError, match="'plant-a-c-sn0001' is 16 characters long, a Windows ComputerName holds at most 15"):
        r.computer_name(device(os_family="windows", hostname="plant-a-c-sn0001"))
    with pytest.raises(ZtpError, match="not a valid Windows ComputerName"):
        r.computer_name(device(os_family="windows", hostname="123456"))


def test_nothing_unsafe_goes_into_a_boot_script():
    with pytest.raises(ZtpError, match="cannot go into a boot script"):
        r.script_value("d", "hostname", "x ${root}")
    with pytest.raises(ZtpError, match="cannot go into a boot script"):
        entry_script(ScriptUrls("http://a b", "http://c"))


def test_device_scripts():
    urls = URLS
    dev = device()
    intent = r.install_intent(dev, default_image="debian-12")
    install = device_script(r.boot_decision(dev, True), dev, intent, urls, dev["mac"])
    assert "kernel http://192.0.2.1/deployer/vmlinuz" in install
    assert "BOOTIF=01-52-54-00-12-34-56 edgefleet.answer=http://192.0.2.1:8080/answer/52-54-00-12-34-56" in install
    assert "edgefleet.image=http://192.0.2.1/images/debian-12" in install
    local = device_script(r.boot_decision(device("configured"), True), device("configured"), None, urls, dev["mac"])
    assert "sanboot --no-describe --drive 0x80" in local and "kernel" not in local
    discovery = device_script(r.boot_decision(None, False), None, None, urls, "52:54:00:99:99:99")
    assert "chain --autofree http://192.0.2.1:8080/boot/52-54-00-99-99-99.ipxe" in discovery
    entry = entry_script(urls)
    assert "${mac:hexhyp}.ipxe?serial=${serial:uristring}&uuid=${uuid}&" in entry
    # the UUID never as :uristring (its raw bytes: a zero byte cut the URL off in a QEMU VM, the end to end test)
    assert "${uuid:" not in entry and "&platform=${platform:uristring}&arch=${buildarch:uristring} " in entry


# The address a device is reached at ------------------------------------------------

def _device(ip=None, net=None, previous=None):
    labels = {"edgefleet.io/net": net} if net else {}
    facts = {"phone_home": {"address": previous}} if previous else {}
    return {"serial": "SN-1", "mac": "52:54:00:00:00:01", "ip": ip, "labels": labels, "facts": facts}


@pytest.mark.parametrize("source, want", [
    ("10.20.0.31", "10.20.0.31"), (" fd00::31 ", "fd00::31"), ("::ffff:10.20.0.31", "10.20.0.31"),
    ("127.0.0.1", None), ("::1", None), ("0.0.0.0", None), ("169.254.1.2", None), ("fe80::1", None),
    ("224.0.0.1", None), ("unknown (via proxy 127.0.0.1)", None), (None, None), ("", None),
])
def test_only_an_address_the_controller_can_reach_counts(source, want):
    assert r.reachable_address(source) == want


def test_a_dhcp_device_is_recorded_at_the_address_it_phoned_home_from():
    assert r.phone_home_address(_device(), "10.20.0.31") == r.PhoneHomeAddress("10.20.0.31", "10.20.0.31", None)
    # a reinstall with a new lease replaces the address the previous phone-home recorded
    assert r.phone_home_address(_device("10.20.0.31", previous="10.20.0.31"), "10.20.0.77").ip == "10.20.0.77"
    # the same address again: nothing to write
    assert r.phone_home_address(_device("10.20.0.31"), "10.20.0.31") == r.PhoneHomeAddress("10.20.0.31", None, None)


def test_an_address_an_operator_gave_is_kept_and_the_mismatch_noted():
    static = r.phone_home_address(_device("10.20.0.50", net="static"), "10.20.0.31")
    assert (static.seen, static.ip) == ("10.20.0.31", None)
    assert static.note == "the phone-home came from 10.20.0.31: its static address 10.20.0.50 is kept"
    # even when a previous phone-home came from there: static is the plan
    assert r.phone_home_address(_device("10.20.0.50", net="static", previous="10.20.0.50"), "10.20.0.31").ip is None
    # a DHCP device whose record was given an address (a reservation, say) that no phone-home recorded
    given = r.phone_home_address(_device("10.20.0.50", previous="10.20.0.9"), "10.20.0.31")
    assert given.ip is None and given.note == "the phone-home came from 10.20.0.31: the address its record was given 10.20.0.50 is kept"


def test_a_source_that_cannot_be_reached_records_nothing():
    assert r.phone_home_address(_device("10.20.0.50"), "127.0.0.1") == r.PhoneHomeAddress(None, None, None)
    none = r.phone_home_address(_device(), "unknown (via proxy 127.0.0.1)")
    assert (none.seen, none.ip) == (None, None)
    assert none.note == "no address recorded: the call came from unknown (via proxy 127.0.0.1), not an address to reach the device at"
