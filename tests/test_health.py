"""``GET /healthz`` says 503 when the database answers reads but writes fail."""

from __future__ import annotations

import sqlite3

import httpx
import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.http import health
from bot.server import create_app
from storage.db import sqlite_file
from storage.models import AuditLog


@pytest.fixture
async def client(app, monkeypatch):
    monkeypatch.setattr(health, "WRITE_TIMEOUT", 0.3)
    api = create_app(app, run_background=False)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def audit_rows(app) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(AuditLog))).scalar_one()


async def test_healthy_means_writes_work_and_the_probe_leaves_nothing(app, client):
    ok = await client.get("/healthz")
    assert ok.status_code == 200
    assert ok.json()["status"] == "ok" and ok.json()["writes"] == "ok"
    assert await audit_rows(app) == 0


async def test_sqlite_whose_write_lock_another_process_holds(sqlite_url, tmp_path, clock):
    from bot.core.app import App
    from tests.conftest import make_settings

    app = App(make_settings(sqlite_url, tmp_path / "data"), clock=clock)
    health_timeout, health.WRITE_TIMEOUT = health.WRITE_TIMEOUT, 0.3
    api = create_app(app, run_background=False)
    other = sqlite3.connect(sqlite_file(sqlite_url), isolation_level=None)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://t"
        ) as http:
            assert (await http.get("/healthz")).status_code == 200
            other.execute("BEGIN IMMEDIATE")  # e.g. a long write of another program
            locked = await http.get("/healthz")
            # Reads still answer (WAL): the old check said 200 here.
            assert locked.status_code == 503
            assert locked.json()["status"] == "degraded" and locked.json()["writes"] == "failed"
            assert "outbox" in locked.json()
            other.execute("ROLLBACK")
            assert (await http.get("/healthz")).status_code == 200
    finally:
        health.WRITE_TIMEOUT = health_timeout
        other.close()
        await app.close()


@pytest.mark.postgres
async def test_postgres_made_read_only(app, client):
    if not app.db.is_postgres:
        pytest.skip("PostgreSQL only")
    url = make_url(app.db.url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on')
        try:
            await app.db.dispose()  # new connections see the setting
            degraded = await client.get("/healthz")
            assert degraded.status_code == 503
            assert degraded.json()["writes"] == "failed"
            assert degraded.json()["error"] in ("ReadOnlySQLTransactionError", "DBAPIError")
        finally:
            admin.execute(f'ALTER DATABASE "{url.database}" RESET default_transaction_read_only')
    await app.db.dispose()
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.postgres
async def test_postgres_table_locked_by_another_session(app, client):
    if not app.db.is_postgres:
        pytest.skip("PostgreSQL only")
    url = make_url(app.db.url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as other:
        other.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
        locked = await client.get("/healthz")
        other.rollback()
    assert locked.status_code == 503 and locked.json()["writes"] == "failed"
    assert (await client.get("/healthz")).status_code == 200


async def test_a_database_that_does_not_answer_is_an_error(tmp_path, clock):
    """The database file's folder is gone (a lost disk, a wrong path): 503 "error"."""
    from bot.core.app import App
    from tests.conftest import make_settings

    missing = tmp_path / "gone" / "sipas.db"
    app = App(make_settings(f"sqlite:///{missing}", tmp_path / "data"), clock=clock)
    api = create_app(app, run_background=False)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://t"
        ) as http:
            answer = await http.get("/healthz")
        assert answer.status_code == 503
        assert answer.json()["status"] == "error" and answer.json()["database"]
    finally:
        await app.close()
