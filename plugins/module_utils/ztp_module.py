# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every ZTP module shares: the database option and error handling."""

from __future__ import annotations

import getpass
import typing as t

from ansible.module_utils.basic import env_fallback
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import (
    ENV_VAR,
    ZtpDatabaseError,
    ZtpError,
    ZtpStore,
    redact_url,
)

# no_log: a PostgreSQL URL carries the password.
DATABASE_ARGSPEC = dict(database=dict(type="str", no_log=True, fallback=(env_fallback, [ENV_VAR])))


def default_actor() -> str:
    try:
        return "ansible:%s" % getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "ansible"


def run_module(module: t.Any, work: t.Callable[[ZtpStore], dict]) -> None:
    """Open the database (check mode never commits), run work, exit with its result."""
    url = module.params.get("database")
    try:
        with ZtpStore(url, dry_run=module.check_mode) as store:
            result = work(store)
    except (ZtpError, ZtpDatabaseError) as exc:
        module.fail_json(msg=str(exc), **_error_fields(exc))
    module.exit_json(**result)


def _error_fields(exc: Exception) -> dict:
    if isinstance(exc, ZtpError):
        return {"record": exc.record, "field": exc.field}
    return {}


__all__ = ["DATABASE_ARGSPEC", "default_actor", "run_module", "redact_url"]
