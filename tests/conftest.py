"""Shared fixtures.

``db_url`` runs a test on SQLite and, when ``SIPAS_TEST_POSTGRES_URL`` is set, on
PostgreSQL too. PostgreSQL tests use a database created for this test run (dropped at
the end), so concurrent runs never see each other's rows; each test starts from empty
tables.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import bot.services  # noqa: F401  (the effect appliers, as every entry point does)
from bot.core.app import App
from bot.core.settings import Settings
from storage.db import Database
from storage.migrate import upgrade
from storage.models import metadata

PG_ENV = "SIPAS_TEST_POSTGRES_URL"
PG_URL = os.environ.get(PG_ENV)
SKIP_PG = f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    # A Tuesday morning in Hà Nội time (02:00 UTC = 09:00 local).
    return Clock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))


# --- databases -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file that each test copies (migrating once per run)."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def migrate() -> None:
        db = Database(f"sqlite:///{path}")
        await upgrade(db)
        await db.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """A fresh, migrated PostgreSQL database for this run; dropped afterwards."""
    if not PG_URL:
        pytest.skip(SKIP_PG)
    import psycopg

    base = make_url(PG_URL)
    name = f"sipas_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)

    async def migrate() -> None:
        db = Database(url)
        await upgrade(db)
        await db.dispose()

    asyncio.run(migrate())
    yield url
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_postgres(url: str) -> None:
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, sqlite_template) -> str:
    """A migrated, empty database: SQLite, then PostgreSQL when configured."""
    if request.param == "sqlite":
        path = tmp_path / "sipas.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    """A migrated, empty SQLite database (for tests that need only one engine)."""
    path = tmp_path / "sipas.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def make_settings(db_url: str, data_dir: Path, **overrides) -> Settings:
    values = {
        "database_url": db_url,
        "data_dir": data_dir,
        "secret_key": "test-secret-key-not-for-production",
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    return make_settings(db_url, tmp_path / "data")


@pytest.fixture
async def app(settings, clock):
    application = App(settings, clock=clock)
    yield application
    await application.close()
