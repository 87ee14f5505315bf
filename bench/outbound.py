"""Outbound: reminders through a fake Bot API that enforces Telegram's flood limits.

    .venv/bin/python bench/outbound.py [--database sqlite|postgres|both] [--messages 10000]
        [--scenario both|plain|kill] [--library both|ptb|aiogram] [--claim-only] [--pg-url URL]

For each scenario, on a fresh database: officials of a province linked to Telegram chats
(``--messages``/3 of them, three deadlines each), the real planner and dispatcher queue
their reminders (text and buttons) in the outbox, then a real ``sipas-bot serve``
subprocess sends them to the fake Bot API in this process (``flood_limit=True``: 30
sends per second per bot, 1 per second per chat, 429 with ``retry_after`` beyond).
Printed: wall time, achieved rate ÷ allowed (30/s), 429s, duplicates (the same chat and
text delivered twice), losses (a queued message never delivered), the serving process's
CPU time per sent message (user + system, from its first delivery to its last: start-up
excluded) and its peak RSS (VmHWM from /proc, and psutil samples). Scenario ``kill``:
the server is killed with SIGKILL when half the messages are out, and started again.
``--library``: the Bot API library of the server (``SIPAS_TELEGRAM_LIBRARY``); ``both``
runs every scenario with python-telegram-bot, then with aiogram, in this one run
(``--database both``: all of it on SQLite, then on PostgreSQL). The load average is
printed at the start and end of every scenario: the figures depend on the machine's
other work (CPU per message least).

``--idle SECONDS``: the serving process's CPU per second with nothing to send (its
senders still claim every half second), measured after a 20-second start.

``--claim-only``: the claim query's time with 100,000 sent rows in the table, with the
partial indexes of migration 0008_outbox and without them (dropped for the comparison).

Planning runs as of a fixed working-day morning (as bench/reminders.py does); the queued
rows' ``not_before`` is then moved to the real now so the server sends them at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from sqlalchemy import delete, func, select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.common import DEFAULT_PG, machine, postgres_database, province_of_officials
from bot.channels.telegram.transport import render
from bot.core.app import App
from bot.core.settings import Settings
from bot.services.deadlines import DeadlineSpec, create
from bot.services.reminders import dispatch_pass, plan_pass
from scheduler.recurrence import Schedule
from storage import outbox
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Outbox
from tests.fake_telegram import TOKEN, FakeTelegram

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).astimezone(UTC)
DEADLINES = 3  # reminders per official
WARDS = 100
CHAT_BASE = 500_000_000
ALLOWED = 30.0  # Telegram's bulk limit, messages per second
VENV_BIN = Path(sys.executable).parent


# --- building the queue -------------------------------------------------------------


async def build(app: App, officials: int) -> None:
    """A province, ``officials`` officials linked to Telegram, three deadlines for all."""
    async with app.db.write() as session:
        await province_of_officials(
            session, WARDS, officials, "telegram", lambda i: str(CHAT_BASE + i), NOW
        )
        for k in range(DEADLINES):
            spec = DeadlineSpec(
                f"BENCH-{k}",
                f"Báo cáo số {k + 1}",
                Schedule("once", due=date(2026, 12, 15)),
                unit_codes=["B"],
            )
            _deadline, errors = await create(session, spec, NOW.date())
            assert not errors, errors


async def queue(url: str, messages: int) -> dict[tuple[int, str], int]:
    """Plan and dispatch the reminders; returns the expected (chat, text) deliveries."""
    settings = Settings(
        database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key="bench", _env_file=None
    )
    app = App(settings, clock=lambda: NOW)
    try:
        await upgrade(app.db)
        await build(app, math.ceil(messages / DEADLINES))
        await plan_pass(app)
        await dispatch_pass(app)
        async with app.db.write() as session:
            ids = (
                await session.exec(
                    select(Outbox.id).where(Outbox.channel == "telegram").order_by(Outbox.id)
                )
            ).all()
            surplus = [r[0] for r in ids[messages:]]
            if surplus:  # whole officials' worth: trim to exactly --messages
                await session.exec(delete(Outbox).where(Outbox.id.in_(surplus)))
            await session.exec(update(Outbox).values(not_before=datetime.now(UTC)))
            rows = (
                await session.exec(select(Outbox.recipient, Outbox.payload).order_by(Outbox.id))
            ).all()
        expected: Counter = Counter()
        for recipient, payload in rows:
            for call in render(recipient, payload):
                expected[(int(recipient), call["params"].get("text"))] += 1
        return expected
    finally:
        await app.close()


# --- the serving process ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    url: str, api_base: str, workdir: Path, log: Path, library: str
) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")},
        "SIPAS_TELEGRAM_LIBRARY": library,
        "SIPAS_DATABASE_URL": url,
        "SIPAS_DATA_DIR": str(workdir / "data"),
        "SIPAS_SECRET_KEY": "bench-secret",
        "SIPAS_TELEGRAM_TOKEN": TOKEN,
        "SIPAS_TELEGRAM_API_BASE": api_base,
        "SIPAS_TELEGRAM_BOT_USERNAME": "sipas_test_bot",
        "SIPAS_HTTP_PORT": str(free_port()),
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(VENV_BIN / "sipas-bot"), "serve"],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def vm_hwm(pid: int) -> int:
    """The process's peak resident set (bytes) as the kernel counted it."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


async def open_rows(db: Database) -> dict[str, int]:
    """Rows per status; ``unknown``: dead because their sender died during the call."""
    async with db.read() as session:
        counts = await outbox.counts(session, "telegram")
        unknown = (
            await session.exec(
                select(func.count()).select_from(Outbox).where(Outbox.last_error == outbox.UNKNOWN)
            )
        ).one()[0]
    if unknown:
        counts["dead (outcome unknown)"] = unknown
    return counts


class CpuMeter:
    """The serving process's CPU seconds per delivery, from its first delivery on."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, float]] = []  # (deliveries, CPU seconds) per process
        self._first: tuple[int, float] | None = None
        self._last: tuple[int, float] | None = None

    def sample(self, ps, delivered: int) -> None:
        import psutil

        try:
            times = ps.cpu_times()
        except psutil.Error:
            return
        cpu = times.user + times.system
        if self._first is None:
            if delivered > 0:
                self._first = (delivered, cpu)
            return
        if delivered > (self._last or self._first)[0]:
            self._last = (delivered, cpu)

    def end_process(self) -> None:
        if self._first is not None and self._last is not None:
            self.spans.append((self._last[0] - self._first[0], self._last[1] - self._first[1]))
        self._first = self._last = None

    def per_message_ms(self) -> float:
        sent = sum(n for n, _ in self.spans)
        return sum(c for _, c in self.spans) / sent * 1000 if sent else float("nan")


async def run_scenario(url: str, messages: int, kill: bool, library: str) -> dict:
    import psutil

    label = "kill -9 at half way, restart" if kill else "no crash"
    print(f"\n== {messages} reminders, {label}, library {library} ==")
    print(f"load average at the start: {load()}")
    t0 = time.perf_counter()
    expected = await queue(url, messages)
    chats = len({chat for chat, _ in expected})
    print(
        f"queued {sum(expected.values())} reminder messages to {chats} chats "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    workdir = Path(tempfile.mkdtemp(prefix="sipas-outbound-"))
    log = workdir / "serve.log"
    peaks: list[tuple[int, int, int]] = []  # (pid, VmHWM, max psutil sample)
    # One engine for the whole watch: the fake Bot API shares this event loop, and
    # building engines over and over would stall it and skew its arrival times.
    db = Database(url)
    async with FakeTelegram(flood_limit=True) as tg:
        start = time.monotonic()
        proc = start_server(url, tg.url, workdir, log, library)
        ps, sampled, killed_at = psutil.Process(proc.pid), 0, None
        cpu = CpuMeter()
        total = sum(expected.values())
        deadline = start + total / ALLOWED * 2 + 180
        last_check = 0.0
        while True:
            await asyncio.sleep(0.2)
            with contextlib.suppress(psutil.Error):
                sampled = max(sampled, ps.memory_info().rss)
            if proc.poll() is not None:
                raise SystemExit(f"the server exited ({proc.returncode}); see {log}")
            # Kept light: the fake shares this event loop, and a busy loop here would
            # delay its arrival times and make it see bursts that were not sent.
            delivered = sum(map(len, tg.chats.values()))
            cpu.sample(ps, delivered)
            if kill and killed_at is None and delivered >= total // 2:
                peaks.append((proc.pid, vm_hwm(proc.pid), sampled))
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                cpu.end_process()
                killed_at = delivered
                print(f"SIGKILL after {delivered} deliveries, at {time.monotonic() - start:.1f} s")
                proc = start_server(url, tg.url, workdir, log, library)
                ps, sampled = psutil.Process(proc.pid), 0
            if time.monotonic() - last_check > 3.0:
                last_check = time.monotonic()
                counts = await open_rows(db)
                if not any(counts.get(s) for s in outbox.OPEN):
                    break
            if time.monotonic() > deadline:
                print("TIMEOUT: rows still open:", await open_rows(db))
                break
        wall = time.monotonic() - start
        cpu.sample(ps, sum(map(len, tg.chats.values())))
        cpu.end_process()
        peaks.append((proc.pid, vm_hwm(proc.pid), sampled))
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        figures = report(
            tg, expected, wall, peaks, await open_rows(db), await unknown_rows(db), cpu
        )
        figures["load"] = load()
        print(f"load average at the end: {figures['load']}")
    await db.dispose()
    return {"library": library, "kill": kill, **figures}


def load() -> str:
    """The load average (1, 5, 15 minutes), as uptime prints it."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def unknown_rows(db: Database) -> set[tuple[int, str]]:
    """(chat, text) of the rows settled as "outcome unknown" (in flight at a kill)."""
    async with db.read() as session:
        rows = (
            await session.exec(
                select(Outbox.recipient, Outbox.payload).where(Outbox.last_error == outbox.UNKNOWN)
            )
        ).all()
    return {
        (int(recipient), call["params"].get("text"))
        for recipient, payload in rows
        for call in render(recipient, payload)
    }


def report(tg: FakeTelegram, expected: Counter, wall, peaks, counts, unknown, cpu) -> dict:
    sends = tg.calls_of("sendMessage", ok=True)
    delivered = Counter((int(c.params["chat_id"]), c.params.get("text")) for c in sends)
    duplicates = sum(max(0, n - expected.get(k, 0)) for k, n in delivered.items())
    missing = {k: n - delivered.get(k, 0) for k, n in expected.items() if n > delivered.get(k, 0)}
    # A row in flight when the sender was killed is not sent again (at most once): it
    # is dead with "outcome unknown". Any other missing message is a silent loss.
    in_flight_lost = sum(n for k, n in missing.items() if k in unknown)
    silent = sum(n for k, n in missing.items() if k not in unknown)
    times = sorted(c.at for c in sends)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    rate = (len(times) - 1) / span if len(times) > 1 else 0.0
    # The best one-second window (what the server's limit is about) and the gaps.
    gaps = [b - a for a, b in itertools.pairwise(times)]
    print(f"wall time (server start to last row settled): {wall:.1f} s")
    print(f"first to last accepted send: {span:.1f} s for {len(times)} messages")
    print(f"achieved rate: {rate:.2f}/s = {rate / ALLOWED:.1%} of the allowed {ALLOWED:.0f}/s")
    if gaps:
        print(
            f"gaps between sends: median {statistics.median(gaps) * 1000:.1f} ms, "
            f"max {max(gaps) * 1000:.0f} ms"
        )
        # Where the time goes: the grid itself (1/30 s plus the window guard), and
        # stalls (429 pauses, a restart, claim round trips) beyond it.
        stalls = [g for g in gaps if g > 0.1]
        print(
            f"time lost in gaps over 100 ms: {sum(stalls):.1f} s in {len(stalls)} gaps; "
            f"ideal time at {ALLOWED:.0f}/s: {(len(times) - 1) / ALLOWED:.1f} s"
        )
    if len(times) > 30:
        tightest = min(b - a for a, b in zip(times, times[30:], strict=False))
        print(f"tightest window of 31 accepted sends: {tightest * 1000:.0f} ms (limit: >1000)")
    print(f"429 answers: {tg.flood_429s} ({tg.flood_429s_chat} of them for the per-chat limit)")
    print(f"duplicates: {duplicates}   losses: {silent + in_flight_lost}")
    if unknown:
        print(
            f"  rows in flight at the kill, settled as 'outcome unknown' (not resent): "
            f"{len(unknown)}, of which the fake had received {len(unknown) - in_flight_lost}"
        )
    print(f"  silent losses (not delivered, not accounted for): {silent}")
    cut = tg.requests_begun - len(tg.calls)
    print(f"requests whose body never fully arrived at the fake (cut by the kill): {cut}")
    print(f"outbox rows by status: {dict(sorted(counts.items()))}")
    print(
        f"serving process CPU per Bot API call, first to last delivery: "
        f"{cpu.per_message_ms():.2f} ms (user + system)"
    )
    for pid, hwm, sampled in peaks:
        print(
            f"serving process {pid}: peak RSS {hwm / 2**20:.0f} MiB (VmHWM), "
            f"{sampled / 2**20:.0f} MiB (max of psutil samples every 0.2 s)"
        )
    return {
        "rate": rate / ALLOWED,
        "duplicates": duplicates,
        "losses": silent + in_flight_lost,
        "429s": tg.flood_429s,
        "cpu_ms": cpu.per_message_ms(),
        "rss_mib": max(h for _, h, _ in peaks) / 2**20,
    }


async def idle_cpu(url: str, seconds: float, library: str) -> None:
    """The serving process's CPU per second while it has nothing to send."""
    import psutil

    await queue(url, 0)
    workdir = Path(tempfile.mkdtemp(prefix="sipas-outbound-"))
    async with FakeTelegram() as tg:
        proc = start_server(url, tg.url, workdir, workdir / "serve.log", library)
        try:
            ps = psutil.Process(proc.pid)
            await asyncio.sleep(20)
            before, began = ps.cpu_times(), time.monotonic()
            await asyncio.sleep(seconds)
            after, took = ps.cpu_times(), time.monotonic() - began
        finally:
            proc.terminate()
            proc.wait(15)
    cpu = (after.user + after.system) - (before.user + before.system)
    print(
        f"idle serving process ({library}): {cpu / took * 1000:.1f} ms CPU per second "
        f"over {took:.0f} s; load average {load()}"
    )


# --- the claim query alone -----------------------------------------------------------


async def claim_only(url: str, sent_rows: int = 100_000, pending: int = 3_000) -> None:
    settings = Settings(
        database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key="bench", _env_file=None
    )
    app = App(settings)
    try:
        await upgrade(app.db)
        now = datetime.now(UTC)
        rows = [
            {
                "channel": "telegram",
                "recipient": str(CHAT_BASE + i % 3400),
                "payload": {"text": f"tin {i}"},
                "status": "sent" if i < sent_rows else "pending",
                "attempts": 1 if i < sent_rows else 0,
                "not_before": now - timedelta(hours=1),
                "created_at": now - timedelta(hours=1),
                "sent_at": now if i < sent_rows else None,
            }
            for i in range(sent_rows + pending)
        ]
        async with app.db.write() as session:
            for i in range(0, len(rows), 5000):
                await session.exec(Outbox.__table__.insert(), params=rows[i : i + 5000])
        async with app.db.write() as session:
            n = (await session.exec(select(func.count()).select_from(Outbox))).one()[0]
        if app.db.is_postgres:
            async with app.db.engine.connect() as conn:
                await conn.execute(text("ANALYZE outbox"))
                await conn.commit()
        print(f"\n== claim query, {n} rows ({sent_rows} sent, {pending} pending) ==")

        async def one_claim() -> float:
            async with app.db.engine.connect() as conn:
                session = AsyncSession(bind=conn)
                if app.db.is_sqlite:
                    await conn.exec_driver_sql("SELECT 1")
                begin = time.perf_counter()
                items = await outbox.claim(
                    session, "telegram", now, limit=50, lease=timedelta(seconds=60)
                )
                took = time.perf_counter() - begin
                assert len(items) == 50, len(items)
                await conn.rollback()  # leave the rows pending for the next run
                return took

        async def measure(label: str) -> None:
            await one_claim()  # warm the cache
            times = [await one_claim() for _ in range(20)]
            print(
                f"{label:<44} median {statistics.median(times) * 1000:8.2f} ms, "
                f"max {max(times) * 1000:8.2f} ms (20 claims of 50)"
            )

        await measure("with partial indexes (0008_outbox)")
        async with app.db.engine.connect() as conn:
            await conn.execute(text("DROP INDEX ix_outbox_open_recipient"))
            await conn.execute(text("DROP INDEX ix_outbox_open"))
            await conn.commit()
        await measure("without them (as at 0002_reminders)")
    finally:
        await app.close()


# --- main ----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(kind: str, pg_url: str):
    if kind == "postgres":
        with postgres_database(pg_url) as url:
            yield url
    else:
        yield f"sqlite:///{tempfile.mkdtemp(prefix='sipas-outbound-')}/bench.db"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("SIPAS_TEST_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--scenario", choices=["both", "plain", "kill"], default="both")
    parser.add_argument("--library", choices=["both", "ptb", "aiogram"], default="both")
    parser.add_argument("--claim-only", action="store_true")
    parser.add_argument("--idle", type=float, metavar="SECONDS")
    args = parser.parse_args()
    print(machine())
    print(f"database: {args.database}; load average {load()}")
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if args.claim_only:
        for database in databases:
            with fresh_database(database, args.pg_url) as url:
                await claim_only(url)
        return
    scenarios = {"both": [False, True], "plain": [False], "kill": [True]}[args.scenario]
    libraries = ["ptb", "aiogram"] if args.library == "both" else [args.library]
    if args.idle:
        for database in databases:
            for library in libraries:
                with fresh_database(database, args.pg_url) as url:
                    print(f"-- {database} --")
                    await idle_cpu(url, args.idle, library)
        return
    rows = []
    for database in databases:
        for library in libraries:
            for kill in scenarios:
                with fresh_database(database, args.pg_url) as url:
                    print(f"\n-- {database} --")
                    result = await run_scenario(url, args.messages, kill, library)
                    rows.append({"database": database, **result})
    print(f"\n== summary ({args.messages} reminders) ==")
    for r in rows:
        label = "kill -9, restart" if r["kill"] else "plain"
        print(
            f"{r['database']:<8} {r['library']:<8} {label:<17} rate {r['rate']:.1%} of 30/s  "
            f"duplicates {r['duplicates']}  losses {r['losses']}  429s {r['429s']}  "
            f"CPU {r['cpu_ms']:.2f} ms per sent message  peak RSS {r['rss_mib']:.0f} MiB  "
            f"load {r['load']}"
        )


if __name__ == "__main__":
    asyncio.run(main())
