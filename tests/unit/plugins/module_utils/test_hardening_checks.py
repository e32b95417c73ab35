# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit (module_utils/hardening_checks.py): settings to controls to verdicts, on a fake host."""

from __future__ import annotations

import pytest

from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_checks import (
    Host,
    SettingsError,
    audit,
    audit_settings,
)
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_observer import Unobservable
from ansible_collections.edgefleet.platform.plugins.module_utils.hardening_policy import AREAS
from ansible_collections.edgefleet.platform.tests.unit.plugins.module_utils.test_hardening_evaluators import SSHD_T

# /etc/os-release of Debian 12 and of Rocky Linux 9 (excerpts).
DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
ROCKY_OS_RELEASE = 'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
# /proc/mounts of a Debian 12 VM with a UDF optical disc mounted (excerpt).
PROC_MOUNTS = ("sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\nproc /proc proc rw,relatime 0 0\n"
               "/dev/vda1 / ext4 rw,relatime,errors=remount-ro 0 0\n/dev/sr0 /media/cdrom0 udf ro,nosuid,nodev 0 0\n")


class Runner:
    """Canned command results; an unexpected command is an error, as on a host without it."""

    def __init__(self, commands):
        self.commands = commands
        self.calls = []

    def __call__(self, argv):
        self.calls.append(tuple(argv))
        return self.commands.get(tuple(argv), (127, "", "unexpected command %s" % " ".join(argv)))


@pytest.fixture
def host(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(DEBIAN_OS_RELEASE)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/mounts").write_text(PROC_MOUNTS)
    runner = Runner({("/usr/sbin/sshd", "-T"): (0, SSHD_T, "")})
    h = Host(runner, lambda name: "/usr/sbin/" + name if name == "sshd" else None, root=str(tmp_path))
    h.runner = runner
    return h


ONLY_SSH = {area + "_enabled": area == "ssh" for area in AREAS}


def test_settings_to_verdicts_with_skipped_controls_waived_and_not_observed(host):
    report = audit_settings(dict(ONLY_SSH, skip_controls=["SSH-01", "SSH-07"]), host, container=False)
    by_id = {c["id"]: c for c in report["controls"]}
    assert by_id["SSH-01"] == {"id": "SSH-01", "area": "ssh", "title": "password authentication off", "status": "waived",
                               "expected": "no", "observed": None, "reason": "in os_hardening_skip_controls"}
    assert by_id["SSH-06"]["status"] == "fail" and by_id["SSH-06"]["observed"] == "6"  # maxauthtries 6 in SSHD_T
    assert by_id["SSH-02"]["status"] == "pass"  # without-password is prohibit-password
    assert report["summary"]["waived"] == 2
    assert "SSH-01" not in report["failed_ids"] and "SSH-06" in report["failed_ids"]
    assert host.runner.calls == [("/usr/sbin/sshd", "-T")]  # one sshd -T for every SSH control


def test_os_family_and_mounts_come_from_the_host(host, tmp_path):
    only_modules = dict(ONLY_SSH, ssh_enabled=False, modules_enabled=True)
    ids = [c["id"] for c in audit_settings(only_modules, host, container=True)["controls"]]
    assert "MOD-udf" not in ids and "MOD-cramfs" in ids  # udf is mounted: never blocked
    (tmp_path / "etc/os-release").write_text(ROCKY_OS_RELEASE)
    pam = dict(ONLY_SSH, ssh_enabled=False, pam_enabled=True)
    report = audit_settings(pam, Host(Runner({}), lambda name: None, root=str(tmp_path)), container=False)
    assert {c["id"]: c for c in report["controls"]}["PAM-01"]["expected"]["module"] == "pam_faillock.so"
    (tmp_path / "etc/os-release").write_text('ID=nixos\n')
    with pytest.raises(Unobservable, match="OS family unknown"):
        audit_settings(pam, Host(Runner({}), lambda name: None, root=str(tmp_path)))


def test_bad_settings_fail_before_anything_is_observed(host):
    with pytest.raises(SettingsError, match="ssh_max_auth_tries: must be an integer"):
        audit_settings({"ssh_max_auth_tries": "many"}, host)
    with pytest.raises(SettingsError, match="os_family"):
        audit_settings(ONLY_SSH, host, os_family="Suse")
    assert host.runner.calls == []


def test_extra_controls_are_added_after_the_catalogue(host):
    extra = [{"id": "SITE-01", "area": "site", "title": "site banner keyword", "check": "sshd", "key": "maxstartups",
              "expected": "10:30:100"}]
    report = audit_settings(ONLY_SSH, host, container=False, extra=extra)
    assert report["controls"][-1]["id"] == "SITE-01" and report["controls"][-1]["status"] == "pass"


def test_controls_given_as_data_with_skips(host):
    controls = [{"id": "A-01", "area": "a", "title": "t", "check": "sshd", "key": "x11forwarding", "expected": "no"}]
    report = audit(controls, host, container=False, skip=["A-01"])
    assert report["controls"][0]["status"] == "waived" and host.runner.calls == []
