# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration tests drive the real ansible-playbook and ansible-inventory.

Every test that takes `db_url` runs twice: against SQLite and against the real
PostgreSQL server `make integration` starts (EDGEFLEET_TEST_PG_URL). Each
PostgreSQL test gets its own fresh database.
"""

from __future__ import annotations

import os
import sys
import uuid

import pytest


def _pg_admin_url():
    url = os.environ.get("EDGEFLEET_TEST_PG_URL")
    if not url:
        if os.environ.get("EDGEFLEET_REQUIRE_PG") == "1":
            pytest.fail("EDGEFLEET_REQUIRE_PG=1 but EDGEFLEET_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL: run through `make integration` (hack/with-pg.sh) to test it")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield "sqlite:///%s" % (tmp_path / "ztp.db")
        return
    import psycopg
    admin = _pg_admin_url()
    name = "ztp_t_%s" % uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE %s" % name)
    yield admin.rsplit("/", 1)[0] + "/" + name  # same server and credentials, the new database
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE %s WITH (FORCE)" % name)


@pytest.fixture
def ansible_env(tmp_path):
    env = dict(os.environ)
    env.update(
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
    )
    env.pop("EDGEFLEET_ZTP_DB", None)
    return env
