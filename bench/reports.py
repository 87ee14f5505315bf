"""Report speed: ``/report`` and ``/quota`` figures over a province's year of answers,
against a DuckDB scan of the same data in the same run.

    .venv/bin/python bench/reports.py --answers 1000000 --database postgres
    .venv/bin/python bench/reports.py --answers 10000000 --database postgres

The data: one province with 100 wards (the size of a province after the 2025 reform),
one year of completed responses to the quick questionnaire (6 items each, ~3 % skipped,
~80 % satisfied), generated inside the database. Timed: ``storage.reports.satisfaction``
for the whole province over the year and for one ward over one month, and
``storage.reports.quota_progress`` for the province (one quota per ward), each end to
end (queries and Python, in a short read transaction as a chat command runs them),
median of 3 runs. Beside them, three years of completed dossiers (as many a year as
responses), which ``/quota`` counts for the year. DuckDB gets the same four tables loaded
in memory and runs the same aggregations (answers per unit, item and value in the
period, plus respondents per unit; for ``/quota`` respondents and dossiers per unit);
its load time is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text

from bench.common import DEFAULT_PG, machine, postgres_database, sync_dsn, timed
from storage import quotas as quota_store
from storage import reports, rollups
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Unit

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Responses come by four channels (per-channel counts are a rollup of their own).
CHANNEL_PG = "(ARRAY['zalo', 'telegram', 'web', 'paper'])[1 + i % 7 % 4]"
CHANNEL_SQLITE = (
    "CASE i % 7 % 4 WHEN 0 THEN 'zalo' WHEN 1 THEN 'telegram' WHEN 2 THEN 'web' ELSE 'paper' END"
)
WARDS = 100
YEAR = 2025
DOSSIER_YEARS = 3
ITEMS = [
    ("overall", "overall"),
    ("E1", "E1"),
    ("E2", "E2"),
    ("E3", "E3"),
    ("E4", "E4"),
    ("E5", "E5"),
]
# value from h = (id * 7919 + k * 104729) % 100: 3 % skipped, the rest mostly 4–5.
VALUE_SQL = (
    "CASE WHEN h < 3 THEN NULL WHEN h < 5 THEN 1 WHEN h < 10 THEN 2 WHEN h < 20 THEN 3 "
    "WHEN h < 55 THEN 4 ELSE 5 END"
)


async def generate(db: Database, answers: int) -> int:
    """Fill an empty, migrated database; returns the number of responses."""
    responses = answers // len(ITEMS)
    items_sql = ", ".join(f"('{c}', '{e}', {k})" for k, (c, e) in enumerate(ITEMS, 1))
    answers_sql = f"""
        INSERT INTO answer (response_id, item_code, element_code, scale, value, answered_at)
        WITH it(code, element, k) AS (VALUES {items_sql})
        SELECT id, code, element, 'satisfaction', {VALUE_SQL}, completed_at
        FROM (SELECT r.id, r.completed_at, it.code, it.element,
                     ((CAST(r.id AS BIGINT) * 7919 + it.k * 104729) % 100) AS h
              FROM response r CROSS JOIN it) AS x"""
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO questionnaire (id, code, version, title, definition, loaded_at) "
                "VALUES (1, 'quick', 1, 'quick', '{}', :now)"
            ),
            {"now": _db_time(db, datetime.now(UTC))},
        )
        await conn.execute(
            text(
                "INSERT INTO unit (id, code, name, kind, parent_id, path, questionnaire_code, legacy, created_at) "
                "VALUES (1, 'P', 'Tỉnh', 'province', NULL, '/1/', 'quick', false, :now)"
            ),
            {"now": _db_time(db, datetime.now(UTC))},
        )
        await conn.execute(
            text(
                "INSERT INTO unit (id, code, name, kind, parent_id, path, questionnaire_code, legacy, created_at) "
                "VALUES (:id, :code, :name, 'ward', 1, :path, 'quick', false, :now)"
            ),
            [
                {
                    "id": i,
                    "code": f"P.W{i}",
                    "name": f"Phường {i}",
                    "path": f"/1/{i}/",
                    "now": _db_time(db, datetime.now(UTC)),
                }
                for i in range(2, WARDS + 2)
            ],
        )
        if db.is_postgres:
            await conn.execute(
                text(
                    f"""INSERT INTO response (key, unit_id, questionnaire_id, channel, respondent_hash, status,
                       started_at, completed_at)
                SELECT md5(i::text), 2 + (i % {WARDS}), 1, {CHANNEL_PG}, md5('r' || i), 'completed', ts, ts
                FROM (SELECT i, timestamptz '{YEAR}-01-01 00:00:00+07'
                             + ((i - 1)::float8 / {responses}) * interval '365 days' AS ts
                      FROM generate_series(1, {responses}) AS i) s"""
                )
            )
            await conn.execute(text(answers_sql))
            await conn.execute(text("ANALYZE"))
        else:
            await conn.execute(
                text(
                    f"""INSERT INTO response (key, unit_id, questionnaire_id, channel, respondent_hash, status,
                       started_at, completed_at)
                WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {responses})
                SELECT hex(randomblob(16)), 2 + (i % {WARDS}), 1, {CHANNEL_SQLITE}, hex(randomblob(20)), 'completed',
                       datetime('{YEAR - 1}-12-31 17:00:00', '+' || ((i - 1) * 31535999 / {responses}) || ' seconds') || '.000000',
                       datetime('{YEAR - 1}-12-31 17:00:00', '+' || ((i - 1) * 31535999 / {responses}) || ' seconds') || '.000000'
                FROM s"""
                )
            )
            await conn.execute(text(answers_sql))
            await conn.execute(text("ANALYZE"))
        # Three years of completed dossiers, as many a year as there are responses: a
        # quota counts the year's, and a database that has run for years holds the rest.
        years = f"{DOSSIER_YEARS} * 365"
        if db.is_postgres:
            await conn.execute(
                text(
                    f"""INSERT INTO dossier (receipt_code, unit_id, completed_at, created_at)
                SELECT 'R' || i, 2 + (i % {WARDS}), ts, ts
                FROM (SELECT i, timestamptz '{YEAR - DOSSIER_YEARS + 1}-01-01 00:00:00+07'
                             + ((i - 1)::float8 / ({responses} * {DOSSIER_YEARS}))
                               * ({years}) * interval '1 day' AS ts
                      FROM generate_series(1, {responses} * {DOSSIER_YEARS}) AS i) s"""
                )
            )
        else:
            await conn.execute(
                text(
                    f"""INSERT INTO dossier (receipt_code, unit_id, completed_at, created_at)
                WITH RECURSIVE s(i) AS (
                    SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {responses} * {DOSSIER_YEARS})
                SELECT 'R' || i, 2 + (i % {WARDS}), t, t FROM (
                    SELECT i, datetime('{YEAR - DOSSIER_YEARS}-12-31 17:00:00', '+' ||
                        ((i - 1) * ({years} * 86400 - 1) / ({responses} * {DOSSIER_YEARS}))
                        || ' seconds') || '.000000' AS t FROM s)"""
                )
            )
        await conn.execute(text("ANALYZE"))
        await conn.execute(
            text(
                "INSERT INTO quota (unit_id, period_start, period_end, target_count, created_at) "
                "SELECT id, :start, :end, 5000, :now FROM unit WHERE parent_id = 1"
            ),
            {
                "start": date(YEAR, 1, 1),
                "end": date(YEAR, 12, 31),
                "now": _db_time(db, datetime.now(UTC)),
            },
        )
    return responses


def _db_time(db: Database, value: datetime):
    return value.replace(tzinfo=None) if db.is_sqlite else value


async def export_for_duckdb(db: Database, directory: Path) -> None:
    """Write the three tables as CSV (times as epoch seconds) for DuckDB to load."""
    queries = {
        "unit": "SELECT id, path FROM unit",
        "response": "SELECT id, unit_id, status, "
        + (
            "CAST(extract(epoch FROM completed_at) AS bigint)"
            if db.is_postgres
            else "CAST(strftime('%s', completed_at) AS integer)"
        )
        + ", CASE WHEN flagged_at IS NULL THEN 0 ELSE 1 END FROM response",
        "answer": "SELECT response_id, item_code, element_code, scale, value FROM answer",
        "dossier": "SELECT unit_id, "
        + (
            "CAST(extract(epoch FROM completed_at) AS bigint)"
            if db.is_postgres
            else "CAST(strftime('%s', completed_at) AS integer)"
        )
        + " FROM dossier",
    }
    if db.is_postgres:
        import psycopg

        with psycopg.connect(sync_dsn(db.url)) as conn:
            for name, query in queries.items():
                with (
                    (directory / f"{name}.csv").open("wb") as fh,
                    conn.cursor().copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy,
                ):
                    for chunk in copy:
                        fh.write(chunk)
    else:
        import sqlite3

        conn = sqlite3.connect(db.url.split("///", 1)[1])
        for name, query in queries.items():
            with (directory / f"{name}.csv").open("w", newline="") as fh:
                csv.writer(fh).writerows(conn.execute(query))
        conn.close()


def duckdb_scan(directory: Path, lo: datetime, hi: datetime, prefix: str) -> tuple[float, float]:
    """Median times in DuckDB (tables in memory) of what ``/report`` and ``/quota`` compute.

    ``/report``: answers per unit, item and value plus respondents per unit; ``/quota``:
    completed, unflagged responses and completed dossiers per unit. Returns (report seconds, quota seconds).
    """
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE unit AS SELECT * FROM read_csv('{directory}/unit.csv', header=false, "
        "columns={'id': 'INTEGER', 'path': 'VARCHAR'})"
    )
    con.execute(
        f"CREATE TABLE response AS SELECT * FROM read_csv('{directory}/response.csv', header=false, "
        "columns={'id': 'INTEGER', 'unit_id': 'INTEGER', 'status': 'VARCHAR', "
        "'completed_at': 'BIGINT', 'flagged': 'INTEGER'})"
    )
    con.execute(
        f"CREATE TABLE answer AS SELECT * FROM read_csv('{directory}/answer.csv', header=false, "
        "columns={'response_id': 'INTEGER', 'item_code': 'VARCHAR', 'element_code': 'VARCHAR', "
        "'scale': 'VARCHAR', 'value': 'INTEGER'})"
    )
    con.execute(
        f"CREATE TABLE dossier AS SELECT * FROM read_csv('{directory}/dossier.csv', header=false, "
        "columns={'unit_id': 'INTEGER', 'completed_at': 'BIGINT'})"
    )
    params = [int(lo.timestamp()), int(hi.timestamp()), prefix + "%"]
    answers_sql = """
        SELECT r.unit_id, a.item_code, a.element_code, a.value, count(*)
        FROM answer a JOIN response r ON r.id = a.response_id JOIN unit u ON u.id = r.unit_id
        WHERE r.status = 'completed' AND r.flagged = 0 AND r.completed_at >= ? AND r.completed_at < ?
          AND u.path LIKE ? AND a.scale = 'satisfaction'
        GROUP BY ALL"""
    respondents_sql = """
        SELECT r.unit_id, count(*) FROM response r JOIN unit u ON u.id = r.unit_id
        WHERE r.status = 'completed' AND r.flagged = 0 AND r.completed_at >= ? AND r.completed_at < ?
          AND u.path LIKE ?
        GROUP BY ALL"""
    dossiers_sql = """
        SELECT d.unit_id, count(*) FROM dossier d JOIN unit u ON u.id = d.unit_id
        WHERE d.completed_at >= ? AND d.completed_at < ? AND u.path LIKE ?
        GROUP BY ALL"""
    report_times, quota_times = [], []
    for _ in range(3):
        start = time.perf_counter()
        con.execute(answers_sql, params).fetchall()
        con.execute(respondents_sql, params).fetchall()
        report_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        con.execute(respondents_sql, params).fetchall()
        con.execute(dossiers_sql, params).fetchall()
        quota_times.append(time.perf_counter() - start)
    con.close()
    return sorted(report_times)[1], sorted(quota_times)[1]


async def run(db_url: str, answers: int) -> None:
    db = Database(db_url)
    await upgrade(db)
    started = time.perf_counter()
    responses = await generate(db, answers)
    print(
        f"  generated {responses:,} responses, {responses * len(ITEMS):,} answers "
        f"in {time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    async with db.write() as session:
        answer_rows, response_rows = await rollups.rebuild(session, TZ)
    print(
        f"  rollups rebuilt from raw answers in {time.perf_counter() - started:.1f} s "
        f"({answer_rows:,} + {response_rows:,} rows)"
    )
    # Planner statistics for the new rows, as autovacuum (PostgreSQL) would gather them on
    # a live server; without them the planner guesses a handful of rows everywhere.
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    async with db.read() as session:
        province = (await session.exec(select(Unit).where(Unit.code == "P"))).scalars().one()
        ward = (await session.exec(select(Unit).where(Unit.code == "P.W7"))).scalars().one()

    # As a chat command runs them: in a short transaction (on SQLite on the loop's thread,
    # storage/sqlite_inline.py; the same as a plain read on PostgreSQL).
    async def province_year():
        async with db.read(short=True) as session:
            return await reports.satisfaction(
                session, province, date(YEAR, 1, 1), date(YEAR, 12, 31), TZ
            )

    async def ward_month():
        async with db.read(short=True) as session:
            return await reports.satisfaction(
                session, ward, date(YEAR, 10, 1), date(YEAR, 10, 31), TZ
            )

    async def quotas():
        async with db.read(short=True) as session:
            return await quota_store.quota_progress(
                session, province, date(YEAR, 1, 1), date(YEAR, 12, 31), TZ
            )

    await province_year()  # warm-up: caches, plans
    t_year, report = await timed(province_year)
    t_month, _ = await timed(ward_month)
    t_quota, quota_rows = await timed(quotas)
    assert report.total.respondents == responses, (report.total.respondents, responses)
    print(
        f"  /report province, year:  {t_year * 1000:8.1f} ms   (SIPAS {report.total.percent:.2%}, "
        f"{report.total.respondents:,} respondents, {len(report.units)} wards)"
    )
    print(f"  /report one ward, month: {t_month * 1000:8.1f} ms")
    print(
        f"  /quota province (100):   {t_quota * 1000:8.1f} ms   (first: {quota_rows[0].collected:,}/5,000, "
        f"{quota_rows[0].dossiers:,} dossiers of the year)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        await export_for_duckdb(db, Path(tmp))
        lo, hi = reports.utc_bounds(date(YEAR, 1, 1), date(YEAR, 12, 31), TZ)
        t_duck, t_duck_quota = duckdb_scan(Path(tmp), lo, hi, "/1/")
    print(f"  DuckDB scan, /report query: {t_duck * 1000:8.1f} ms")
    print(f"  DuckDB scan, /quota query:  {t_duck_quota * 1000:8.1f} ms")
    print(f"  ratio ours / DuckDB, /report province year: {t_year / t_duck:.2f}")
    print(f"  ratio ours / DuckDB, /quota province:       {t_quota / t_duck_quota:.2f}")
    await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("SIPAS_TEST_POSTGRES_URL", DEFAULT_PG)
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.database in ("postgres", "both"):
        with postgres_database(args.postgres_url) as url:
            print(f"PostgreSQL, {args.answers:,} answers")
            await run(url, args.answers)
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite, {args.answers:,} answers")
            await run(f"sqlite:///{tmp}/bench.db", args.answers)


if __name__ == "__main__":
    asyncio.run(main())
