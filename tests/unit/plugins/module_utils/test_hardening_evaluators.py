# -*- coding: utf-8 -*-
# Copyright: contributors to the edgefleet.platform collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The evaluators (module_utils/hardening_evaluators.py), on real command output from Debian 12."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_controls import validate_control
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_evaluators import (
    dpkg_excluded,
    evaluate_apt_config,
    evaluate_apt_policy,
    evaluate_audit_rules,
    evaluate_config,
    evaluate_file,
    evaluate_limits,
    evaluate_module_blocked,
    evaluate_nftables,
    evaluate_package_files,
    evaluate_pam,
    evaluate_service,
    evaluate_sshd,
    evaluate_sysctl,
    evaluate_systemd_config,
    nft_accepted_ports,
    nft_rate_limits,
    parse_apt_dump,
    parse_apt_policy,
    parse_apt_sources,
    parse_audit_keys,
    parse_dpkg_filters,
    parse_dpkg_verify,
    parse_pam_line,
    parse_proc_modules,
    parse_sshd_t,
    parse_systemctl_show,
)

# `sshd -T` on Debian 12 (OpenSSH 9.2p1) with `AllowGroups ssh-users admins` in a drop-in (excerpt).
SSHD_T = """port 22
addressfamily any
listenaddress [::]:22
listenaddress 0.0.0.0:22
usepam yes
logingracetime 120
maxauthtries 6
clientaliveinterval 0
permitrootlogin without-password
pubkeyauthentication yes
passwordauthentication yes
kbdinteractiveauthentication no
x11forwarding yes
ciphers chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com
macs umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,\
hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1
loglevel INFO
authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2
hostkey /etc/ssh/ssh_host_rsa_key
hostkey /etc/ssh/ssh_host_ecdsa_key
hostkey /etc/ssh/ssh_host_ed25519_key
acceptenv LANG
acceptenv LC_*
subsystem sftp /usr/lib/openssh/sftp-server
maxstartups 10:30:100
allowgroups ssh-users
allowgroups admins
"""

# `nft -j list table inet edgefleet` on Debian 12 (nftables 1.0.6), from a ruleset with a named set,
# an anonymous set, a range, `meta l4proto udp th dport`, a drop rule and a jump to a regular chain.
NFT_JSON = {"nftables": [
    {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "edgefleet", "handle": 1}},
    {"set": {"family": "inet", "name": "mgmt_tcp", "table": "edgefleet", "type": "inet_service", "handle": 5,
             "elem": [2222, 9100]}},
    {"chain": {"family": "inet", "table": "edgefleet", "name": "input", "handle": 1, "type": "filter",
               "hook": "input", "prio": 0, "policy": "drop"}},
    {"chain": {"family": "inet", "table": "edgefleet", "name": "extra", "handle": 2}},
    {"chain": {"family": "inet", "table": "edgefleet", "name": "forward", "handle": 3, "type": "filter",
               "hook": "forward", "prio": 0, "policy": "drop"}},
    {"chain": {"family": "inet", "table": "edgefleet", "name": "output", "handle": 4, "type": "filter",
               "hook": "output", "prio": 0, "policy": "accept"}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 6, "expr": [
        {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
        {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 7, "expr": [
        {"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}}, {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 8, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
        {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 10, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                   "right": {"set": [6443, 10250]}}}, {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 11, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                   "right": {"range": [30000, 32767]}}}, {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 12, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@mgmt_tcp"}},
        {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 13, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 8472}},
        {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 14, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 51820}},
        {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 15, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 9999}},
        {"drop": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 16, "expr": [
        {"jump": {"target": "extra"}}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "extra", "handle": 17, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                   "right": {"range": [2379, 2380]}}}, {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "forward", "handle": 18, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": {"prefix": {"addr": "10.42.0.0", "len": 16}}}}, {"accept": None}]}},
]}

# `systemd-analyze cat-config systemd/journald.conf` on Debian 12 with a drop-in (comments trimmed).
CAT_CONFIG = """# /etc/systemd/journald.conf
#  This file is part of systemd.
#
# See journald.conf(5) for details.

[Journal]
#Storage=auto
#Compress=yes
Storage=volatile
#SystemMaxUse=

# /etc/systemd/journald.conf.d/50-edgefleet.conf
[Journal]
Storage=persistent
SystemMaxUse=500M
"""

APT_DUMP = """APT "";
APT::Architecture "amd64";
APT::Install-Recommends "1";
APT::NeverAutoRemove "";
APT::NeverAutoRemove:: "^firmware-linux.*";
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename},label=Debian-Security";
"""

# `auditctl -l` with rules from the CIS-style set.
AUDITCTL = """-w /etc/passwd -p wa -k identity
-w /etc/group -p wa -k identity
-a always,exit -F arch=b64 -S adjtimex,settimeofday -F key=time-change
-w /var/log/faillog -p wa -k logins
"""


def control(check, **fields):
    base = {"id": "T-01", "area": "test", "title": "a test control", "check": check}
    base.update(fields)
    return validate_control(0, base)


# --- sshd ----------------------------------------------------------------------

def test_parse_sshd_t_collects_repeated_keywords():
    settings = parse_sshd_t(SSHD_T)
    assert settings["hostkey"] == ["/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key",
                                   "/etc/ssh/ssh_host_ed25519_key"]
    assert settings["subsystem"] == ["sftp /usr/lib/openssh/sftp-server"]


@pytest.mark.parametrize("fields, status, reason", [
    ({"key": "passwordauthentication", "expected": "no"}, "fail", "passwordauthentication is yes"),
    ({"key": "kbdinteractiveauthentication", "expected": "NO"}, "pass", ""),
    ({"key": "loglevel", "expected": "info"}, "pass", ""),
    # Debian 12 prints the default under its legacy name
    ({"key": "permitrootlogin", "expected": "prohibit-password"}, "pass", ""),
    ({"key": "permitrootlogin", "expected": "no"}, "fail", "permitrootlogin is without-password"),
    ({"key": "ciphers", "allowed": ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
                                    "aes128-gcm@openssh.com"]}, "fail", "not allowed: aes128-ctr, aes192-ctr, aes256-ctr"),
    ({"key": "ciphers", "allowed": ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr",
                                    "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]}, "pass", ""),
    ({"key": "allowgroups", "required": ["ssh-users", "admins"]}, "pass", ""),
    ({"key": "allowgroups", "required": ["ssh-users", "ops"]}, "fail", "missing: ops"),
    ({"key": "denygroups", "required": ["nobody"]}, "fail", "missing: nobody"),
    ({"key": "nosuchkeyword", "expected": "1"}, "fail", "nosuchkeyword is not in sshd -T output"),
    ({"key": "acceptenv", "expected": "LANG LC_*"}, "pass", ""),
])
def test_sshd(fields, status, reason):
    got_status, observed, got_reason = evaluate_sshd(control("sshd", **fields), parse_sshd_t(SSHD_T))
    assert (got_status, got_reason) == (status, reason)


def test_sshd_observed_items():
    status, observed, reason = evaluate_sshd(control("sshd", key="allowgroups", required=["admins"]),
                                             parse_sshd_t(SSHD_T))
    assert (status, reason) == ("pass", "")
    assert observed == ["ssh-users", "admins"]


# --- sysctl, modules -------------------------------------------------------------

def test_sysctl_whitespace_normalised():
    c = control("sysctl", key="net.ipv4.tcp_rmem", expected="4096 131072 6291456")
    assert evaluate_sysctl(c, "4096\t131072\t6291456\n") == ("pass", "4096 131072 6291456", "")
    assert evaluate_sysctl(control("sysctl", key="net.ipv4.ip_forward", expected=1), "0\n") == (
        "fail", "0", "net.ipv4.ip_forward is 0")


NOT_FOUND = (1, "", "modprobe: FATAL: Module cramfs not found in directory /lib/modules/6.1.0-25-amd64\n")
SHOWCONFIG = "alias net_pf_38 off\nblacklist cramfs\ninstall cramfs /bin/false\ninstall usb_storage /bin/true\nblacklist dccp\n"


@pytest.mark.parametrize("module, dry_run, loaded, status, observed, reason", [
    ("cramfs", (0, "install /bin/false \n", ""), set(), "pass", "install /bin/false", ""),
    ("usb-storage", (0, "install /usr/bin/true\n", ""), set(), "pass", "install /usr/bin/true", ""),
    ("cramfs", (0, "insmod /lib/modules/6.1.0-25-amd64/kernel/fs/cramfs/cramfs.ko \n", ""), set(), "fail",
     "insmod /lib/modules/6.1.0-25-amd64/kernel/fs/cramfs/cramfs.ko", "modprobe would load it"),
    ("cramfs", (0, "builtin cramfs\n", ""), set(), "fail", "builtin", "built into the kernel: cannot be blocked"),
    ("cramfs", NOT_FOUND, set(), "pass",
     "install cramfs /bin/false (module not found for this kernel; judged by modprobe configuration)", ""),
    ("dccp", NOT_FOUND, set(), "pass",
     "blacklist dccp (module not found for this kernel; judged by modprobe configuration)", ""),
    ("usb-storage", NOT_FOUND, set(), "pass",
     "install usb_storage /bin/true (module not found for this kernel; judged by modprobe configuration)", ""),
    ("sctp", (1, "", "modprobe: FATAL: Module sctp not found in directory /lib/modules/6.1.0-25-amd64\n"), set(),
     "fail", "not blocked", "no install /bin/false|true or blacklist line in the modprobe configuration "
     "(modprobe -n: modprobe: FATAL: Module sctp not found in directory /lib/modules/6.1.0-25-amd64)"),
    ("usb-storage", (0, "install /bin/true\n", ""), {"usb_storage", "uas"}, "fail", "install /bin/true; loaded now",
     "loaded now"),
    ("usb-storage", (0, "", ""), {"usb_storage"}, "fail", "not blocked; loaded now", "loaded now"),
])
def test_module_blocked(module, dry_run, loaded, status, observed, reason):
    showconfig = SHOWCONFIG if dry_run[0] else None
    assert evaluate_module_blocked(module, dry_run, showconfig, loaded) == (status, observed, reason)


def test_proc_modules():
    text = "overlay 151552 0 - Live 0x0000000000000000\nbr_netfilter 32768 0 - Live 0x0000000000000000\n"
    assert parse_proc_modules(text) == {"overlay", "br_netfilter"}


# --- files, services -----------------------------------------------------------

@pytest.mark.parametrize("mode, fields, status, reason", [
    (0o640, {"mode": "0640", "owner": "root", "group": "shadow"}, "pass", ""),
    (0o600, {"mode": "0640"}, "pass", ""),
    (0o644, {"mode": "0640"}, "fail", "mode 0644 has bits 0004 beyond 0640"),
    (0o4755, {"mode": "0755"}, "fail", "mode 4755 has bits 4000 beyond 0755"),
    (0o640, {"owner": "0", "group": "42"}, "pass", ""),
    (0o640, {"owner": "daemon"}, "fail", "owner is root"),
])
def test_file(mode, fields, status, reason):
    info = {"mode": mode, "owner": "root", "uid": 0, "group": "shadow", "gid": 42}
    got = evaluate_file(control("file", path="/etc/shadow", **fields), info, None)
    assert got[0] == status and got[2] == reason and got[1]["mode"] == "%04o" % mode


def test_file_contains():
    info = {"mode": 0o644, "owner": "root", "uid": 0, "group": "root", "gid": 0}
    c = control("file", path="/etc/issue.net", contains="Authorized use only")
    assert evaluate_file(c, info, "Authorized use only.\n")[0] == "pass"
    status, observed, reason = evaluate_file(c, info, "Debian GNU/Linux 12\n")
    assert status == "fail" and observed["contains"] is False and reason == "does not contain 'Authorized use only'"


SYSTEMCTL_SHOW = """LoadState=loaded
ActiveState=active
UnitFileState=enabled

LoadState=not-found
ActiveState=inactive
UnitFileState=

LoadState=masked
ActiveState=inactive
UnitFileState=masked

LoadState=loaded
ActiveState=inactive
UnitFileState=static
"""


def test_systemctl_show_blocks_keep_empty_units():
    blocks = parse_systemctl_show(SYSTEMCTL_SHOW)
    assert len(blocks) == 4 and blocks[1] == {"LoadState": "not-found", "ActiveState": "inactive", "UnitFileState": ""}


@pytest.mark.parametrize("block, fields, status, reason", [
    (0, {"enabled": True, "active": True}, "pass", ""),
    (0, {"enabled": False}, "fail", "enabled (expected disabled)"),
    (1, {"enabled": False, "active": False}, "pass", ""),
    (1, {"active": True}, "fail", "not installed"),
    (2, {"enabled": False, "active": False}, "pass", ""),
    (2, {"active": True}, "fail", "inactive (expected active)"),
    (3, {"enabled": True}, "pass", ""),
])
def test_service(block, fields, status, reason):
    props = parse_systemctl_show(SYSTEMCTL_SHOW)[block]
    got = evaluate_service(control("service", name="x.service", **fields), props)
    assert (got[0], got[2]) == (status, reason)


def test_a_unit_wanted_off_reports_the_same_installed_or_not():
    """A later stage installing a package the role keeps off must not change the report of a re-run."""
    blocks = parse_systemctl_show(SYSTEMCTL_SHOW)
    off = control("service", name="x.service", enabled=False, active=False)
    assert evaluate_service(off, blocks[1]) == evaluate_service(off, blocks[2]) == ("pass", {"enabled": False, "active": False}, "")


# --- nftables ----------------------------------------------------------------------

def test_nft_accepted_ports_follow_sets_ranges_and_jumps():
    ports = nft_accepted_ports(NFT_JSON)
    assert ports["tcp"] == [(22, 22), (2222, 2222), (2379, 2380), (6443, 6443), (9100, 9100), (10250, 10250),
                            (30000, 32767)]
    assert ports["udp"] == [(8472, 8472), (51820, 51820)]


def test_nft_th_dport_with_l4proto_set():
    doc = {"nftables": [
        {"chain": {"name": "in", "hook": "input", "policy": "drop"}},
        {"rule": {"chain": "in", "expr": [
            {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ["tcp", "udp"]}}},
            {"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}}, "right": 53}},
            {"counter": {"packets": 0, "bytes": 0}}, {"accept": None}]}},
    ]}
    assert nft_accepted_ports(doc) == {"tcp": [(53, 53)], "udp": [(53, 53)]}


def test_nftables_pass_and_fail():
    ok = control("nftables", family="inet", table="edgefleet", chains={"input": "drop", "forward": "drop"},
                 tcp_ports=[22, 6443, 10250, 2379, 31000, 9100], udp_ports=[8472])
    status, observed, reason = evaluate_nftables(ok, NFT_JSON)
    assert (status, reason) == ("pass", "")
    assert observed["chains"] == {"input": "drop", "forward": "drop", "output": "accept"}
    assert observed["tcp_ports"] == [22, 2222, "2379-2380", 6443, 9100, 10250, "30000-32767"]
    bad = control("nftables", family="inet", table="edgefleet", chains={"output": "drop", "extra": "drop",
                                                                        "prerouting": "accept"},
                  tcp_ports=[9999, 22], udp_ports=[123])
    status, observed, reason = evaluate_nftables(bad, NFT_JSON)
    assert observed["tcp_ports"][0] == 22
    assert status == "fail"
    assert reason == ("chain output policy accept; chain extra policy none (not a base chain); chain prerouting missing; "
                      "tcp ports not accepted on input: 9999; udp ports not accepted on input: 123")


# --- config files ------------------------------------------------------------------

def test_config_last_value_wins_across_includes():
    files = [("/etc/login.defs", "# comment\nPASS_MAX_DAYS\t99999\nUMASK 022\n"),
             ("/etc/login.defs.d/10.conf", "UMASK   027\n")]
    assert evaluate_config(control("config", path="/etc/login.defs", key="UMASK", expected="027"), files) == (
        "pass", "027", "")
    assert evaluate_config(control("config", path="/etc/login.defs", key="PASS_MAX_DAYS", expected=365), files) == (
        "fail", "99999", "PASS_MAX_DAYS is 99999 in /etc/login.defs")
    assert evaluate_config(control("config", path="/etc/login.defs", key="ENCRYPT_METHOD", expected="YESCRYPT"),
                           files) == ("fail", None, "ENCRYPT_METHOD not set")


def test_config_equals_separator_and_sections():
    text = "[Time]\nNTP=pool.example\n#FallbackNTP=x\n[Other]\nNTP=other\n"
    c = control("config", path="/etc/systemd/timesyncd.conf", section="Time", key="NTP", expected="pool.example")
    assert evaluate_config(c, [("/etc/systemd/timesyncd.conf", text)])[0] == "pass"
    kv = "key = value with  spaces\nother=1\n"
    assert evaluate_config(control("config", path="/x", key="key", expected="value with spaces"), [("/x", kv)])[0] == "pass"
    colon = "Storage: persistent\n"
    c = control("config", path="/y", key="Storage", expected="persistent", separator=":")
    assert evaluate_config(c, [("/y", colon)])[0] == "pass"


def test_systemd_config_takes_the_drop_in():
    c = control("systemd_config", config="systemd/journald.conf", section="Journal", key="Storage", expected="persistent")
    assert evaluate_systemd_config(c, CAT_CONFIG) == ("pass", "persistent", "")
    c = control("systemd_config", config="systemd/journald.conf", section="Journal", key="SystemMaxUse", expected="1G")
    assert evaluate_systemd_config(c, CAT_CONFIG) == (
        "fail", "500M", "[Journal] SystemMaxUse is 500M in /etc/systemd/journald.conf.d/50-edgefleet.conf")
    c = control("systemd_config", config="systemd/journald.conf", section="Journal", key="Compress", expected="yes")
    assert evaluate_systemd_config(c, CAT_CONFIG)[0] == "fail"


def test_apt_config():
    values = parse_apt_dump(APT_DUMP)
    assert evaluate_apt_config(control("apt_config", key="APT::Periodic::Unattended-Upgrade", expected=1), values) == (
        "pass", "1", "")
    assert evaluate_apt_config(control("apt_config", key="apt::install-recommends", expected="0"), values) == (
        "fail", "1", "apt::install-recommends is 1")
    assert evaluate_apt_config(control("apt_config", key="APT::Periodic::AutocleanInterval", expected="7"),
                               values)[0] == "fail"


# --- pam, audit, limits ----------------------------------------------------------------

COMMON_AUTH = """#
# /etc/pam.d/common-auth - authentication settings common to all services
auth	required			pam_faillock.so preauth silent deny=5 unlock_time=900
auth	[success=1 default=ignore]	pam_unix.so nullok
auth	[default=die]			pam_faillock.so authfail
auth	requisite			pam_deny.so
auth	required			pam_permit.so
# pam_faillock.so authsucc
"""


def test_parse_pam_line():
    assert parse_pam_line("auth\t[success=1 default=ignore]\tpam_unix.so nullok") == {
        "type": "auth", "control": "[success=1 default=ignore]", "module": "pam_unix.so", "args": "nullok"}
    assert parse_pam_line("-session optional pam_systemd.so")["type"] == "session"
    assert parse_pam_line("@include common-auth")["control"] == "include"
    assert parse_pam_line("   # comment") is None


def test_pam():
    entries = [("/etc/pam.d/common-auth", raw, parse_pam_line(raw)) for raw in COMMON_AUTH.splitlines()
               if parse_pam_line(raw)]
    c = control("pam", file="/etc/pam.d/common-auth", module="pam_faillock.so", args=["preauth", "deny=5"])
    status, observed, reason = evaluate_pam(c, entries)
    assert (status, reason) == ("pass", "") and len(observed) == 2
    assert observed[0] == "/etc/pam.d/common-auth: auth required pam_faillock.so preauth silent deny=5 unlock_time=900"
    c = control("pam", file="/etc/pam.d/common-auth", module="pam_faillock.so", args=["authsucc"])
    assert evaluate_pam(c, entries)[2] == "no pam_faillock.so line with authsucc"
    c = control("pam", file="/etc/pam.d/common-auth", module="/usr/lib/x86_64-linux-gnu/security/pam_pwquality.so")
    assert evaluate_pam(c, entries) == ("fail", [], "pam_pwquality.so not used")


def test_audit_rules():
    keys = parse_audit_keys(AUDITCTL)
    assert keys == ["identity", "logins", "time-change"]
    assert evaluate_audit_rules(control("audit_rules", keys=["identity", "time-change"]), keys) == (
        "pass", ["identity", "time-change"], "")
    assert evaluate_audit_rules(control("audit_rules", keys=["identity", "perm_mod"]), keys) == (
        "fail", ["identity"], "no loaded rule with key: perm_mod")
    assert parse_audit_keys("No rules\n") == []


LIMITS = [("/etc/security/limits.conf", "#*               soft    core            0\n*  hard  nproc  4096\n"),
          ("/etc/security/limits.d/10-core.conf", "*    -    core    0   # no dumps\n"),
          ("/etc/security/limits.d/20-k3s.conf", "root soft nofile 1048576\n*  soft  core  unlimited\n")]


def test_limits_last_match_wins_and_dash_sets_both():
    assert evaluate_limits(control("limits", domain="*", type="hard", item="core", expected=0), LIMITS) == ("pass", "0", "")
    assert evaluate_limits(control("limits", domain="*", type="-", item="core", expected=0), LIMITS) == (
        "fail", {"soft": "unlimited", "hard": "0"}, "* core: soft unlimited")
    assert evaluate_limits(control("limits", domain="*", type="soft", item="nofile", expected=1024), LIMITS) == (
        "fail", None, "* nofile: soft not set")
    assert evaluate_limits(control("limits", domain="*", type="hard", item="nproc", expected=4096), LIMITS)[0] == "pass"


# --- package files, APT sources, SSH rate limit (issue 12) ------------------------------------------

# `dpkg --verify base-files login libpam-pwquality` on the Debian 12 lab image (docs left out by its dpkg
# configuration) after /usr/lib/os-release was appended to and /usr/bin/lastlog removed, plus the
# conffile line of a hardened host.
DPKG_VERIFY = """??5??????   /usr/lib/os-release
missing     /usr/share/doc/base-files/README
missing     /usr/share/doc/base-files/changelog.gz
missing     /usr/share/lintian/overrides
missing     /usr/share/lintian/overrides/base-files
missing     /usr/bin/lastlog
missing     /usr/share/doc/login/NEWS.Debian.gz
??5?????? c /etc/login.defs
missing   c /etc/cron.daily/passwd
"""
# /etc/dpkg/dpkg.cfg.d/edgefleet-slim of the lab images.
DPKG_SLIM = """# edgefleet lab image: do not install docs, man pages, translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
"""


def test_parse_dpkg_verify():
    entries = parse_dpkg_verify(DPKG_VERIFY)
    assert entries[0] == {"flags": "??5??????", "conffile": False, "path": "/usr/lib/os-release"}
    assert entries[7] == {"flags": "??5??????", "conffile": True, "path": "/etc/login.defs"}
    assert entries[8] == {"flags": "missing", "conffile": True, "path": "/etc/cron.daily/passwd"}
    assert len(entries) == 9


def test_dpkg_filters_last_match_wins():
    filters = parse_dpkg_filters(DPKG_SLIM)
    assert filters[:2] == [("exclude", "/usr/share/doc/*"), ("include", "/usr/share/doc/*/copyright")]
    assert dpkg_excluded("/usr/share/doc/login/NEWS.Debian.gz", filters)
    assert not dpkg_excluded("/usr/share/doc/login/copyright", filters)
    assert dpkg_excluded("/usr/share/lintian/overrides", filters)
    assert not dpkg_excluded("/usr/bin/lastlog", filters)


def test_package_files():
    c = control("package_files")
    filters = parse_dpkg_filters(DPKG_SLIM)
    status, observed, reason = evaluate_package_files(c, parse_dpkg_verify(DPKG_VERIFY), filters)
    assert (status, reason) == ("fail", "2 package file(s) differ from the package database")
    assert observed == ["changed /usr/lib/os-release", "missing /usr/bin/lastlog"]  # docs, conffiles aside
    clean = "\n".join(line for line in DPKG_VERIFY.splitlines() if "os-release" not in line and "lastlog" not in line)
    assert evaluate_package_files(c, parse_dpkg_verify(clean), filters) == ("pass", "no package file differs", "")
    # without the slim configuration a missing documentation file is a finding
    assert evaluate_package_files(c, parse_dpkg_verify(clean), [])[0] == "fail"


# `apt-cache policy` on Debian 12 with the role's security source.
APT_POLICY = """Package files:
 100 /var/lib/dpkg/status
     release a=now
 500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
     release v=12,o=Debian,a=oldstable-security,n=bookworm-security,l=Debian-Security,c=main,b=amd64
     origin deb.debian.org
 500 http://deb.debian.org/debian bookworm/main amd64 Packages
     release v=12.15,o=Debian,a=oldstable,n=bookworm,l=Debian,c=main,b=amd64
     origin deb.debian.org
Pinned packages:
"""


def test_apt_policy():
    releases = parse_apt_policy(APT_POLICY)
    assert releases[1]["n"] == "bookworm-security" and releases[1]["l"] == "Debian-Security"
    c = control("apt_policy", suite_suffix="-security")
    assert evaluate_apt_policy(c, releases) == ("pass", ["bookworm-security (Debian-Security)"], "")
    without = parse_apt_policy("\n".join(line for line in APT_POLICY.splitlines() if "security" not in line))
    status, observed, reason = evaluate_apt_policy(c, without)
    assert status == "fail" and observed == ["bookworm"] and "no archive with a suite ending in -security" in reason


def test_apt_sources_one_line_and_deb822():
    assert parse_apt_sources("deb http://deb.debian.org/debian bookworm main\n"
                             "deb [signed-by=/usr/share/keyrings/x.gpg arch=amd64] http://mirror/debian bookworm-updates main\n"
                             "# deb http://deb.debian.org/debian-security bookworm-security main\n", deb822=False) == [
        "bookworm", "bookworm-updates"]
    deb822 = ("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie trixie-updates\nComponents: main\n"
              "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
              "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: trixie-security\nComponents: main\n"
              "Enabled: no\n")
    assert parse_apt_sources(deb822, deb822=True) == ["trixie", "trixie-updates"]


# `nft -j list table inet edgefleet` excerpt on Debian 12 (nftables 1.0.6): the role's SSH rate limit
# (IPv4 rule), then the SSH accept.
NFT_RATE_LIMIT = {"nftables": [
    {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "edgefleet", "handle": 4}},
    {"set": {"family": "inet", "name": "sshlimit4", "table": "edgefleet", "type": "ipv4_addr", "handle": 2,
             "size": 65535, "flags": ["timeout"], "timeout": 60}},
    {"chain": {"family": "inet", "table": "edgefleet", "name": "input", "handle": 1, "type": "filter",
               "hook": "input", "prio": 0, "policy": "drop"}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 4, "expr": [
        {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
        {"accept": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 5, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
        {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}},
        {"set": {"op": "add", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@sshlimit4",
                 "stmt": [{"limit": {"rate": 10, "burst": 20, "per": "minute", "inv": True}}]}},
        {"counter": {"packets": 0, "bytes": 0}},
        {"drop": None}]}},
    {"rule": {"family": "inet", "table": "edgefleet", "chain": "input", "handle": 6, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
        {"accept": None}]}},
]}


def test_nft_rate_limit():
    assert nft_rate_limits(NFT_RATE_LIMIT) == {22: "10/minute burst 20"}
    assert nft_rate_limits(NFT_JSON) == {}
    c = control("nftables", family="inet", table="edgefleet", rate_limited=[22], tcp_ports=[22])
    assert evaluate_nftables(c, NFT_RATE_LIMIT) == ("pass", {"chains": {"input": "drop"}, "tcp_ports": [22],
                                                             "rate_limited": {"22": "10/minute burst 20"}}, "")
    status, observed, reason = evaluate_nftables(c, NFT_JSON)
    assert status == "fail" and reason == "no per-source rate limit on new tcp connections to: 22"


def test_file_lines():
    info = {"mode": 0o600, "owner": "root", "uid": 0, "group": "root", "gid": 0}
    c = control("file", path="/etc/aide/edgefleet.conf", lines=["!/var/lib/rancher", "!/run/k3s"])
    assert evaluate_file(c, info, "/etc Contents\n!/var/lib/rancher\n  !/run/k3s\n")[0] == "pass"
    status, observed, reason = evaluate_file(c, info, "/etc Contents\n!/var/lib/rancher/k3s\n")
    assert status == "fail" and reason == "lines missing: !/var/lib/rancher, !/run/k3s"
