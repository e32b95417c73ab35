# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""os_hardening_files through the module runner, on a real temporary folder."""

from __future__ import annotations

import grp
import os
import pwd
import stat

import pytest

from ansible_collections.edgefleet.platform.plugins.modules import os_hardening_files
from ansible_collections.edgefleet.platform.plugins.modules.os_hardening_files import edit_text
from ansible_collections.edgefleet.platform.tests.unit.module_runner import run_module

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name

# /etc/login.defs of Debian 12 (excerpt, comments and spacing as shipped).
LOGIN_DEFS = """#
# /etc/login.defs - Configuration control definitions for the login package.
#
MAIL_DIR        /var/mail
#
# Password aging controls:
#
#\tPASS_MAX_DAYS\tMaximum number of days a password may be used.
PASS_MAX_DAYS\t99999
PASS_MIN_DAYS\t0
PASS_WARN_AGE\t7
UMASK\t\t022
ENCRYPT_METHOD SHA512
#SHA_CRYPT_MIN_ROUNDS 5000
"""

# /etc/chrony/chrony.conf of Debian 12 (chrony 4.3), without its comments.
CHRONY_CONF = """confdir /etc/chrony/conf.d
pool 2.debian.pool.ntp.org iburst
sourcedir /run/chrony-dhcp
sourcedir /etc/chrony/sources.d
keyfile /etc/chrony/chrony.keys
driftfile /var/lib/chrony/chrony.drift
"""


def mode_of(path):
    return "%04o" % stat.S_IMODE(os.stat(path).st_mode)


def run(files, **kwargs):
    return run_module(os_hardening_files.main, {"files": files}, **kwargs)


def test_edit_text_sets_keys_in_place_comments_duplicates_and_appends():
    text = LOGIN_DEFS + "UMASK 077\n"
    new = edit_text(text, {"PASS_MAX_DAYS": "365", "UMASK": "027", "YESCRYPT_COST_FACTOR": "8"}, "\t", None)
    lines = new.splitlines()
    assert "PASS_MAX_DAYS\t365" in lines
    assert "#\tPASS_MAX_DAYS\tMaximum number of days a password may be used." in lines  # comments untouched
    assert lines.index("UMASK\t027") == LOGIN_DEFS.splitlines().index("UMASK\t\t022")
    assert "# UMASK 077" in lines  # the later duplicate no longer counts
    assert lines[-1] == "YESCRYPT_COST_FACTOR\t8"
    assert edit_text(new, {"PASS_MAX_DAYS": "365", "UMASK": "027", "YESCRYPT_COST_FACTOR": "8"}, "\t", None) == new


def test_edit_text_comment_out_only_active_lines_from_their_start():
    new = edit_text(CHRONY_CONF + "# pool old.example iburst\n", None, " ", r"(pool|server)\s")
    assert "# pool 2.debian.pool.ntp.org iburst" in new.splitlines()
    assert "# pool old.example iburst" in new.splitlines()
    assert "# # pool" not in new
    assert "sourcedir /etc/chrony/sources.d" in new.splitlines()
    assert edit_text(new, None, " ", r"(pool|server)\s") == new


def test_edit_text_keeps_a_key_that_only_starts_like_another():
    text = "PASS_MAX_DAYS_EXTRA 1\nPASS_MAX_DAYS 99999\n"
    assert edit_text(text, {"PASS_MAX_DAYS": "365"}, " ", None) == "PASS_MAX_DAYS_EXTRA 1\nPASS_MAX_DAYS 365\n"


def test_writes_folders_and_files_then_changes_nothing(tmp_path):
    folder = tmp_path / "journald.conf.d"
    conf = folder / "50-edgefleet.conf"
    files = [
        {"path": str(folder), "state": "directory", "owner": OWNER, "group": GROUP, "mode": "0750"},
        {"path": str(conf), "content": "[Journal]\nStorage=persistent\n", "owner": OWNER, "group": GROUP, "mode": "0600"},
    ]
    failed, result = run(files)
    assert not failed, result
    assert result["changed"] and result["updated"] == [str(folder), str(conf)]
    assert conf.read_text() == "[Journal]\nStorage=persistent\n"
    assert mode_of(folder) == "0750" and mode_of(conf) == "0600"
    failed, again = run(files)
    assert not failed and not again["changed"] and again["updated"] == []


def test_check_mode_reports_with_diff_and_writes_nothing(tmp_path):
    conf = tmp_path / "issue.net"
    conf.write_text("Debian GNU/Linux 12\n")
    os.chmod(conf, 0o644)
    failed, result = run([{"path": str(conf), "content": "Authorised access only.\n", "mode": "0640"},
                          {"path": str(tmp_path / "new.d"), "state": "directory", "mode": "0755"},
                          {"path": str(tmp_path / "new.d" / "a.conf"), "content": "x\n", "mode": "0644"}],
                         check_mode=True, diff=True)
    assert not failed, result
    assert result["updated"] == [str(conf), str(tmp_path / "new.d"), str(tmp_path / "new.d" / "a.conf")]
    assert conf.read_text() == "Debian GNU/Linux 12\n" and mode_of(conf) == "0644"
    assert not (tmp_path / "new.d").exists()
    contents = [d for d in result["diff"] if "after_header" in d]
    assert contents[0]["before"] == "Debian GNU/Linux 12\n" and contents[0]["after"] == "Authorised access only.\n"
    modes = [d for d in result["diff"] if isinstance(d.get("before"), dict) and "mode" in d["before"]]
    assert modes and modes[0]["before"]["mode"] == "0644" and modes[0]["after"]["mode"] == "0640"


def test_validation_failure_leaves_the_file_and_names_it(tmp_path):
    conf = tmp_path / "sshd.conf"
    conf.write_text("PasswordAuthentication no\n")
    failed, result = run([{"path": str(conf), "content": "Bogus yes\n", "mode": "0600", "backup": True,
                           "validate": "/bin/sh -c 'grep -q Bogus %s && echo bad keyword Bogus >&2 && exit 255'"}])
    assert failed
    assert result["msg"].startswith("%s: validation with" % conf) and "bad keyword Bogus" in result["msg"]
    assert conf.read_text() == "PasswordAuthentication no\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sshd.conf"]  # no temporary file or backup left


def test_validation_sees_the_new_content_and_backup_is_returned(tmp_path):
    conf = tmp_path / "firewall.nft"
    conf.write_text("old\n")
    failed, result = run([{"path": str(conf), "content": "new\n", "mode": "0600", "backup": True,
                           "validate": "/bin/sh -c 'grep -qx new %s'"}])
    assert not failed, result
    backup = result["backups"][str(conf)]
    assert open(backup).read() == "old\n" and conf.read_text() == "new\n"


def test_edit_attributes_and_absent(tmp_path):
    defs = tmp_path / "login.defs"
    defs.write_text(LOGIN_DEFS)
    shadow = tmp_path / "shadow"
    shadow.write_text("root:*:19000:0:99999:7:::\n")
    os.chmod(shadow, 0o644)
    stale = tmp_path / "stale.conf"
    stale.write_text("x\n")
    files = [
        {"path": str(defs), "state": "edit", "set": {"UMASK": "027"}, "separator": "\t"},
        {"path": str(shadow), "state": "attributes", "mode": "0640"},
        {"path": str(tmp_path / "gshadow"), "state": "attributes", "mode": "0640"},
        {"path": str(stale), "state": "absent"},
    ]
    failed, result = run(files, diff=True)
    assert not failed, result
    assert result["updated"] == [str(defs), str(shadow), str(stale)]
    assert result["missing"] == [str(tmp_path / "gshadow")]
    assert "UMASK\t027" in defs.read_text().splitlines() and mode_of(shadow) == "0640" and not stale.exists()
    failed, again = run(files)
    assert not failed and again["updated"] == []


def test_edit_of_a_missing_file_fails_except_in_check_mode(tmp_path):
    entry = {"path": str(tmp_path / "chrony.conf"), "state": "edit", "comment_out": "pool "}
    failed, result = run([entry])
    assert failed and "state=edit changes an existing file" in result["msg"]
    failed, result = run([entry], check_mode=True)
    assert not failed and result["missing"] == [entry["path"]] and not result["changed"]


@pytest.mark.parametrize("entry, message", [
    ({"path": "etc/issue", "content": "x", "mode": "0644"}, "path must be absolute"),
    ({"path": "/etc/issue", "content": "x"}, "mode is required with state=file"),
    ({"path": "/etc/issue", "mode": "0644"}, "content is required with state=file"),
    ({"path": "/etc/issue", "content": "x", "mode": "644x"}, "mode must be an octal string"),
    ({"path": "/etc/login.defs", "state": "edit"}, "state=edit needs set or comment_out"),
    ({"path": "/etc/issue", "content": "x", "mode": "0644", "set": {"A": "1"}}, "set and comment_out go with state=edit"),
    ({"path": "/etc/chrony.conf", "state": "edit", "comment_out": "(pool"}, "comment_out is not a regular expression"),
])
def test_bad_entries_fail_before_anything_is_written(tmp_path, entry, message):
    first = tmp_path / "first.conf"
    failed, result = run([{"path": str(first), "content": "x\n", "mode": "0644"}, entry])
    assert failed and message in result["msg"]
    assert result["msg"].startswith("files[1]")
    assert not first.exists()


def test_missing_folder_is_named(tmp_path):
    failed, result = run([{"path": str(tmp_path / "nope" / "a.conf"), "content": "x\n", "mode": "0644"}])
    assert failed and "folder %s does not exist" % (tmp_path / "nope") in result["msg"]
