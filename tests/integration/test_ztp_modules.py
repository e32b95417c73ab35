# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import re

from ansible_collections.edgefleet.platform.tests.integration.helpers import FILES, PLAYBOOKS, recap, run

FLEET = os.path.join(FILES, "fleet.yml")


def playbook(db_url, env, *extra, check=True):
    return run(["ansible-playbook", "-i", "localhost,", os.path.join(PLAYBOOKS, "ztp_modules.yml"),
                "-e", "ztp_db=%s" % db_url, "-e", "fleet_file=%s" % FLEET] + list(extra), env, check=check)


def test_modules_converge_then_change_nothing(db_url, ansible_env):
    first = playbook(db_url, ansible_env)
    assert "import_changed=True discover_changed=True" in first.stdout
    assert recap(first.stdout)["localhost"]["failed"] == 0
    second = playbook(db_url, ansible_env)
    assert "import_changed=False discover_changed=False" in second.stdout
    assert recap(second.stdout)["localhost"]["changed"] == 0


def test_check_mode_on_an_empty_database_writes_nothing(tmp_path, ansible_env):
    path = tmp_path / "fresh.db"
    proc = run(["ansible", "localhost", "-i", "localhost,", "-c", "local", "--check", "--diff",
                "-m", "edgefleet.platform.ztp_import", "-a", "src=%s database=sqlite:///%s" % (FLEET, path)], ansible_env)
    assert "CHANGED" in proc.stdout and "SN-0001" in proc.stdout
    assert not path.exists()


def test_password_never_reaches_output(db_url, ansible_env):
    proc = playbook(db_url, ansible_env, "-vvv")
    password = re.match(r"^[a-z]+://[^:/@]*:([^@]*)@", db_url)
    if password:
        assert password.group(1) not in proc.stdout + proc.stderr
    assert proc.returncode == 0


def test_wrong_password_message_is_redacted(ansible_env):
    url = os.environ.get("EDGEFLEET_TEST_PG_URL")
    if not url:
        url = "postgresql://ztp:NotTheRightOne@127.0.0.1:1/ztp"
    else:
        url = re.sub(r"^(postgresql://[^:]+):[^@]*@", r"\1:NotTheRightOne@", url)
    proc = run(["ansible-playbook", "-i", "localhost,", os.path.join(PLAYBOOKS, "ztp_modules.yml"),
                "-e", "ztp_db=%s" % url, "-e", "fleet_file=%s" % FLEET, "-vvv"], ansible_env, check=False)
    assert proc.returncode != 0
    assert "NotTheRightOne" not in proc.stdout + proc.stderr
    assert ":********@127.0.0.1" in proc.stdout


def test_database_from_environment_variable(tmp_path, ansible_env):
    url = "sqlite:///%s" % (tmp_path / "env.db")
    ansible_env["EDGEFLEET_ZTP_DB"] = url
    proc = run(["ansible", "localhost", "-i", "localhost,", "-c", "local", "-m", "edgefleet.platform.ztp_import",
                "-a", "src=%s" % FLEET], ansible_env)
    assert '"changed": true' in proc.stdout
    assert (tmp_path / "env.db").exists()
