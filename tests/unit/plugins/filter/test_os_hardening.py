# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The os_hardening_policy filter: the role's settings to what it applies on a host."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.edgefleet.platform.plugins.filter.os_hardening import FilterModule, os_hardening_policy

# What the role passes for a Debian 12 container: Ansible's facts, then what os_hardening_facts read.
CONTAINER = {"os_family": "Debian", "virtualization_role": "guest", "virtualization_type": "podman",
             "mounted_fstypes": ["overlay", "proc", "tmpfs"], "sysctl_present": [], "ssh_algorithms": None}


def test_registered_and_documented():
    assert "os_hardening_policy" in FilterModule().filters()
    doc = yaml.safe_load((Path(__file__).resolve().parents[4] / "plugins/filter/os_hardening_policy.yml").read_text())
    assert doc["DOCUMENTATION"]["name"] == "os_hardening_policy"
    assert set(doc["RETURN"]["_value"]["contains"]) == set(os_hardening_policy({}, CONTAINER))


def test_policy_of_a_k3s_node_in_a_container():
    policy = os_hardening_policy({"kubernetes_node": True}, CONTAINER)
    assert policy["container"] is True and policy["load_modules"] is False
    assert policy["os"]["ssh_service"] == "ssh"
    assert policy["packages"][0] == "kmod" and "chrony" in policy["packages"]
    assert policy["sysctl"]["net.ipv4.ip_forward"] == "1"
    assert policy["sysctl_applied"] == []  # the kernel's keys are not known yet
    present = dict(CONTAINER, sysctl_present=["net.ipv4.ip_forward", "kernel.panic", "net.ipv4.conf.all.rp_filter"])
    assert os_hardening_policy({"kubernetes_node": True}, present)["sysctl_applied"] == [
        ["net.ipv4.ip_forward", "1"], ["net.ipv4.conf.all.rp_filter", "2"]]  # kernel.panic is the host's
    assert policy["modules_kubernetes"] == ["overlay", "br_netfilter"]
    assert {"name": "auditd.service", "enabled": True, "active": True} not in policy["units"]
    assert policy["open_ports"] == {"tcp": [22, 2379, 2380, 6443, 10250], "udp": [8472]}
    assert policy["sshd_config"][0] == "PasswordAuthentication no"


def test_a_vm_loads_the_kubernetes_modules():
    vm = dict(CONTAINER, virtualization_type="kvm")
    policy = os_hardening_policy({"kubernetes_node": True}, vm)
    assert policy["container"] is False and policy["load_modules"] is True
    assert os_hardening_policy({"kubernetes_node": True, "modules_enabled": False}, vm)["load_modules"] is False


@pytest.mark.parametrize("settings, host, message", [
    ({"modules_blocklist": ["overlay"]}, CONTAINER,
     "os_hardening_modules_blocklist: contains overlay, needed by K3s, Longhorn or Ceph"),
    ({"devices_allowed": ["modbus"]}, CONTAINER, "os_hardening_devices_allowed: unknown classes modbus"),
    ({}, dict(CONTAINER, os_family="Suse"), "os_hardening_os_family: the role knows the OS families Debian, RedHat"),
])
def test_errors_name_the_role_variable(settings, host, message):
    with pytest.raises(AnsibleFilterError) as caught:
        os_hardening_policy(settings, host)
    assert str(caught.value).startswith(message)


def render_firewall(policy, kubernetes_node):
    """templates/firewall.nft.j2 as the role renders it (Jinja with Ansible's bool filter)."""
    import jinja2

    root = Path(__file__).resolve().parents[4] / "roles/os_hardening/templates"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)), trim_blocks=True, lstrip_blocks=False,
                             undefined=jinja2.StrictUndefined)
    env.filters["bool"] = bool
    return env.get_template("firewall.nft.j2").render(
        ansible_managed="Ansible managed", inventory_hostname="ipc-1", os_hardening_kubernetes_node=kubernetes_node,
        __os_hardening_firewall=policy["firewall"])


def test_the_firewall_file_opens_the_api_port_of_the_settings():
    settings = {"kubernetes_node": True, "k3s_api_port": 7443, "management_networks": ["10.89.0.0/24"],
                "cluster_peers": ["10.89.0.5", "10.89.0.6"], "control_peers": ["10.89.0.5"]}
    text = render_firewall(os_hardening_policy(settings, CONTAINER), True)
    rules = [line.strip() for line in text.splitlines()]
    assert "ip saddr @management4 tcp dport 7443 accept" in rules
    assert "ip saddr @nodes4 tcp dport 7443 accept" in rules
    assert "6443" not in text
    assert "elements = { 10.89.0.5, 10.89.0.6 }" in rules
    assert "ip saddr @management4 tcp dport 22 accept" in rules  # what FW-02 looks for
    assert rules.index("type filter hook input priority filter; policy drop;") < rules.index(
        "ip saddr @nodes4 tcp dport 10250 accept")
    plain = render_firewall(os_hardening_policy({}, CONTAINER), False)
    assert "tcp dport 22 accept" in [line.strip() for line in plain.splitlines()] and "10250" not in plain


def test_the_security_source_is_written_only_where_no_other_source_has_the_suite():
    host = dict(CONTAINER, distribution="Debian", distribution_release="bookworm")
    assert os_hardening_policy({}, host)["security_sources"] is None  # the sources are not read yet
    bare = dict(host, apt_suites={"/etc/apt/sources.list": ["bookworm"]})
    assert os_hardening_policy({}, bare)["security_sources"]["suite"] == "bookworm-security"
    covered = dict(host, apt_suites={"/etc/apt/sources.list": ["bookworm", "bookworm-security"]})
    assert os_hardening_policy({}, covered)["security_sources"] is None
    assert os_hardening_policy({"updates_enabled": False}, bare)["security_sources"] is None
