# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""os_hardening_audit through the module runner, on a fake host: a file tree and canned commands."""

from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils import basic

from ansible_collections.edgefleet.platform.plugins.modules import os_hardening_audit
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_policy import AREAS
from ansible_collections.edgefleet.platform.tests.unit.module_runner import run_module
from ansible_collections.edgefleet.platform.tests.unit.plugins.module_utils.test_hardening_evaluators import (
    APT_DUMP,
    AUDITCTL,
    CAT_CONFIG,
    NFT_JSON,
    SSHD_T,
)

ALL_BINARIES = ("sshd", "modprobe", "systemctl", "nft", "systemd-analyze", "apt-config", "auditctl")


class FakeHost:
    """Files under a tmp root, canned command results, a record of what ran."""

    def __init__(self, root, monkeypatch):
        self.root = root
        self.binaries = set(ALL_BINARIES)
        self.calls = []
        self.commands = {
            ("sshd", "-T"): (0, SSHD_T, ""),
            ("modprobe", "-n", "-v", "cramfs"): (0, "install /bin/false \n", ""),
            ("modprobe", "-n", "-v", "usb-storage"): (0, "insmod /lib/modules/6.1.0-25-amd64/kernel/drivers/usb/"
                                                         "storage/usb-storage.ko \n", ""),
            ("modprobe", "-n", "-v", "dccp"): (1, "", "modprobe: FATAL: Module dccp not found in directory "
                                                      "/lib/modules/6.1.0-25-amd64\n"),
            ("modprobe", "--showconfig"): (0, "blacklist dccp\ninstall cramfs /bin/false\n", ""),
            ("systemctl", "show", "-p", "LoadState,ActiveState,UnitFileState", "--", "ssh.service", "rpcbind.socket"): (
                0, "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n\n"
                   "LoadState=not-found\nActiveState=inactive\nUnitFileState=\n", ""),
            ("nft", "-j", "list", "table", "inet", "edgefleet"): (0, json.dumps(NFT_JSON), ""),
            ("nft", "-j", "list", "table", "inet", "filter"): (
                1, "", "Error: No such file or directory\nlist table inet filter\n                ^^^^^^\n"),
            ("systemd-analyze", "cat-config", "systemd/journald.conf"): (0, CAT_CONFIG, ""),
            ("apt-config", "dump"): (0, APT_DUMP, ""),
            ("auditctl", "-l"): (0, AUDITCTL, ""),
        }
        host = self

        def run_command(module, args, **kwargs):
            argv = (os.path.basename(args[0]),) + tuple(args[1:])
            host.calls.append(argv)
            return host.commands.get(argv, (127, "", "unexpected command %s" % " ".join(argv)))

        def get_bin_path(module, name, required=False, opt_dirs=None):
            return "/usr/sbin/%s" % name if name in host.binaries else None

        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
        monkeypatch.setattr(os_hardening_audit, "HOST_ROOT", str(root))

    def write(self, path, text, mode=0o644):
        full = self.root / path.lstrip("/")
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)
        os.chmod(full, mode)
        return full


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = FakeHost(tmp_path, monkeypatch)
    fake.write("/proc/sys/net/ipv4/ip_forward", "1\n")
    fake.write("/proc/sys/net/ipv4/conf/all/rp_filter", "2\n")
    fake.write("/proc/modules", "overlay 151552 0 - Live 0x0000000000000000\n")
    (tmp_path / "sys/module/overlay").mkdir(parents=True)
    fake.write("/etc/shadow", "root:*:19000:0:99999:7:::\n", 0o640)
    fake.write("/etc/issue.net", "Debian GNU/Linux 12\n", 0o644)
    fake.write("/etc/login.defs", "PASS_MAX_DAYS\t99999\nUMASK\t\t022\n")
    fake.write("/etc/pam.d/sshd", "@include common-auth\naccount    required     pam_nologin.so\n")
    fake.write("/etc/pam.d/common-auth", "auth\trequired\tpam_faillock.so preauth silent deny=5\n"
                                         "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n")
    fake.write("/etc/security/limits.conf", "# End of file\n")
    fake.write("/etc/security/limits.d/10-core.conf", "*    hard    core    0\n")
    return fake


def c(cid, check, **fields):
    base = {"id": cid, "area": cid.split("-")[0].lower(), "title": "title of %s" % cid, "check": check}
    base.update(fields)
    return base


CONTROLS = [
    c("SSH-01", "sshd", key="passwordauthentication", expected="no"),
    c("SSH-02", "sshd", key="pubkeyauthentication", expected="yes"),
    c("SYS-01", "sysctl", key="net.ipv4.ip_forward", expected="1"),
    c("SYS-02", "sysctl", key="net.ipv4.conf.all.rp_filter", expected="1",
      waive_in_container="kernel-global: set on the container host"),
    c("SYS-03", "sysctl", key="net.bridge.bridge-nf-call-iptables", expected="1"),
    c("MOD-01", "module_blocked", module="cramfs"),
    c("MOD-02", "module_blocked", module="usb-storage"),
    c("MOD-03", "module_blocked", module="dccp"),
    c("MOD-04", "module_loaded", module="overlay"),
    c("MOD-05", "module_loaded", module="br_netfilter"),
    c("FILE-01", "file", path="/etc/shadow", mode="0640"),
    c("FILE-02", "file", path="/etc/issue.net", contains="Authorized use only"),
    c("FILE-03", "file", path="/etc/cron.allow", mode="0600", when_present="/etc/cron.allow"),
    c("SVC-01", "service", name="ssh.service", enabled=True, active=True),
    c("SVC-02", "service", name="rpcbind.socket", enabled=False, active=False),
    c("FW-01", "nftables", family="inet", table="edgefleet", chains={"input": "drop"}, tcp_ports=[22, 6443]),
    c("FW-02", "nftables", family="inet", table="filter", chains={"input": "drop"}),
    c("CFG-01", "config", path="/etc/login.defs", key="UMASK", expected="027"),
    c("LOG-01", "systemd_config", config="systemd/journald.conf", section="Journal", key="Storage",
      expected="persistent"),
    c("UPD-01", "apt_config", key="APT::Periodic::Unattended-Upgrade", expected="1"),
    c("PAM-01", "pam", file="/etc/pam.d/sshd", module="pam_faillock.so", args=["deny=5"]),
    c("AUD-01", "audit_rules", keys=["identity", "time-change"]),
    c("LIM-01", "limits", domain="*", type="hard", item="core", expected="0"),
]

EXPECTED_STATUS = {
    "SSH-01": "fail", "SSH-02": "pass", "SYS-01": "pass", "SYS-02": "fail", "SYS-03": "not_applicable",
    "MOD-01": "pass", "MOD-02": "fail", "MOD-03": "pass", "MOD-04": "pass", "MOD-05": "fail",
    "FILE-01": "pass", "FILE-02": "fail", "FILE-03": "not_applicable", "SVC-01": "pass", "SVC-02": "pass",
    "FW-01": "pass", "FW-02": "fail", "CFG-01": "fail", "LOG-01": "pass", "UPD-01": "pass", "PAM-01": "pass",
    "AUD-01": "pass", "LIM-01": "pass",
}


def test_report_in_input_order_with_summary(host):
    failed, result = run_module(os_hardening_audit.main, {"controls": CONTROLS})
    assert not failed, result
    report = result["report"]
    assert result["changed"] is False and report["container"] is False
    assert [r["id"] for r in report["controls"]] == [x["id"] for x in CONTROLS]
    assert {r["id"]: r["status"] for r in report["controls"]} == EXPECTED_STATUS
    assert report["summary"] == {"pass": 14, "fail": 7, "waived": 0, "not_applicable": 2}
    assert report["failed_ids"] == [i for i, s in EXPECTED_STATUS.items() if s == "fail"]
    by_id = {r["id"]: r for r in report["controls"]}
    assert by_id["SYS-03"]["reason"] == "not in this kernel"
    assert by_id["FILE-03"]["reason"] == "/etc/cron.allow not present"
    assert by_id["SVC-02"]["reason"] == "" and by_id["SVC-02"]["observed"] == {"enabled": False, "active": False}
    assert by_id["FW-02"]["reason"] == "table inet filter not found"
    assert by_id["MOD-03"]["observed"].startswith("blacklist dccp")
    assert by_id["SSH-01"] == {"id": "SSH-01", "area": "ssh", "title": "title of SSH-01", "status": "fail",
                               "expected": "no", "observed": "yes", "reason": "passwordauthentication is yes"}
    assert by_id["CFG-01"]["reason"] == "UMASK is 022 in /etc/login.defs"


def test_each_observation_runs_once(host):
    run_module(os_hardening_audit.main, {"controls": CONTROLS})
    assert host.calls.count(("sshd", "-T")) == 1
    assert sum(1 for call in host.calls if call[0] == "systemctl") == 1
    assert host.calls.count(("modprobe", "--showconfig")) == 1
    assert len(host.calls) == len(set(host.calls))


def test_check_mode_reads_the_same(host):
    failed, normal = run_module(os_hardening_audit.main, {"controls": CONTROLS})
    assert not failed
    failed, checked = run_module(os_hardening_audit.main, {"controls": CONTROLS}, check_mode=True)
    assert not failed and checked == normal


@pytest.mark.parametrize("marker", ["/run/.containerenv", "/.dockerenv", "/proc/1/environ"])
def test_container_detected_and_waivers_applied(host, marker):
    host.write(marker, "PATH=/usr/bin\0container=podman\0" if marker.endswith("environ") else "")
    host.commands[("auditctl", "-l")] = (255, "", "Error sending rule list data request (Operation not permitted)\n")
    controls = [
        CONTROLS[3],
        c("AUD-01", "audit_rules", keys=["identity"], waive_in_container="auditd runs on the container host"),
        c("AUD-02", "audit_rules", keys=["identity"]),
        c("SYS-03", "sysctl", key="net.bridge.bridge-nf-call-iptables", expected="1", waive_in_container="x"),
    ]
    failed, result = run_module(os_hardening_audit.main, {"controls": controls})
    report = result["report"]
    assert report["container"] is True
    first, audit_waived, audit_failed, missing = report["controls"]
    assert (first["status"], first["observed"], first["reason"]) == (
        "waived", "2", "kernel-global: set on the container host")
    assert (audit_waived["status"], audit_waived["reason"]) == ("waived", "auditd runs on the container host")
    assert audit_waived["observed"] == "auditctl -l: Error sending rule list data request (Operation not permitted)"
    assert audit_failed["status"] == "fail"
    assert audit_failed["reason"] == "auditctl -l: Error sending rule list data request (Operation not permitted)"
    assert missing["status"] == "not_applicable"  # n/a stays n/a even when waivable
    assert report["summary"] == {"pass": 0, "fail": 1, "waived": 2, "not_applicable": 1}
    assert report["failed_ids"] == ["AUD-02"]


def test_container_option_overrides_detection(host):
    host.write("/run/.containerenv", "")
    failed, result = run_module(os_hardening_audit.main, {"controls": [CONTROLS[3]], "container": "no"})
    assert result["report"]["container"] is False and result["report"]["controls"][0]["status"] == "fail"
    failed, result = run_module(os_hardening_audit.main, {"controls": [CONTROLS[3]], "container": "yes"})
    os.remove(host.root / "run/.containerenv")
    assert result["report"]["container"] is True and result["report"]["controls"][0]["status"] == "waived"


def test_missing_tools(host):
    host.binaries = {"systemctl"}
    controls = [CONTROLS[0], CONTROLS[5], CONTROLS[15], CONTROLS[18], CONTROLS[19], CONTROLS[21]]
    failed, result = run_module(os_hardening_audit.main, {"controls": controls})
    got = {r["id"]: (r["status"], r["reason"]) for r in result["report"]["controls"]}
    assert got == {
        "SSH-01": ("not_applicable", "sshd not found (OpenSSH server not installed)"),
        "MOD-01": ("fail", "modprobe not found (kmod not installed)"),
        "FW-01": ("fail", "nft not found (nftables not installed)"),
        "LOG-01": ("fail", "systemd-analyze not found (not a systemd host)"),
        "UPD-01": ("not_applicable", "apt-config not found (not an APT system)"),
        "AUD-01": ("fail", "auditctl not found (auditd not installed)"),
    }
    assert host.calls == []


def test_sshd_error_and_loaded_module(host):
    host.commands[("sshd", "-T")] = (255, "", "Missing privilege separation directory: /run/sshd\n")
    host.write("/proc/modules", "cramfs 20480 0 - Live 0x0000000000000000\n")
    failed, result = run_module(os_hardening_audit.main, {"controls": CONTROLS[:2] + [CONTROLS[5]]})
    first, second, module = result["report"]["controls"]
    assert first["reason"] == second["reason"] == "sshd -T failed: Missing privilege separation directory: /run/sshd"
    assert (module["status"], module["observed"], module["reason"]) == (
        "fail", "install /bin/false; loaded now", "loaded now")


def test_systemctl_failure_isolates_the_bad_unit(host):
    host.commands[("systemctl", "show", "-p", "LoadState,ActiveState,UnitFileState", "--", "ssh.service",
                   "rpcbind.socket")] = (1, "", "Failed to connect to bus: No such file or directory\n")
    host.commands[("systemctl", "show", "-p", "LoadState,ActiveState,UnitFileState", "--", "ssh.service")] = (
        0, "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n", "")
    failed, result = run_module(os_hardening_audit.main, {"controls": [CONTROLS[13], CONTROLS[14]]})
    ssh, rpcbind = result["report"]["controls"]
    assert ssh["status"] == "pass"
    assert (rpcbind["status"], rpcbind["reason"]) == ("fail", "systemctl show failed: unexpected command "
                                                      "systemctl show -p LoadState,ActiveState,UnitFileState -- "
                                                      "rpcbind.socket")


def test_missing_file_fails_and_config_include(host):
    host.write("/etc/login.defs.d/50-edgefleet.conf", "UMASK 027\n")
    controls = [c("FILE-09", "file", path="/etc/nosuch", mode="0600"),
                c("CFG-02", "config", path="/etc/login.defs", include="/etc/login.defs.d/*.conf", key="UMASK",
                  expected="027")]
    failed, result = run_module(os_hardening_audit.main, {"controls": controls})
    missing, umask = result["report"]["controls"]
    assert (missing["status"], missing["reason"]) == ("fail", "/etc/nosuch missing")
    assert (umask["status"], umask["observed"]) == ("pass", "027")


@pytest.mark.parametrize("bad, message, field", [
    (c("X-01", "firewalld", zone="public"), "control X-01: field 'check': unknown check type 'firewalld'", "check"),
    (c("X-02", "sysctl", expected="1"), "control X-02: field 'key': required for check sysctl", "key"),
    (c("X-03", "file", path="/etc/shadow", mode=640), "control X-03: field 'mode': must be a non-empty string", "mode"),
    ({"area": "a", "title": "t", "check": "sysctl"}, "control #2: field 'id': required", "id"),
])
def test_bad_input_fails_naming_id_and_field_before_anything_runs(host, bad, message, field):
    failed, result = run_module(os_hardening_audit.main, {"controls": [CONTROLS[0], bad]})
    assert failed and result["msg"].startswith(message), result["msg"]
    assert result["field"] == field
    assert host.calls == []


SSH_ONLY = {area + "_enabled": area == "ssh" for area in AREAS}


def test_controls_derived_from_the_roles_settings(host):
    failed, result = run_module(os_hardening_audit.main, {
        "settings": dict(SSH_ONLY, ssh_max_auth_tries=6, skip_controls=["SSH-07"], ssh_log_level="INFO"), "os_family": "Debian",
        "controls": [c("SYS-01", "sysctl", key="net.ipv4.ip_forward", expected="1")], "container": "no"})
    assert not failed, result
    by_id = {r["id"]: r for r in result["report"]["controls"]}
    assert [r["id"] for r in result["report"]["controls"]][-1] == "SYS-01"  # given controls come last
    assert by_id["SSH-06"]["status"] == "pass" and by_id["SSH-06"]["expected"] == "6"
    assert by_id["SSH-01"]["status"] == "fail"
    assert (by_id["SSH-07"]["status"], by_id["SSH-07"]["reason"]) == ("waived", "in os_hardening_skip_controls")
    assert host.calls == [("sshd", "-T")]


def test_a_bad_setting_is_named_before_anything_runs(host):
    failed, result = run_module(os_hardening_audit.main, {"settings": {"ssh_max_auth_tries": "six"}})
    assert failed and result["msg"] == "settings.ssh_max_auth_tries: must be an integer, got str 'six'"
    assert result["setting"] == "ssh_max_auth_tries" and host.calls == []


def test_settings_or_controls_required(host):
    failed, result = run_module(os_hardening_audit.main, {})
    assert failed and "one of the following is required: settings, controls" in result["msg"]
