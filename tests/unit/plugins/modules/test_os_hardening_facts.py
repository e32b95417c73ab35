# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""os_hardening_facts through the module runner, on a fake host with real Debian 12 command outputs."""

from __future__ import annotations

import os

import pytest

from ansible.module_utils import basic

from ansible_collections.edgefleet.platform.plugins.modules import os_hardening_facts
from ansible_collections.edgefleet.platform.tests.unit.module_runner import run_module

# `ssh -Q cipher|mac|kex` of OpenSSH 9.2p1 (Debian 12).
SSH_Q = {
    "cipher": "3des-cbc\naes128-cbc\naes192-cbc\naes256-cbc\naes128-ctr\naes192-ctr\naes256-ctr\n"
              "aes128-gcm@openssh.com\naes256-gcm@openssh.com\nchacha20-poly1305@openssh.com\n",
    "mac": "hmac-sha1\nhmac-sha1-96\nhmac-sha2-256\nhmac-sha2-512\nhmac-md5\nhmac-md5-96\numac-64@openssh.com\n"
           "umac-128@openssh.com\nhmac-sha1-etm@openssh.com\nhmac-sha1-96-etm@openssh.com\nhmac-sha2-256-etm@openssh.com\n"
           "hmac-sha2-512-etm@openssh.com\nhmac-md5-etm@openssh.com\nhmac-md5-96-etm@openssh.com\numac-64-etm@openssh.com\n"
           "umac-128-etm@openssh.com\n",
    "kex": "diffie-hellman-group1-sha1\ndiffie-hellman-group14-sha1\ndiffie-hellman-group14-sha256\n"
           "diffie-hellman-group16-sha512\ndiffie-hellman-group18-sha512\ndiffie-hellman-group-exchange-sha1\n"
           "diffie-hellman-group-exchange-sha256\necdh-sha2-nistp256\necdh-sha2-nistp384\necdh-sha2-nistp521\n"
           "curve25519-sha256\ncurve25519-sha256@libssh.org\nsntrup761x25519-sha512\nsntrup761x25519-sha512@openssh.com\n",
}
# `systemctl show -p LoadState,ActiveState,UnitFileState -- chrony.service rpcbind.socket apt-daily-upgrade.timer`
# in a Debian 12 container right after `apt-get install chrony` (chrony skips itself there: no CAP_SYS_TIME).
SYSTEMCTL_SHOW = ("LoadState=loaded\nActiveState=inactive\nUnitFileState=enabled\n\n"
                  "LoadState=not-found\nActiveState=inactive\nUnitFileState=\n\n"
                  "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n")
UNITS = ["chrony.service", "rpcbind.socket", "apt-daily-upgrade.timer"]


class FakeHost:
    def __init__(self, root, monkeypatch):
        self.root = root
        self.binaries = {"ssh", "systemctl"}
        self.calls = []
        self.commands = {("ssh", "-Q", k): (0, v, "") for k, v in SSH_Q.items()}
        self.commands[("systemctl", "show", "-p", "LoadState,ActiveState,UnitFileState", "--") + tuple(UNITS)] = (
            0, SYSTEMCTL_SHOW, "")
        host = self

        def run_command(module, args, **kwargs):
            argv = (os.path.basename(args[0]),) + tuple(args[1:])
            host.calls.append(argv)
            return host.commands.get(argv, (127, "", "unexpected command %s" % " ".join(argv)))

        def get_bin_path(module, name, required=False, opt_dirs=None):
            return "/usr/bin/%s" % name if name in host.binaries else None

        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
        monkeypatch.setattr(os_hardening_facts, "HOST_ROOT", str(root))

    def write(self, path, text):
        full = self.root / path.lstrip("/")
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = FakeHost(tmp_path, monkeypatch)
    fake.write("/proc/sys/net/ipv4/ip_forward", "0\n")
    fake.write("/proc/sys/net/ipv4/conf/all/rp_filter", "2\n")
    fake.write("/proc/sys/kernel/printk", "4\t4\t1\t7\n")
    fake.write("/etc/pam.d/common-auth", "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n"
                                         "auth\trequisite\t\t\tpam_deny.so\n")
    return fake


def test_reads_everything_in_one_run(host):
    failed, result = run_module(os_hardening_facts.main, {
        "ssh_algorithms": True,
        "sysctl": {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "2", "kernel.printk": "4 4 1 7",
                   "net.bridge.bridge-nf-call-iptables": "1"},
        "units": [{"name": "chrony.service", "enabled": True, "active": True},
                  {"name": "rpcbind.socket", "enabled": False, "active": False},
                  {"name": "apt-daily-upgrade.timer", "enabled": True, "active": True}],
        "contains": {"faillock": {"path": "/etc/pam.d/common-auth", "regexp": r"pam_faillock\.so"},
                     "unix": {"path": "/etc/pam.d/common-auth", "regexp": r"^auth\s.*pam_unix\.so"},
                     "absent": {"path": "/etc/pam.d/nothing-here", "regexp": "x"}},
    }, check_mode=True)
    assert not failed, result
    assert not result["changed"]
    assert result["ssh_algorithms"]["cipher"][-1] == "chacha20-poly1305@openssh.com"
    assert "sntrup761x25519-sha512@openssh.com" in result["ssh_algorithms"]["kex"]
    assert result["sysctl"] == {"present": {"net.ipv4.ip_forward": "0", "net.ipv4.conf.all.rp_filter": "2",
                                            "kernel.printk": "4 4 1 7"},
                                "differ": ["net.ipv4.ip_forward"]}
    # rpcbind is not installed: nothing to stop; chrony is enabled but not running
    assert result["units_todo"] == [{"name": "chrony.service", "installed": True, "enabled": True, "state": "started"}]
    assert result["contains"] == {"faillock": False, "unix": True, "absent": False}
    systemctl_calls = [c for c in host.calls if c[0] == "systemctl"]
    assert len(systemctl_calls) == 1  # one systemctl show for all units


def test_a_unit_to_enable_that_is_not_installed_is_listed_as_such(host):
    host.commands[("systemctl", "show", "-p", "LoadState,ActiveState,UnitFileState", "--", "auditd.service")] = (
        0, "LoadState=not-found\nActiveState=inactive\nUnitFileState=\n", "")
    failed, result = run_module(os_hardening_facts.main, {"units": [{"name": "auditd.service", "enabled": True, "active": True}]})
    assert not failed, result
    assert result["units_todo"] == [{"name": "auditd.service", "installed": False, "enabled": True, "state": "started"}]


def test_no_ssh_client_gives_no_lists(host):
    host.binaries.discard("ssh")
    failed, result = run_module(os_hardening_facts.main, {"ssh_algorithms": True})
    assert not failed and result["ssh_algorithms"] is None and host.calls == []


@pytest.mark.parametrize("args, message", [
    ({"units": [{"enabled": True}]}, "units[0]: name is required"),
    ({"units": [{"name": "a.service"}]}, "units[0] (a.service): give enabled, active or both"),
    ({"units": [{"name": "a.service", "enabled": "yes"}]}, "units[0] (a.service): enabled must be a boolean"),
    ({"contains": {"x": {"path": "/etc/a"}}}, "contains.x: needs path and regexp"),
    ({"contains": {"x": {"path": "/etc/a", "regexp": "("}}}, "contains.x: regexp"),
])
def test_bad_input_is_named(host, args, message):
    failed, result = run_module(os_hardening_facts.main, args)
    assert failed and result["msg"].startswith(message)
    assert host.calls == []


def test_apt_sources_with_the_roles_own_file_left_out(host):
    host.write("/etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main\n")
    host.write("/etc/apt/sources.list.d/edgefleet-security.sources",
               "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n")
    host.write("/etc/apt/sources.list.d/site.list", "deb [arch=amd64] http://mirror.plant/debian bookworm-updates main\n")
    failed, result = run_module(os_hardening_facts.main, {
        "apt_sources": True, "apt_sources_ignore": ["/etc/apt/sources.list.d/edgefleet-security.sources"]})
    assert not failed, result
    assert result["apt_suites"] == {"/etc/apt/sources.list": ["bookworm"],
                                    "/etc/apt/sources.list.d/site.list": ["bookworm-updates"]}
