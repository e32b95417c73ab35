# -*- coding: utf-8 -*-
# Copyright: (c) 2026, edgefleet.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ZTP database engines: URLs, connections and the few places SQLite and PostgreSQL differ.

Statements are written once with ``?`` placeholders; the PostgreSQL engine
translates them. Every statement is counted, so tests can prove that reads and
writes take a fixed number of queries whatever the fleet size.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import re
import sqlite3
import typing as t
from datetime import datetime, timezone

try:
    import psycopg
    from psycopg import errors as pg_errors
    HAS_PSYCOPG = True
    PSYCOPG_IMPORT_ERROR = None
except ImportError as exc:  # only PostgreSQL URLs need it
    HAS_PSYCOPG = False
    PSYCOPG_IMPORT_ERROR = exc

ENV_VAR = "EDGEFLEET_ZTP_DB"
SQLITE_BUSY_TIMEOUT_MS = 30000
CHUNK = 500  # IN (...) lists stay far below both engines' parameter limits


class ZtpDatabaseError(Exception):
    """The database cannot be used (URL, driver, connection, schema version)."""


# URLs ------------------------------------------------------------------------------

def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and output."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@]*@", r"\1:********@", url or "", flags=re.I)


def scrub(message: str, url: str) -> str:
    """message with the URL and its password replaced."""
    password = re.match(r"^[a-z][a-z0-9+.-]*://[^:/@]*:([^@]*)@", url or "", re.I)
    message = message.replace(url, redact_url(url)) if url else message
    if password and password.group(1):
        message = message.replace(password.group(1), "********")
    return message


def resolve_url(url: str | None) -> str:
    url = url or os.environ.get(ENV_VAR)
    if not url:
        raise ZtpDatabaseError("no ZTP database given: set the database option or the %s environment variable" % ENV_VAR)
    return url


# Values and statements ---------------------------------------------------------------

def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(value: t.Any) -> str:
    """JSON for a TEXT column: stable, so equal values compare equal."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def chunks(values: t.Sequence[t.Any]) -> t.Iterator[t.Sequence[t.Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def placeholders(n: int) -> str:
    return ", ".join("?" * n)


# Engines ----------------------------------------------------------------------------

class Engine(abc.ABC):
    """One connection, in autocommit mode: transactions are explicit statements."""

    dialect = ""
    lock_suffix = ""  # appended to SELECTs of rows about to be changed

    def __init__(self, url: str) -> None:
        self.url = url
        self.statements = 0  # counted so tests can prove a constant number of queries
        self.conn = None  # type: t.Any

    def sql(self, statement: str) -> str:
        return statement

    def execute(self, statement: str, params: t.Sequence[t.Any] = ()) -> list:
        self.statements += 1
        cur = self.conn.execute(self.sql(statement), params)
        return cur.fetchall() if cur.description else []

    def executemany(self, statement: str, rows: t.Sequence[t.Sequence[t.Any]]) -> None:
        if rows:
            self.statements += 1
            self.conn.cursor().executemany(self.sql(statement), rows)

    def script(self, statement: str) -> None:
        self.statements += 1
        self.conn.execute(statement)

    def begin_write(self) -> None:
        self.script("BEGIN")

    def commit(self) -> None:
        self.script("COMMIT")

    def rollback(self) -> None:
        with contextlib.suppress(Exception):
            self.script("ROLLBACK")

    @abc.abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether the table exists; each engine asks its own catalogue."""

    def is_retryable(self, exc: Exception) -> bool:
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class SqliteEngine(Engine):
    dialect = "sqlite"

    def __init__(self, url: str, path: str, dry_run: bool, create: bool) -> None:
        super().__init__(url)
        if not os.path.isabs(path):
            raise ZtpDatabaseError("the SQLite path in %s must be absolute (sqlite:///abs/path/ztp.db)" % url)
        exists = os.path.exists(path)
        if not exists and not create:
            raise ZtpDatabaseError("the SQLite database %s does not exist (import devices with edgefleet.platform.ztp_import first)" % path)
        if not exists and not dry_run and not os.path.isdir(os.path.dirname(path)):
            raise ZtpDatabaseError("the folder of the SQLite database %s does not exist" % path)
        # Check mode must not create a database file: work on an empty one in memory.
        target = path if exists or not dry_run else ":memory:"
        if not exists and not dry_run:
            # Created private: the database holds the fleet's addresses and facts.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self.conn = sqlite3.connect(target, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = %d" % SQLITE_BUSY_TIMEOUT_MS)
            self.conn.execute("PRAGMA foreign_keys = ON")
            if target != ":memory:" and not dry_run:
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise ZtpDatabaseError("cannot open the SQLite database %s: %s" % (path, exc)) from None

    def begin_write(self) -> None:
        # Take the write lock now, not at the first write: read-modify-write
        # sequences of two processes are serialised instead of losing updates.
        self.script("BEGIN IMMEDIATE")

    def table_exists(self, name: str) -> bool:
        return bool(self.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


class PostgresEngine(Engine):
    dialect = "postgresql"
    lock_suffix = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        if not HAS_PSYCOPG:
            raise ZtpDatabaseError("PostgreSQL URLs need the Python package psycopg (3.x) on the host running this: %s"
                                   % PSYCOPG_IMPORT_ERROR)
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=15)
        except psycopg.Error as exc:
            raise ZtpDatabaseError("cannot connect to %s: %s" % (redact_url(url), scrub(str(exc).strip(), url))) from None

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def execute(self, statement: str, params: t.Sequence[t.Any] = ()) -> list:
        self.statements += 1
        cur = self.conn.execute(self.sql(statement), params or None, prepare=False)
        return cur.fetchall() if cur.description else []

    def table_exists(self, name: str) -> bool:
        return self.execute("SELECT to_regclass(?) IS NOT NULL", (name,))[0][0]

    def is_retryable(self, exc: Exception) -> bool:
        # a concurrent insert won a unique key, or the server broke a lock cycle
        return isinstance(exc, (pg_errors.UniqueViolation, pg_errors.SerializationFailure, pg_errors.DeadlockDetected))


def open_engine(url: str, dry_run: bool, create: bool) -> Engine:
    """The engine for a URL; create=False refuses a missing SQLite file (readers)."""
    if url.startswith("sqlite://"):
        if not url.startswith("sqlite:///"):
            raise ZtpDatabaseError("SQLite URLs look like sqlite:///abs/path/ztp.db, got %s" % url)
        return SqliteEngine(url, os.path.normpath(url[len("sqlite://"):]), dry_run, create)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresEngine(url)
    raise ZtpDatabaseError("unsupported ZTP database URL %s: use sqlite:///abs/path/ztp.db or postgresql://user:pass@host:port/db"
                           % redact_url(url))


def is_driver_error(exc: Exception) -> bool:
    """An error raised by sqlite3 or psycopg (reported as ZtpDatabaseError, password scrubbed)."""
    return isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg")
