"""Paper ballots: ``import ballots`` of a month's worth of ballots, and how long it holds
the database's write lock at a time.

    .venv/bin/python bench/ballots.py [--ballots 2000] [--database sqlite|postgres|both]

A fresh, migrated database per kind with a province of 100 wards; a CSV of ``--ballots``
ballots of the sipas-2023 questionnaire (every item answered, a number per ballot, a
procedure on every other one), loaded through ``import_ballots`` (check every cell, then
store), timed end to end, with the CPU seconds of this process, the number of write
transactions and the longest (printed when the code says). Then the same file again:
nothing is loaded twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

THIS = Path(__file__).resolve()
ROOT = THIS.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from common import DEFAULT_PG, machine, postgres_database  # noqa: E402

WARDS = 100


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_ballots(path: Path, n: int, items: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["ballot_id", "date", "unit", "procedure", *items, "comment"])
        for i in range(n):
            levels = [str(1 + (i + k) % 5) for k in range(len(items))]
            procedure = "PR-00001" if i % 2 else ""
            comment = "Cán bộ nhiệt tình" if i % 10 == 0 else ""
            out.writerow(
                [f"P{i:06d}", "20/11/2025", f"B.W{i % WARDS:05d}", procedure, *levels, comment]
            )


async def bench(kind_db: str, url: str, workdir: Path, n: int) -> None:
    from bot.core.app import App
    from bot.core.settings import Settings
    from bot.services.imports import run_import
    from flows import questionnaire as qn
    from storage.migrate import upgrade

    try:
        from bot.services.ballot_import import import_ballots
    except ImportError:  # before issue 19: in bot.services.ballots
        from bot.services.ballots import import_ballots

    app = App(
        Settings(
            database_url=url,
            data_dir=workdir / f"data-{kind_db}",
            secret_key="bench-ballots-secret-key",
            _env_file=None,
        )
    )
    try:
        await upgrade(app.db)
        units = workdir / "units.csv"
        units.write_text(
            "code,name,kind,parent_code\nB,Tỉnh Đo Lường,province,\n"
            + "".join(f"B.W{i:05d},Phường {i},ward,B\n" for i in range(WARDS)),
            encoding="utf-8",
        )
        procs = workdir / "procedures.csv"
        procs.write_text(
            "code,name,field_code,field_name\nPR-00001,Thủ tục 1,F01,Lĩnh vực 1\n",
            encoding="utf-8",
        )
        await run_import(app, "units", units)
        await run_import(app, "procedures", procs)
        items = [item.code for item in qn.catalogue()["sipas-2023"].items]
        path = workdir / f"ballots-{kind_db}.csv"
        write_ballots(path, n, items)
        for attempt in ("first", "again"):
            cpu, start = _cpu(), time.perf_counter()
            result = await import_ballots(app, path)
            took, cpu = time.perf_counter() - start, _cpu() - cpu
            chunks = getattr(result, "chunks", None)
            longest = getattr(result, "longest_write", None)
            shape = (
                f"{chunks} transactions, longest {longest * 1000:.0f} ms"
                if chunks is not None
                else "one transaction"
            )
            print(
                f"  {kind_db:<8} {attempt:<5} {n} ballots: {took:6.2f} s"
                f" = {n / took:6.0f} ballots/s, CPU {cpu:5.2f} s"
                f" ({cpu / n * 1000:.2f} ms a ballot); loaded {result.loaded},"
                f" before {result.already}; {shape}",
                flush=True,
            )
    finally:
        await app.close()


async def main(args) -> None:
    print(f"# bench/ballots.py · {machine()} · load average {os.getloadavg()[0]:.2f}")
    print(f"# {' '.join(sys.argv)}")
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    with tempfile.TemporaryDirectory(prefix="sipas-ballots-") as tmp:
        workdir = Path(tmp)
        for kind_db in kinds:
            with _database(kind_db, workdir, args.pg_url) as url:
                await bench(kind_db, url, workdir, args.ballots)
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")


@contextlib.contextmanager
def _database(kind_db: str, workdir: Path, pg_url: str):
    if kind_db == "sqlite":
        yield f"sqlite:///{workdir / 'ballots.db'}"
    else:
        with postgres_database(pg_url) as url:
            yield url


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ballots", type=int, default=2000)
    p.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--pg-url", default=os.environ.get("SIPAS_TEST_POSTGRES_URL", DEFAULT_PG))
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
