"""Imports: rows/s of every import kind against a bare insert of the same rows, and webhooks
answered while ``sipas-bot import`` runs next to ``serve``.

    .venv/bin/python bench/imports.py [--rows 100000] [--database sqlite|postgres|both]
        [--serve-rows 20000] [--no-serve] [--pg-url URL]

Part 1, per database (a fresh, migrated one): CSV files are generated (units, procedures,
people, dossiers; ``--rows`` dossiers, a fifth of them with a Telegram chat id so they get
an invitation, and a tenth as many units and procedures, a fifth as many people). Each
kind is loaded through ``bot.services.imports.run_import`` (check the whole file, then
publish in short transactions), timed end to end, with the check phase, the number of
transactions and the longest one, and the CPU time per row of this process (its threads
included: SQLite's driver thread), which the machine's load hardly changes. The reference, in the same run, just before: the same
rows, already parsed, written by the bare driver into the kind's table in one transaction
(SQLite: ``sqlite3`` ``executemany``; PostgreSQL: asyncpg ``copy_records_to_table``), then
deleted. Then a dossier file of ``--rows`` rows whose last row is bad: the time until it
is refused.

Part 2 (``--serve-rows``, per database): ``python -m bot serve`` (Telegram webhooks against
the fake Bot API of tests/fake_telegram.py) on a fresh database; a separate load process
posts survey conversations (tests/citizens.py), 8 citizens at a time; meanwhile
``python -m bot import dossiers FILE`` runs as its own process. Printed: the import's
wall time and rows/s, and for the webhooks posted during the import: count, errors (any
status but 200), p50/p99/max; ``/healthz`` polled during the import (non-200 count). The
reference, in the same run: p50/p99 of the same load in the seconds before the import.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

THIS = Path(__file__).resolve()
ROOT = THIS.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from common import DEFAULT_PG, machine, postgres_database, sync_dsn  # noqa: E402

from tests.processes import free_port, start_process, stop_process, wait_healthy  # noqa: E402

SECRET_KEY = "bench-imports-secret-key"
WEBHOOK_SECRET = "bench_webhook_Secret"
WARDS = 100
WHEN = "24/11/2025 08:15"
PRE_IMPORT = 8  # seconds of load before the import; the last 6 are the reference


# --- files -------------------------------------------------------------------------------


def make_files(workdir: Path, n: int) -> dict[str, tuple[Path, list[tuple]]]:
    """The CSV file of each kind and its rows (as the reference inserts them)."""
    n_units, n_procs, n_people = max(n // 10, WARDS + 1), max(n // 10, 20), max(n // 5, 10)
    files: dict[str, tuple[Path, list[tuple]]] = {}
    units = [("B", "Tỉnh Đo Lường", "province", "")]
    units += [(f"B.W{i:05d}", f"Phường {i}", "ward", "B") for i in range(n_units - 1)]
    files["units"] = _write(workdir / "units.csv", "code,name,kind,parent_code", units)
    procs = [
        (f"PR-{i:05d}", f"Thủ tục {i}", f"F{i % 20:02d}", f"Lĩnh vực {i % 20}")
        for i in range(n_procs)
    ]
    files["procedures"] = _write(
        workdir / "procedures.csv", "code,name,field_code,field_name", procs
    )
    people = [(f"Cán bộ {i:06d}", f"B.W{i % WARDS:05d}", "official") for i in range(n_people)]
    files["people"] = _write(workdir / "people.csv", "name,unit_code,role", people)
    files["dossiers"] = _write(
        workdir / "dossiers.csv",
        "receipt_code,unit_code,procedure_code,completed_at,citizen_channel,citizen_user_id",
        dossier_rows(n, "B.W{:05d}", "PR-{:05d}", n_procs),
    )
    return files


def dossier_rows(n: int, unit: str, proc: str, n_procs: int, first: int = 0) -> list[tuple]:
    return [
        (
            f"H{first + i:08d}",
            unit.format(i % WARDS),
            proc.format(i % n_procs),
            WHEN,
            "telegram" if i % 5 == 0 else "",
            str(700_000_000 + i) if i % 5 == 0 else "",
        )
        for i in range(n)
    ]


def _write(path: Path, header: str, rows: list[tuple]) -> tuple[Path, list[tuple]]:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(header + "\n")
        for row in rows:
            fh.write(",".join(row) + "\n")
    return path, rows


# --- the reference: the bare driver ------------------------------------------------------


def reference_rows(kind: str, rows: list[tuple], ids: dict) -> tuple[str, list[str], list]:
    """(table, columns, values) the bare driver inserts for ``kind``'s rows."""
    now = datetime.now(UTC)
    if kind == "units":
        values = [(f"ref-{r[0]}", r[1], r[2], "/", "quick", False, now) for r in rows]
        return (
            "unit",
            ["code", "name", "kind", "path", "questionnaire_code", "legacy", "created_at"],
            values,
        )
    if kind == "procedures":
        return "procedure", ["code", "name"], [(f"ref-{r[0]}", r[1]) for r in rows]
    if kind == "people":
        unit = ids["unit"]
        values = [(r[0], "official", unit, "vi", f"ref{i}", True, now) for i, r in enumerate(rows)]
        return (
            "person",
            ["name", "role", "unit_id", "locale", "registration_code_hash", "active", "created_at"],
            values,
        )
    unit, proc = ids["unit"], ids["procedure"]
    when = datetime(2025, 11, 24, 1, 15, tzinfo=UTC)
    values = [(r[0], unit, proc, when, now) for r in rows]
    return (
        "dossier",
        ["receipt_code", "unit_id", "procedure_id", "completed_at", "created_at"],
        values,
    )


_REF_ROWS = {  # the reference's rows, deleted after it
    "unit": "code LIKE 'ref-%'",
    "procedure": "code LIKE 'ref-%'",
    "person": "registration_code_hash LIKE 'ref%'",
    "dossier": "true",
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reference_sqlite(path: Path, table: str, columns: list[str], values: list) -> float:
    import sqlite3

    def plain(v):
        return v.replace(tzinfo=None).isoformat(" ") if isinstance(v, datetime) else v

    values = [tuple(plain(v) for v in row) for row in values]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, values)
    conn.execute("COMMIT")
    took = time.perf_counter() - start
    conn.execute(f"DELETE FROM {table} WHERE {_REF_ROWS[table]}")
    conn.close()
    return took


async def reference_postgres(url: str, table: str, columns: list[str], values: list) -> float:
    import asyncpg

    conn = await asyncpg.connect(sync_dsn(url))
    try:
        start = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table(table, records=values, columns=columns)
        took = time.perf_counter() - start
        await conn.execute(f"DELETE FROM {table} WHERE {_REF_ROWS[table]}")
        return took
    finally:
        await conn.close()


# --- part 1 ------------------------------------------------------------------------------


class Phases:
    """A Progress that remembers when each phase began and ended."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def start(self, phase: str, total: int) -> None:
        self.times[phase] = [time.perf_counter(), 0.0]

    def advance(self, rows: int) -> None:
        pass

    def finish(self) -> None:
        for span in self.times.values():
            if not span[1]:
                span[1] = time.perf_counter()


def _settings(url: str, data_dir: Path):
    from bot.core.settings import Settings

    return Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key=SECRET_KEY,
        telegram_token="123456789:bench",
        _env_file=None,
    )


async def bench_kinds(kind_db: str, url: str, workdir: Path, n: int) -> list[dict]:
    from sqlalchemy import select

    from bot.core.app import App
    from bot.services.imports import ImportFailed, run_import
    from storage.migrate import upgrade
    from storage.models import Procedure, Unit

    files = make_files(workdir, n)
    app = App(_settings(url, workdir / f"data-{kind_db}"))
    out = []
    try:
        await upgrade(app.db)
        for kind in ("units", "procedures", "people", "dossiers"):
            path, rows = files[kind]
            ids = {}
            async with app.db.read() as session:
                ids["unit"] = (await session.exec(select(Unit.id).limit(1))).first()
                ids["procedure"] = (await session.exec(select(Procedure.id).limit(1))).first()
                ids = {
                    k: (v[0] if v is not None and not isinstance(v, int) else v)
                    for k, v in ids.items()
                }
            table, columns, values = reference_rows(kind, rows, ids)
            if kind_db == "sqlite":
                ref = reference_sqlite(Path(url.split("///", 1)[1]), table, columns, values)
            else:
                ref = await reference_postgres(url, table, columns, values)
            phases = Phases()
            cpu = _cpu()
            start = time.perf_counter()
            result = await run_import(app, kind, path, progress=phases, on_output=lambda _l: None)
            took = time.perf_counter() - start
            cpu = _cpu() - cpu  # this process, its threads included (SQLite's driver)
            check = phases.times["Đang kiểm tra"]
            row = {
                "db": kind_db,
                "kind": kind,
                "rows": len(rows),
                "seconds": took,
                "rate": len(rows) / took,
                "check": check[1] - check[0],
                "reference": ref,
                "ratio": took / ref,
                "cpu": cpu,
                "chunks": result.chunks,
                "longest": result.longest_write * 1000,
            }
            out.append(row)
            print(
                f"  {kind_db:<8} {kind:<10} {row['rows']:>7} rows in {took:6.2f} s"
                f" = {row['rate']:8.0f} rows/s (check {row['check']:5.2f} s)"
                f"  bare {ref * 1000:7.1f} ms -> {row['ratio']:5.1f}x"
                f"  CPU {cpu / len(rows) * 1e6:4.0f} us/row"
                f"  {result.chunks} transactions, longest {row['longest']:.0f} ms",
                flush=True,
            )
        # A file as large, whose last row is bad: refused, and how fast.
        bad = workdir / "bad.csv"
        rows = dossier_rows(n, "B.W{:05d}", "PR-{:05d}", max(n // 10, 20), first=50_000_000)
        rows[-1] = ("BAD-1", "NO-SUCH-UNIT", *rows[-1][2:])
        _write(
            bad,
            "receipt_code,unit_code,procedure_code,completed_at,citizen_channel,citizen_user_id",
            rows,
        )
        start = time.perf_counter()
        try:
            await run_import(app, "dossiers", bad)
        except ImportFailed as failed:
            took = time.perf_counter() - start
            print(
                f"  {kind_db:<8} bad file   {n:>7} rows, 1 bad: refused in {took:5.2f} s "
                f"({len(failed.errors)} error: {failed.errors[0]})",
                flush=True,
            )
            out.append({"db": kind_db, "kind": "bad file", "rows": n, "seconds": took})
    finally:
        await app.close()
    return out


# --- part 2: webhooks during an import ----------------------------------------------------


def _load_main(conn, stop, base: str, citizens: list, concurrency: int) -> None:
    conn.send(asyncio.run(_load(stop, base, citizens, concurrency)))
    conn.close()


async def _load(stop, base: str, citizens: list, concurrency: int) -> list:
    import aiohttp

    samples: list[tuple[float, float, str]] = []  # (start, seconds, status)
    queue = list(reversed(citizens))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as http:

        async def worker() -> None:
            while queue and not stop.is_set():
                for path, body, headers in queue.pop():
                    began = time.time()
                    try:
                        async with http.post(path, data=body, headers=headers) as r:
                            await r.read()
                            status = str(r.status)
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        status = type(exc).__name__
                    samples.append((began, time.time() - began, status))
                    if status != "200":
                        break

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


async def bench_serving(kind_db: str, url: str, workdir: Path, n: int, tg) -> dict:
    import httpx
    import inbound
    from inbound import as_wire, prepare

    inbound.SECRET_KEY = SECRET_KEY
    data_dir = workdir / f"serve-{kind_db}"
    citizens = await prepare(url, data_dir, 3000, ["telegram"])
    _warm, people = citizens["telegram"]
    path, _rows = _write(
        workdir / f"serve-{kind_db}.csv",
        "receipt_code,unit_code,procedure_code,completed_at,citizen_channel,citizen_user_id",
        [
            (
                f"S{i:08d}",
                "P.W1",
                "T-HT-01",
                WHEN,
                "telegram" if i % 5 == 0 else "",
                str(800_000_000 + i) if i % 5 == 0 else "",
            )
            for i in range(n)
        ],
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(
        SIPAS_DATABASE_URL=url,
        SIPAS_DATA_DIR=str(data_dir),
        SIPAS_SECRET_KEY=SECRET_KEY,
        SIPAS_HTTP_PORT=str(port),
        SIPAS_PUBLIC_URL=base,
        SIPAS_TELEGRAM_TOKEN=tg.token,
        SIPAS_TELEGRAM_API_BASE=tg.url,
        SIPAS_TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    server = await start_process(
        [sys.executable, "-m", "bot", "serve"], env, workdir / f"serve-{kind_db}.log"
    )
    try:
        await wait_healthy(base, server)
        await tg.wait_for(lambda: tg.webhook, within=120)
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        parent, child = ctx.Pipe(duplex=False)
        loader = ctx.Process(target=_load_main, args=(child, stop, base, as_wire(people), 8))
        loader.start()
        await asyncio.sleep(PRE_IMPORT)  # the reference: the same load, no import yet
        health: Counter = Counter()
        began = time.time()
        importer = await start_process(
            [sys.executable, "-m", "bot", "import", "dossiers", str(path)],
            env,
            workdir / f"import-{kind_db}.log",
        )
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            while importer.returncode is None:
                with contextlib.suppress(httpx.HTTPError):
                    health[(await http.get("/healthz")).status_code] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(importer.wait(), 0.5)
        ended = time.time()
        await asyncio.sleep(1)
        stop.set()
        samples = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        loader.join()
    finally:
        await stop_process(server)
        tg.webhook = None
    before = sorted(s[1] for s in samples if began - PRE_IMPORT + 2 <= s[0] < began)
    during = sorted(s for s in samples if began <= s[0] <= ended)
    lat = sorted(s[1] for s in during)
    errors = Counter(s[2] for s in during if s[2] != "200")
    k = len(lat)
    row = {
        "db": kind_db,
        "rows": n,
        "import": ended - began,
        "rc": importer.returncode,
        "webhooks": k,
        "errors": dict(errors),
        "p50": lat[k // 2] * 1000 if k else 0,
        "p99": lat[min(k - 1, int(k * 0.99))] * 1000 if k else 0,
        "max": lat[-1] * 1000 if k else 0,
        "health": dict(health),
        "before": len(before),
        "before_p50": before[len(before) // 2] * 1000 if before else 0,
        "before_p99": before[min(len(before) - 1, int(len(before) * 0.99))] * 1000 if before else 0,
    }
    print(
        f"  {kind_db:<8} import of {n} dossiers next to serve: {row['import']:.1f} s"
        f" = {n / row['import']:.0f} rows/s (exit {row['rc']}); webhooks meanwhile: {k},"
        f" errors {row['errors'] or 0}, p50 {row['p50']:.0f} ms, p99 {row['p99']:.0f} ms,"
        f" max {row['max']:.0f} ms; /healthz {row['health']}",
        flush=True,
    )
    print(
        f"    reference, the same load in the {PRE_IMPORT - 2} s before the import:"
        f" {row['before']} webhooks, p50 {row['before_p50']:.0f} ms,"
        f" p99 {row['before_p99']:.0f} ms; load average {os.getloadavg()[0]:.2f}"
    )
    slow = sorted(during, key=lambda s: -s[1])[:5]
    print(
        "    slowest webhooks (s after the import started: ms): "
        + ", ".join(f"{s[0] - began:.1f}: {s[1] * 1000:.0f}" for s in slow)
    )
    log = (workdir / f"import-{kind_db}.log").read_text(errors="replace").strip().splitlines()
    print("    import progress: " + " | ".join(log[-4:]))
    return row


async def main(args) -> None:
    from tests.fake_telegram import FakeTelegram

    print(f"# bench/imports.py · {machine()} · load average {os.getloadavg()[0]:.2f}")
    print(f"# {' '.join(sys.argv)}")
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    with tempfile.TemporaryDirectory(prefix="sipas-imports-") as tmp:
        workdir = Path(tmp)
        for kind_db in kinds:
            with _database(kind_db, workdir, "kinds", args.pg_url) as url:
                await bench_kinds(kind_db, url, workdir, args.rows)
        if args.serve_rows:
            async with FakeTelegram() as tg:
                for kind_db in kinds:
                    with _database(kind_db, workdir, "serve", args.pg_url) as url:
                        await bench_serving(kind_db, url, workdir, args.serve_rows, tg)


@contextlib.contextmanager
def _database(kind_db: str, workdir: Path, name: str, pg_url: str):
    if kind_db == "sqlite":
        yield f"sqlite:///{workdir / f'{name}.db'}"
    else:
        with postgres_database(pg_url) as url:
            yield url


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--serve-rows", type=int, default=20_000, help="0: skip part 2")
    p.add_argument("--pg-url", default=os.environ.get("SIPAS_TEST_POSTGRES_URL", DEFAULT_PG))
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
