# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control schema and the os_hardening catalogue (module_utils/hardening_controls.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_controls import (
    Context,
    ControlError,
    controls_for,
    expected_of,
    sshd_config,
    validate_control,
    validate_controls,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_evaluators import evaluate_nftables
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_policy import check_settings
from ansible_collections.edgefleet.platform.tests.unit.plugins.module_utils.test_hardening_evaluators import NFT_JSON

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The controls the role's Jinja catalogue (templates/controls.yml.j2, removed) built at commit 3d1b644
# for a Debian 12 container in the K3s node profile with the role's defaults: id, area, title and
# expectation of each, from that run's JSON report.
JINJA_CATALOGUE = json.loads((FIXTURES / "os_hardening_3d1b644_k3s_node.json").read_text())

DEBIAN_BOX = Context("Debian", container=True, mounted_fstypes=["overlay", "proc", "tmpfs", "sysfs", "cgroup2"])


def control(check, **fields):
    base = {"id": "T-01", "area": "test", "title": "a test control", "check": check}
    base.update(fields)
    return validate_control(0, base)


# --- the schema ----------------------------------------------------------------

@pytest.mark.parametrize("fields, field, message", [
    ({"check": "nope"}, "check", "unknown check type 'nope'"),
    ({"check": "sysctl", "key": "kernel.kptr_restrict"}, "expected", "required for check sysctl"),
    ({"check": "sshd", "key": "ciphers"}, "expected", "exactly one of expected, allowed or required"),
    ({"check": "sshd", "key": "PermitRootLogin", "expected": "no"}, "key", "lower-case"),
    ({"check": "sshd", "key": "x11forwarding", "expected": False}, "expected", "quote yes/no"),
    ({"check": "file", "path": "/etc/shadow", "mode": "rw-r-----"}, "mode", "octal"),
    ({"check": "file", "path": "etc/shadow"}, "path", "absolute"),
    ({"check": "service", "name": "rpcbind.socket"}, "enabled", "give enabled, active or both"),
    ({"check": "service", "name": "rpcbind.socket", "enabled": "no"}, "enabled", "must be a boolean"),
    ({"check": "nftables", "family": "inet6", "table": "f", "chains": {"input": "drop"}}, "family", "one of"),
    ({"check": "nftables", "family": "inet", "table": "f", "tcp_ports": [22, 70000]}, "tcp_ports", "port numbers"),
    ({"check": "limits", "domain": "*", "type": "both", "item": "core", "expected": 0}, "type", "hard, soft or -"),
    ({"check": "audit_rules", "keys": []}, "keys", "non-empty list"),
])
def test_bad_control_names_id_and_field(fields, field, message):
    raw = {"id": "BAD-01", "area": "a", "title": "t"}
    raw.update(fields)
    with pytest.raises(ControlError) as caught:
        validate_control(0, raw)
    assert (caught.value.control_id, caught.value.field) == ("BAD-01", field)
    assert str(caught.value).startswith("control BAD-01: field '%s': " % field)
    assert message in str(caught.value)


def test_missing_id_is_named_by_position_and_duplicates_refused():
    with pytest.raises(ControlError, match=r"control #2: field 'id': required"):
        validate_controls([control("module_loaded", module="overlay"), {"check": "sysctl"}])
    with pytest.raises(ControlError, match=r"control T-01: field 'id': duplicate"):
        validate_controls([{"id": "T-01", "area": "a", "title": "t", "check": "module_loaded", "module": "x"}] * 2)


def test_empty_port_lists_and_args_are_allowed():
    c = control("nftables", family="inet", table="edgefleet", chains={"input": "drop"}, tcp_ports=[22], udp_ports=[])
    assert evaluate_nftables(c, NFT_JSON)[0] == "pass"
    assert control("pam", file="/etc/pam.d/common-auth", module="pam_unix.so", args=[])["args"] == []


def test_scalars_become_strings_and_extra_keys_are_ignored():
    c = control("sysctl", key="vm.max_map_count", expected=262144, enforce_value=262144)
    assert c["expected"] == "262144" and "enforce_value" not in c


# --- the catalogue ---------------------------------------------------------------

# The controls added since (issue 12): none of them replaces one of the Jinja program's.
NEW_CONTROLS = ["SSH-14", "SSH-15", "SSH-16", "SSH-17", "SSH-18", "SSH-19", "SSH-20", "SSH-21", "FW-05", "PAM-06",
                "LDEF-01", "LDEF-02", "LDEF-03", "LDEF-04", "LDEF-05", "LDEF-06", "LDEF-07", "LDEF-08", "LDEF-09",
                "UPD-03", "UPD-04", "ACCT-01", "INT-01", "INT-02", "INT-03", "INT-04"]


def test_the_catalogue_keeps_every_control_of_the_jinja_program_it_replaced():
    derived = validate_controls(controls_for(check_settings({"kubernetes_node": True}), DEBIAN_BOX))
    by_id = {c["id"]: c for c in derived}
    assert sorted(by_id) == sorted([c["id"] for c in JINJA_CATALOGUE] + NEW_CONTROLS)
    for old in JINJA_CATALOGUE:
        new = by_id[old["id"]]
        expected = expected_of(new)
        if old["id"] == "FW-01":  # the ports now come sorted from the firewall's rule list
            expected = dict(expected, tcp_ports=expected["tcp_ports"])
            old = dict(old, expected=dict(old["expected"], tcp_ports=sorted(old["expected"]["tcp_ports"])))
        assert (new["area"], new["title"], expected) == (old["area"], old["title"], old["expected"]), old["id"]


def test_every_derived_control_is_valid_in_every_profile():
    for raw in ({}, {"kubernetes_node": True, "kubernetes_control_node": False, "ssh_allow_groups": ["ops"]},
                {"ssh_enabled": False, "banner_enabled": True}):
        for family in ("Debian", "RedHat"):
            for container in (True, False):
                validate_controls(controls_for(check_settings(raw), Context(family, container)))


def test_areas_switch_their_controls_and_skipped_ones_stay_listed():
    s = check_settings({"firewall_enabled": False, "skip_controls": ["SSH-07", "MOD-usb-storage", "FILE-/root"]})
    ids = [c["id"] for c in controls_for(s, Context("Debian", False))]
    assert not [i for i in ids if i.startswith("FW-")]
    for skipped in ("SSH-07", "MOD-usb-storage", "FILE-/root"):
        assert skipped in ids  # the audit reports them as waived
    assert "KMOD-overlay" not in ids  # not a Kubernetes node
    assert "BAN-02" not in [c["id"] for c in controls_for(check_settings({"ssh_enabled": False}), Context("Debian", False))]


def test_expected_values_follow_the_settings():
    s = check_settings({"ssh_max_auth_tries": 2, "ssh_allow_groups": ["ops", "ansible"], "pam_faillock_deny": 3,
                        "ssh_permit_root_login": "no", "ntp_servers": ["ntp1.plant.example"]})
    by_id = {c["id"]: c for c in controls_for(s, Context("RedHat", False))}
    assert by_id["SSH-06"]["expected"] == "2"
    assert by_id["SSH-10"]["required"] == ["ops", "ansible"]
    assert by_id["SSH-02"]["allowed"] == ["no"]
    assert by_id["PAM-03"]["expected"] == "3"
    assert by_id["PAM-01"]["file"] == "/etc/pam.d/system-auth"
    assert by_id["TIME-01"]["name"] == "chronyd.service"
    assert by_id["TIME-03"]["contains"] == "server ntp1.plant.example"
    assert by_id["UPD-01"]["path"] == "/etc/dnf/automatic.conf"
    assert by_id["UPD-02"]["name"] == "dnf-automatic.timer"


def test_mounted_filesystems_are_not_audited_as_blocked():
    ids = [c["id"] for c in controls_for(check_settings({}), Context("Debian", False, ["ext4", "udf"]))]
    assert "MOD-udf" not in ids and "MOD-cramfs" in ids


# --- the SSH drop-in -------------------------------------------------------------------

# What templates/sshd-hardening.conf.j2 wrote at 3d1b644 with the role's defaults (OpenSSH 9.2p1).
SSHD_DROP_IN_3D1B644 = [
    "PasswordAuthentication no",
    "PermitRootLogin prohibit-password",
    "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr",
    "MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com",
    "KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,"
    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512",
    "MaxAuthTries 3",
    "LoginGraceTime 30",
    "ClientAliveInterval 300",
    "ClientAliveCountMax 2",
    "X11Forwarding no",
    "KbdInteractiveAuthentication no",
    "PermitEmptyPasswords no",
    "Banner /etc/issue.net",
]
# The lines of SSH-14..SSH-21 (issue 12), written before the banner.
SSHD_DROP_IN_NEW = [
    "AllowTcpForwarding no",
    "AllowAgentForwarding no",
    "MaxSessions 10",
    "LogLevel VERBOSE",
    "TCPKeepAlive no",
    "Compression no",
    "PermitTunnel no",
    "PermitUserEnvironment no",
]


def test_sshd_config_lines():
    assert sshd_config(check_settings({})) == SSHD_DROP_IN_3D1B644[:-1] + SSHD_DROP_IN_NEW + SSHD_DROP_IN_3D1B644[-1:]
    needs = sshd_config(check_settings({"ssh_allow_tcp_forwarding": True, "ssh_allow_agent_forwarding": True,
                                        "ssh_compression": True, "ssh_log_level": "INFO"}))
    for line in ("AllowTcpForwarding yes", "AllowAgentForwarding yes", "Compression yes", "LogLevel INFO"):
        assert line in needs


def test_sshd_config_keeps_supported_algorithms_skips_controls_and_writes_groups():
    s = check_settings({"ssh_allow_groups": ["ops", "ansible"], "skip_controls": ["SSH-11", "BAN-02"]})
    lines = sshd_config(s, {"cipher": ["aes256-ctr", "aes128-ctr"], "mac": [], "kex": ["curve25519-sha256"]})
    assert "Ciphers aes256-ctr,aes128-ctr" in lines
    assert not [line for line in lines if line.startswith("MACs")]  # none supported: left to OpenSSH's defaults
    assert "KexAlgorithms curve25519-sha256" in lines
    assert "AllowGroups ops ansible" in lines
    assert not [line for line in lines if line.startswith(("X11Forwarding", "Banner"))]


def test_the_firewall_audit_follows_the_k3s_settings():
    s = check_settings({"kubernetes_node": True, "k3s_api_port": 7443, "k3s_flannel_backend": "wireguard-native"})
    fw = {c["id"]: c for c in controls_for(s, DEBIAN_BOX)}["FW-01"]
    assert fw["tcp_ports"] == [22, 2379, 2380, 7443, 10250] and fw["udp_ports"] == [51820, 51821]
    worker = check_settings({"kubernetes_node": True, "kubernetes_control_node": False, "ssh_port": 2222})
    fw = {c["id"]: c for c in controls_for(worker, DEBIAN_BOX)}["FW-01"]
    assert fw["tcp_ports"] == [2222, 10250] and fw["udp_ports"] == [8472]
