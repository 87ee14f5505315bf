"""Backups: a consistent copy while serving, a check of a copy, and restoring one.

SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies the database
into a new file in one step, inside one read transaction: with the write-ahead log the
copy is one consistent state and writers (webhooks) go on meanwhile.
PostgreSQL: ``pg_dump --format=custom`` (one snapshot) and ``pg_restore``, the server's
own tools, run with the password in the environment, never on the command line.

A backup without the deployment's ``secret.key`` (or ``SIPAS_SECRET_KEY``) loses the
stored Zalo tokens and every chat's link to its hashed id: keep them together.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import Database, sqlite_file

COUNTED = ("inbound_event", "conversation", "response", "answer", "outbox", "person", "unit")


def N_(message: str) -> str:
    """Marks a message for the catalogues (storage imports nothing of flows.i18n)."""
    return message


class BackupError(Exception):
    """The copy could not be made, read or restored: an ``N_`` reason and its fields
    (``str()`` is the English; callers translate ``message`` and format ``fields``)."""

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message.format(**fields))
        self.message = message
        self.fields = fields


@dataclass
class BackupInfo:
    """What a check found in a backup."""

    revision: str | None
    counts: dict[str, int] = field(default_factory=dict)


def _pg_env(db: Database) -> tuple[list[str], dict[str, str]]:
    url = make_url(db.url)
    args = ["--dbname", url.database or ""]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(command: list[str], env: dict[str, str]) -> str:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(
            N_("{tool} is not installed (PostgreSQL client tools)"), tool=command[0]
        ) from None
    if done.returncode != 0:
        raise BackupError(
            N_("{tool} failed: {error}"), tool=command[0], error=done.stderr.strip()[-500:]
        )
    return done.stdout


def backup(db: Database, target: Path) -> None:
    """Write a consistent copy of the database to ``target`` (which must not exist)."""
    if target.exists():
        raise BackupError(N_("{file} exists already: choose a new file"), file=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if db.is_postgres:
        args, env = _pg_env(db)
        _run(["pg_dump", "--format=custom", "--file", str(target), *args], env)
        return
    source = sqlite_file(db.url)
    if source is None or not source.exists():
        raise BackupError(N_("the database is not a SQLite file"))
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        # One step: a read transaction over one snapshot (WAL lets writers go on).
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    target.chmod(0o600)


def _sqlite_info(path: Path) -> BackupInfo:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(N_("{file} cannot be opened: {error}"), file=path, error=exc) from None
    try:
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise BackupError(N_("{file} is damaged: {error}"), file=path, error=ok)
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED}
    except sqlite3.DatabaseError as exc:
        raise BackupError(
            N_("{file} is not a backup of this bot: {error}"), file=path, error=exc
        ) from None
    finally:
        conn.close()
    return BackupInfo(revision[0] if revision else None, counts)


def check(db: Database, path: Path) -> BackupInfo:
    """Read a backup through and say what it holds; ``BackupError`` when it is unusable."""
    if not path.is_file():
        raise BackupError(N_("{file} is not a file"), file=path)
    if db.is_postgres:
        _, env = _pg_env(db)
        listing = _run(["pg_restore", "--list", str(path)], env)
        tables = [
            line.split()[-2] for line in listing.splitlines() if " TABLE DATA public " in line
        ]
        if "alembic_version" not in tables:
            raise BackupError(N_("{file} is not a backup of this bot"), file=path)
        return BackupInfo(None, {t: -1 for t in COUNTED if t in tables})
    return _sqlite_info(path)


def restore(db: Database, path: Path) -> None:
    """Replace the database's content with the backup's (the server must be stopped)."""
    check(db, path)
    if db.is_postgres:
        args, env = _pg_env(db)
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                *args,
                str(path),
            ],
            env,
        )
        return
    target = sqlite_file(db.url)
    if target is None:
        raise BackupError(N_("the database is not a SQLite file"))
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
