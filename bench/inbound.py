"""Inbound: synthetic citizens completing surveys through the real webhooks.

    .venv/bin/python bench/inbound.py [--database sqlite|postgres|both]
        [--channel telegram|zalo|both] [--library both|ptb|aiogram] [--citizens 200]
        [--concurrency 32] [--pg-url URL] [--no-baseline] [--profile FILE]

For each database: a fresh, migrated database with one ward and a survey code per
citizen; ``python -m bot serve`` as a subprocess (the production command: Telegram in
webhook mode with its secret, pointed at the fake Bot API of tests/fake_telegram.py,
which this process runs, so start-up calls and the outbox sender work; Zalo webhooks
verified with the OA secret, Zalo sending off); then a SEPARATE load process (aiohttp,
keep-alive, ``--concurrency`` citizens at a time) posts each citizen's 9 updates in
order over loopback (tests/citizens.py: ``/start CODE`` and 8 button presses), each
update after the previous one's answer. Printed per database and channel: updates/s,
latency p50/p99/max, failures, the serving process's peak RSS (sampled every 20 ms,
children included), and a check that every survey was stored completed.
``--library``: the server's Telegram library (``SIPAS_TELEGRAM_LIBRARY``); with ``both``
(the default) each database is measured with python-telegram-bot (both channels), then
on a fresh database with aiogram (Telegram only), in this one run.

Baseline, in the same run with the same Telegram payloads and concurrency: a bare
aiogram 3 ``Dispatcher`` behind FastAPI/uvicorn (the same HTTP stack) whose handlers only
echo with ``message.answer`` against the same fake Bot API. The ratio is ours ÷ bare.

``--profile FILE`` runs the server under cProfile (slower; it wrote no file at stop 27).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from pathlib import Path

THIS = Path(__file__).resolve()
ROOT = THIS.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.processes import free_port, start_process, stop_process, wait_healthy  # noqa: E402

SECRET_KEY = "bench-inbound-secret-key"
WEBHOOK_SECRET = "bench_webhook_Secret"
ZALO_APP_ID = "4411223344556677889"
ZALO_OA_SECRET = "bench-oa-secret"
STARTUP = 120  # seconds the server may take to start on a busy machine


# --- the load process ----------------------------------------------------------------


def _load_main(conn, base: str, citizens: list, concurrency: int) -> None:
    """Entry point of the load process: post every citizen's requests, send back timings."""
    conn.send(asyncio.run(_load(base, citizens, concurrency)))
    conn.close()


async def _load(base: str, citizens: list, concurrency: int) -> dict:
    import aiohttp

    latencies: list[float] = []
    failures: Counter = Counter()
    queue = deque(citizens)
    connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=120)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as http:

        async def citizen_after_citizen() -> None:
            while queue:
                for step, (path, body, headers) in enumerate(queue.popleft()):
                    start = time.perf_counter()
                    try:
                        async with http.post(path, data=body, headers=headers) as r:
                            await r.read()
                            status = r.status
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        status = type(exc).__name__
                    latencies.append((step, time.perf_counter() - start))
                    if status != 200:
                        failures[str(status)] += 1
                        break  # this citizen cannot go on

        start = time.perf_counter()
        await asyncio.gather(*(citizen_after_citizen() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return {"latencies": latencies, "failures": dict(failures), "wall": wall}


def run_load(base: str, citizens: list, concurrency: int, pid: int) -> tuple[dict, float]:
    """The load in its own process; returns its result and the server's peak RSS (bytes)."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_load_main, args=(child, base, citizens, concurrency))
    sampler = RssSampler(pid)
    cpu, db_cpu, machine = sampler.cpu(), database_cpu(), machine_cpu()
    sampler.start()
    proc.start()
    result = parent.recv()
    proc.join()
    sampler.stop()
    result["server_cpu"] = sampler.cpu() - cpu  # seconds, the server's whole process
    result["database_cpu"] = database_cpu() - db_cpu
    result["machine_cpu"] = machine_cpu() - machine
    return result, sampler.peak


def database_cpu() -> float:
    """CPU seconds used so far by this machine's PostgreSQL processes (0 when it runs
    elsewhere): the pooled connections' backends live through a load, so the difference
    over it is what the database spent on it. On SQLite the database is the server."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] == "postgres" and proc.info["cpu_times"] is not None:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return total


def machine_cpu() -> float:
    """CPU seconds this machine has spent so far, every process on every core (all but
    idle, I/O wait and steal): over a load, what the whole set-up (server, database, load, fake Bot
    API) spent on it."""
    import psutil

    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0) + getattr(times, "steal", 0.0)
    return sum(times) - idle - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


class RssSampler(threading.Thread):
    """Peak resident memory of a process and its children, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self._done = threading.Event()

    def cpu(self) -> float:
        """CPU seconds (user + system) the process has used so far."""
        times = self.process.cpu_times()
        return times.user + times.system

    def sample(self) -> None:
        import psutil

        try:
            rss = self.process.memory_info().rss
            for child in self.process.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    rss += child.memory_info().rss
        except psutil.Error:
            return
        self.peak = max(self.peak, rss)

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(0.02)

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()


# --- the bare aiogram baseline ---------------------------------------------------------


def _echo_main(port: int, api_base: str, token: str) -> None:
    """A bare aiogram Dispatcher behind FastAPI: every update is echoed, nothing stored."""
    import uvicorn
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import CallbackQuery, Message, Update
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base)))
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    @dp.callback_query()
    async def echo_press(query: CallbackQuery) -> None:
        await bot.send_message(query.from_user.id, query.data or "?")

    async def webhook(request: Request) -> JSONResponse:
        update = Update.model_validate(await request.json(), context={"bot": bot})
        await dp.feed_update(bot, update)
        return JSONResponse({"ok": True})

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    api = FastAPI()  # plain routes: no parameter parsing, as cheap as FastAPI gets
    api.router.add_route("/webhooks/telegram", webhook, methods=["POST"])
    api.router.add_route("/healthz", healthz, methods=["GET"])

    uvicorn.run(api, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- the serving process -----------------------------------------------------------------


# --- one database ----------------------------------------------------------------------


def summary(name: str, result: dict, peak_rss: float | None) -> dict:
    lat = sorted(t for _step, t in result["latencies"])
    n = len(lat)
    row = {
        "name": name,
        "updates": n,
        "wall": result["wall"],
        "rate": n / result["wall"] if result["wall"] else 0.0,
        "p50": lat[n // 2] * 1000 if n else 0.0,
        "p99": lat[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
        "max": lat[-1] * 1000 if n else 0.0,
        "mean": statistics.fmean(lat) * 1000 if n else 0.0,
        "failures": result["failures"],
        "rss": peak_rss,
        "cpu": result.get("server_cpu", 0.0) / n * 1000 if n else 0.0,
        "db_cpu": result.get("database_cpu", 0.0) / n * 1000 if n else 0.0,
        "machine_cpu": result.get("machine_cpu", 0.0) / n * 1000 if n else 0.0,
    }
    rss = f"{peak_rss / 2**20:.0f} MB" if peak_rss else "-"
    print(
        f"  {name:<28} {n:>6} updates in {row['wall']:6.2f} s = {row['rate']:7.1f} updates/s"
        f"  p50 {row['p50']:6.1f} ms  p99 {row['p99']:6.1f} ms  max {row['max']:6.1f} ms"
        f"  peak RSS {rss}  failures {result['failures'] or 0}"
        f"  server CPU {row['cpu']:.2f} ms per update"
        + (f", PostgreSQL CPU {row['db_cpu']:.2f} ms" if row["db_cpu"] >= 0.005 else "")
        + f", machine {row['machine_cpu']:.2f} ms",
        flush=True,
    )
    steps: dict[int, list[float]] = {}
    for step, t in result["latencies"]:
        steps.setdefault(step, []).append(t * 1000)
    parts = []
    for step, times in sorted(steps.items()):
        times.sort()
        label = "start" if step == 0 else f"#{step}"
        parts.append(f"{label} {times[len(times) // 2]:.0f}/{times[int(len(times) * 0.99)]:.0f}")
    print(f"    p50/p99 ms per step (start, presses #1-#8; #8 completes): {'  '.join(parts)}")
    return row


def as_wire(citizens) -> list:
    return [[(r.path, r.body, r.headers) for r in c.requests] for c in citizens]


async def prepare(
    url: str, data_dir: Path, n: int, channels: list[str], wards: int = 1, warm: int = 5
):
    """Migrate, ``wards`` wards, codes; the citizens per channel (plus ``warm`` to warm
    up), spread over the wards in turn."""
    import itertools

    from bot.core.app import App
    from bot.core.settings import Settings
    from storage import units
    from storage.migrate import upgrade
    from tests.builders import make_org
    from tests.citizens import issue_codes, telegram_citizen, zalo_citizen
    from tests.fake_zalo import ZaloEvents

    settings = Settings(database_url=url, data_dir=data_dir, secret_key=SECRET_KEY, _env_file=None)
    app = App(settings)
    try:
        await upgrade(app.db)
        org = await make_org(app)
        places = [org.ward]
        async with app.db.write() as session:
            for w in range(1, wards):
                ward = await units.create_unit(
                    session, f"P.B{w}", f"Phường {w}", "ward", org.province
                )
                places.append(ward)
        update_ids = itertools.count(1)
        signer = ZaloEvents(ZALO_APP_ID, ZALO_OA_SECRET)
        out = {}
        for c, channel in enumerate(channels):
            codes = []
            for w, ward in enumerate(places):
                share = (n + warm) // len(places) + (1 if w < (n + warm) % len(places) else 0)
                codes += await issue_codes(app, ward, org.procedure, share)
            codes = [codes[i] for i in _interleave(len(codes), len(places))]
            first = 1_000_000 * (c + 1)
            if channel == "telegram":
                people = [
                    telegram_citizen(first + i, code, WEBHOOK_SECRET, update_ids)
                    for i, code in enumerate(codes)
                ]
            else:
                people = [
                    zalo_citizen(str(first + i), code, signer, app.keys)
                    for i, code in enumerate(codes)
                ]
            out[channel] = (people[:warm], people[warm:])
        return out
    finally:
        await app.close()


def warm_up(args) -> int:
    """Citizens that warm the server up before the measured load, all at once: as many as
    the load runs at a time (at least 5), so every pooled connection the load will use has
    prepared its statements, as on a server that has been running for a while."""
    return max(5, args.concurrency)


def _interleave(n: int, groups: int) -> list[int]:
    """Indices of n items stored group after group, reordered to alternate the groups."""
    sizes = [n // groups + (1 if g < n % groups else 0) for g in range(groups)]
    starts = [sum(sizes[:g]) for g in range(groups)]
    order = []
    for i in range(max(sizes)):
        order += [starts[g] + i for g in range(groups) if i < sizes[g]]
    return order


async def completed(url: str, data_dir: Path) -> Counter:
    from sqlalchemy import func, select

    from bot.core.app import App
    from bot.core.settings import Settings
    from storage.models import Response

    app = App(Settings(database_url=url, data_dir=data_dir, secret_key=SECRET_KEY, _env_file=None))
    try:
        async with app.db.read() as session:
            stmt = select(Response.channel, Response.status, func.count()).group_by(
                Response.channel, Response.status
            )
            return Counter({(c, s): n for c, s, n in (await session.exec(stmt)).all()})
    finally:
        await app.close()


async def bench_database(
    kind: str, url: str, args, tg, workdir: Path, library: str, channels: list[str]
) -> list[dict]:
    data_dir = workdir / f"data-{kind}-{library}"
    citizens = await prepare(url, data_dir, args.citizens, channels, args.wards, warm_up(args))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(
        SIPAS_DATABASE_URL=url,
        SIPAS_DATA_DIR=str(data_dir),
        SIPAS_SECRET_KEY=SECRET_KEY,
        SIPAS_HTTP_PORT=str(port),
        SIPAS_PUBLIC_URL=base,
        SIPAS_TELEGRAM_LIBRARY=library,
        SIPAS_TELEGRAM_TOKEN=tg.token,
        SIPAS_TELEGRAM_API_BASE=tg.url,
        SIPAS_TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SIPAS_ZALO_APP_ID=ZALO_APP_ID,
        SIPAS_ZALO_OA_SECRET=ZALO_OA_SECRET,
        SIPAS_DIRECT_STEPS="false" if args.locked else "true",
    )
    cmd = [sys.executable, "-m", "bot", "serve"]
    if args.profile:
        cmd = [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            f"{args.profile}.{kind}.{library}",
            "-m",
            "bot",
            "serve",
        ]
    log = workdir / f"serve-{kind}-{library}.log"
    proc = await start_process(cmd, env, log)
    rows = []
    try:
        await wait_healthy(base, proc)
        async with asyncio.timeout(STARTUP):
            await tg.wait_for(
                lambda: tg.webhook and tg.webhook["url"] == f"{base}/webhooks/telegram",
                within=STARTUP,
            )
        loop = asyncio.get_running_loop()
        for channel in channels:
            warm, people = citizens[channel]
            await loop.run_in_executor(None, run_load, base, as_wire(warm), len(warm), proc.pid)
            spy = None
            if args.py_spy:
                out = Path(f"{args.py_spy}.{kind}.{channel}.{library}.txt")  # absolute
                spy = await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(proc.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--output",
                    str(out),
                    "--nonblocking",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                await asyncio.sleep(1)  # attached
            result, peak = await loop.run_in_executor(
                None, run_load, base, as_wire(people), args.concurrency, proc.pid
            )
            name = f"{kind} · {channel}" + (f" · {library}" if channel == "telegram" else "")
            rows.append(summary(name, result, peak))
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                await spy.wait()
                print_spy(out, result["latencies"])
        stored = await completed(url, data_dir)
        done = sum(n for (_, status), n in stored.items() if status == "completed")
        expected = (args.citizens + warm_up(args)) * len(channels)
        print(f"  {kind}: {done}/{expected} surveys stored as completed {dict(stored)}", flush=True)
    except BaseException:
        print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        await stop_process(proc)
        tg.webhook = None
    return rows


async def bench_baseline(args, tg, workdir: Path) -> dict:
    import itertools

    from tests.citizens import telegram_citizen

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ids = itertools.count(1)
    people = [
        telegram_citizen(5_000_000 + i, f"CODE{i:08d}", WEBHOOK_SECRET, ids)
        for i in range(args.citizens + warm_up(args))
    ]
    cmd = [sys.executable, str(THIS), "--echo-server", str(port), tg.url]
    proc = await start_process(cmd, dict(os.environ), workdir / "echo.log")
    try:
        await wait_healthy(base, proc)
        loop = asyncio.get_running_loop()
        warm = warm_up(args)
        await loop.run_in_executor(None, run_load, base, as_wire(people[:warm]), warm, proc.pid)
        result, peak = await loop.run_in_executor(
            None, run_load, base, as_wire(people[warm:]), args.concurrency, proc.pid
        )
        return summary("bare aiogram echo · telegram", result, peak)
    finally:
        await stop_process(proc)


# --- where the time of one update goes (in process) ---------------------------------------

_GROUPS = (  # first match wins: where a function's own time is spent
    ("sqlalchemy", "SQLAlchemy (ORM, core, compiling, result rows)"),
    ("sqlmodel", "SQLAlchemy (ORM, core, compiling, result rows)"),
    ("asyncpg", "database driver"),
    ("aiosqlite", "database driver"),
    ("sqlite3", "database driver"),
    ("psycopg", "database driver"),
    ("pydantic", "pydantic (aiogram's Update, settings)"),
    ("aiogram", "aiogram"),
    ("starlette", "FastAPI/Starlette"),
    ("fastapi", "FastAPI/Starlette"),
    ("httpx", "test client (httpx ASGI transport)"),
    ("asyncio", "asyncio"),
    ("json", "json"),
    ("babel", "gettext/Babel"),
    ("gettext", "gettext/Babel"),
    ("/flows/", "ours: flows"),
    ("/storage/", "ours: storage"),
    ("/bot/", "ours: bot"),
)


async def profile_inprocess(url: str, n: int, workdir: Path, dump: str | None = None) -> None:
    """Updates through ``create_app`` in this process (no HTTP server, no sockets): SQL
    statements per update, and a cProfile of the updates summarised by package."""
    import cProfile
    import pstats

    import httpx
    from sqlalchemy import event

    from bot.core.app import App
    from bot.core.settings import Settings
    from bot.server import create_app

    data_dir = workdir / "data-profile"
    citizens = (await prepare(url, data_dir, n, ["telegram"]))["telegram"]
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key=SECRET_KEY,
        public_url="http://bench",
        telegram_token=__import__("tests.fake_telegram").fake_telegram.TOKEN,
        telegram_webhook_secret=WEBHOOK_SECRET,
        _env_file=None,
    )
    app = App(settings)
    statements: list[str] = []
    for each in app.db.engines:  # on SQLite, a step runs on an engine of its own
        event.listen(
            each.sync_engine,
            "before_cursor_execute",
            lambda conn, cursor, stmt, *a: statements.append(stmt),
        )
    api = create_app(app, run_background=False)
    transport = httpx.ASGITransport(app=api)
    per_step: list[list[int]] = [[] for _ in range(9)]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

            async def post(r) -> None:
                response = await http.post(r.path, content=r.body, headers=r.headers)
                assert response.status_code == 200, response.text

            warm, measured = citizens
            for citizen in warm:
                for r in citizen.requests:
                    await post(r)
            # Unprofiled first: wall and CPU time (this process, all threads) per update.
            half = len(measured) // 2
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for citizen in measured[:half]:
                for r in citizen.requests:
                    await post(r)
            plain = half * len(measured[0].requests)
            plain_wall = (time.perf_counter() - wall0) / plain * 1000
            plain_cpu = (time.process_time() - cpu0) / plain * 1000
            first_press = len(statements)
            await post(measured[half].requests[0])
            await post(measured[half].requests[1])
            press_sql = statements[first_press:]
            citizens = (warm, measured[half + 1 :])
            profiler = cProfile.Profile()
            start = time.perf_counter()
            profiler.enable()
            for citizen in citizens[1]:
                for step, r in enumerate(citizen.requests):
                    before = len(statements)
                    await post(r)
                    per_step[step].append(len(statements) - before)
            profiler.disable()
            wall = time.perf_counter() - start
            if dump:
                profiler.dump_stats(f"{dump}.{url.split(':', 1)[0].split('+')[0]}")
    finally:
        await app.close()
    updates = sum(len(s) for s in per_step)
    kind = url.split(":", 1)[0]
    print(
        f"profile ({kind}, in process, one update at a time): {plain} updates unprofiled: "
        f"{plain_wall:.2f} ms wall, {plain_cpu:.2f} ms CPU per update; {updates} updates "
        f"under cProfile: {wall / updates * 1000:.2f} ms per update"
    )
    print("  the SQL of /start and of the first press:")
    for stmt in press_sql:
        print("    " + " ".join(stmt.split())[:150])
    labels = ["/start CODE", *[f"press {p}" for p in __import__("tests.citizens").citizens.PRESSES]]
    print(
        "  SQL statements per update: "
        + ", ".join(
            f"{label} {statistics.fmean(c):.0f}" for label, c in zip(labels, per_step, strict=True)
        )
        + f"; mean {sum(map(sum, per_step)) / updates:.1f}"
    )
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())  # own time of every function
    calls = sum(v[1] for v in stats.stats.values())
    print(
        f"  Python function calls per update (a steadier measure than time): {calls / updates:.0f}"
    )
    groups: Counter = Counter()
    for (path, _line, _name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        label = next((g for key, g in _GROUPS if key in path), "other (builtins, C calls)")
        groups[label] += tt
    print("  own time by package (share of the profiled time):")
    for label, t in groups.most_common():
        print(f"    {t / total:6.1%}  {label}  ({t / updates * 1000:.2f} ms per update)")
    print("  top functions by own time:")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    for (path, line, name), (_cc, nc, tt, _ct, _callers) in rows:
        short = "/".join(path.split("/")[-2:])
        print(f"    {tt / total:6.1%}  {nc / updates:7.1f} calls/update  {short}:{line} {name}")


SPY_STEPS = (  # (label, frame text that marks it); inclusive share of the samples
    ("HTTP server: uvicorn protocol, ASGI, Starlette/FastAPI", "uvicorn"),
    ("  Telegram route (everything it calls)", "telegram_webhook (bot/http/telegram_webhook.py"),
    ("  Zalo route (everything it calls)", "webhook (bot/http/zalo_webhook.py"),
    ("    Zalo signature check", "verify (bot/channels/zalo/adapter.py"),
    ("    Telegram update parsed (ours)", "to_incoming (bot/channels/telegram/inbound.py"),
    ("    engine.handle: one transaction", "_handle_once (bot/core/engine.py"),
    ("      dedupe insert", "record_event (storage/inbound.py"),
    ("      conversation upsert + lock", "lock (storage/conversations.py"),
    ("      person lookup", "person_for (storage/people.py"),
    ("      flow step (pure)", "step (flows/router.py"),
    ("      effects (answers, responses, rollups, alerts)", "apply_all (bot/core/effects.py"),
    ("      conversation save", "save (storage/conversations.py"),
    ("      outbox insert", "enqueue (storage/outbox.py"),
    ("      begin/commit/rollback/close", "write (storage/db.py"),
    ("outbox sender (background)", "run_forever (bot/core/outbox_sender.py"),
    ("aiosqlite worker thread (SQLite itself)", "aiosqlite/core.py"),
)
SPY_SELF = (  # by the innermost frame: where the CPU actually is
    ("sqlalchemy/", "SQLAlchemy"),
    ("sqlmodel/", "SQLAlchemy"),
    ("aiosqlite/", "aiosqlite + sqlite3"),
    ("asyncpg/", "asyncpg"),
    ("pydantic", "pydantic"),
    ("aiogram/", "aiogram"),
    ("uvicorn/", "uvicorn + httptools"),
    ("httptools", "uvicorn + httptools"),
    ("h11", "uvicorn + httptools"),
    ("starlette/", "Starlette/FastAPI"),
    ("fastapi/", "Starlette/FastAPI"),
    ("asyncio/", "asyncio/uvloop"),
    ("uvloop", "asyncio/uvloop"),
    ("json/", "json"),
    ("greenlet", "greenlet"),
    ("flows/", "ours: flows"),
    ("storage/", "ours: storage"),
    ("bot/", "ours: bot"),
    ("babel/", "Babel"),
    ("gettext", "Babel"),
)


def print_spy(path: Path, latencies: list[float]) -> None:
    """Where the serving process's samples fell (py-spy raw stacks, inclusive)."""
    counts: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        for label, mark in SPY_STEPS:
            if mark in stack:
                counts[label] += int(n)
        leaf = stack.rsplit(";", 1)[-1]
        mine = next((label for key, label in SPY_SELF if key in leaf), "other")
        counts["self: " + mine] += int(n)
    if not total:
        print("  (py-spy recorded nothing)")
        return
    print(f"  py-spy on the serving process ({total} samples, all threads; {path.name}):")
    for label, _mark in SPY_STEPS:
        if counts[label]:
            print(f"    {counts[label] / total:6.1%}  {label}")
    print("  by innermost frame (own time):")
    own = sorted(((n, k) for k, n in counts.items() if k.startswith("self: ")), reverse=True)
    print("    " + ", ".join(f"{k[6:]} {n / total:.1%}" for n, k in own))


async def main(args) -> None:
    from common import DEFAULT_PG, machine, postgres_database

    from tests.fake_telegram import FakeTelegram

    print(f"machine: {machine()}")
    print(
        f"load: {args.citizens} citizens per channel x 9 updates, {args.concurrency} at a time,"
        f" {args.wards} ward(s),"
        f" separate load process (aiohttp keep-alive), loopback; loadavg before "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="sipas-inbound-") as tmp:
        workdir = Path(tmp)
        if args.profile_inprocess:
            if args.database in ("sqlite", "both"):
                await profile_inprocess(
                    f"sqlite:///{workdir / 'p.db'}", args.citizens, workdir, args.profile_dump
                )
            if args.database in ("postgres", "both"):
                with postgres_database(args.pg_url or DEFAULT_PG) as url:
                    await profile_inprocess(url, args.citizens, workdir, args.profile_dump)
            return
        libraries = ["ptb", "aiogram"] if args.library == "both" else [args.library]
        runs = []  # (library, channels): the other channel once, with the first library
        for n, library in enumerate(libraries):
            channels = ["telegram", "zalo"] if args.channel == "both" else [args.channel]
            if n > 0:
                channels = [c for c in channels if c == "telegram"]
            if channels:
                runs.append((library, channels))
        async with FakeTelegram() as tg:
            # This machine's speed drifts within a run: the echo runs first and last in
            # each round, every configuration runs once per round (``--repeat``), and
            # each is reported by its best round against the best echo.
            echoes: list[dict] = []
            for _round in range(args.repeat):
                if not args.no_baseline:
                    echoes.append(await bench_baseline(args, tg, workdir))
                for library, channels in runs:
                    if args.database in ("sqlite", "both"):
                        url = f"sqlite:///{workdir / f'bench-{library}-{_round}.db'}"
                        rows += await bench_database(
                            "sqlite", url, args, tg, workdir, library, channels
                        )
                    if args.database in ("postgres", "both"):
                        with postgres_database(args.pg_url or DEFAULT_PG) as url:
                            rows += await bench_database(
                                "postgres", url, args, tg, workdir, library, channels
                            )
                if not args.no_baseline:
                    echoes.append(await bench_baseline(args, tg, workdir))
            if echoes:
                print_ratios(rows, echoes)
    print(f"loadavg after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def print_ratios(rows: list[dict], echoes: list[dict]) -> None:
    """Each configuration's best run against the best echo (updates/s), with the CPU
    per update of those two runs; and the ratio of the medians."""
    base = max(echoes, key=lambda e: e["rate"])
    print("  the echo's runs: " + " / ".join(f"{e['rate']:.1f}" for e in echoes) + " updates/s")
    best: dict[str, dict] = {}
    for row in rows:
        if (
            " · telegram" in row["name"]
            and row["rate"] > best.get(row["name"], {"rate": -1})["rate"]
        ):
            best[row["name"]] = row
    for name, row in best.items():
        runs = [r["rate"] for r in rows if r["name"] == name]
        print(
            f"  ratio {name} / bare aiogram echo: {row['rate'] / base['rate']:.2f} "
            f"(best of {' / '.join(f'{r:.1f}' for r in runs)} updates/s against "
            f"{base['rate']:.1f}), p50 {row['p50'] / base['p50']:.1f}x, machine CPU per "
            f"update {row['machine_cpu'] / max(base['machine_cpu'], 1e-9):.2f}x; medians "
            f"{statistics.median(runs) / statistics.median(e['rate'] for e in echoes):.2f}"
        )


def parse(argv: list[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--channel", choices=["telegram", "zalo", "both"], default="both")
    p.add_argument("--library", choices=["both", "ptb", "aiogram"], default="both")
    p.add_argument("--citizens", type=int, default=200, help="per channel (9 updates each)")
    p.add_argument("--concurrency", type=int, default=32, help="citizens at a time")
    p.add_argument(
        "--wards",
        type=int,
        default=1,
        help="spread citizens over this many wards (1: every survey at one ward, the worst "
        "case for the per-unit alert window and the rollup rows)",
    )
    p.add_argument("--pg-url", help="PostgreSQL server to create a throwaway database on")
    p.add_argument("--no-baseline", action="store_true", help="skip the bare aiogram echo")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds (each: the echo, every configuration, the echo); the best of each counts",
    )
    p.add_argument(
        "--locked",
        action="store_true",
        help="every step on the locked path (SIPAS_DIRECT_STEPS=false), for comparison",
    )
    p.add_argument("--profile", help="run the server under cProfile, stats to FILE.<db>")
    p.add_argument("--py-spy", help="sample the server with py-spy during the load: FILE prefix")
    p.add_argument(
        "--profile-inprocess",
        action="store_true",
        help="instead: updates through create_app in this process, SQL counts and cProfile",
    )
    p.add_argument(
        "--profile-dump", help="with --profile-inprocess: the cProfile stats to FILE.<db>"
    )
    args = p.parse_args(argv)
    if args.py_spy:
        args.py_spy = os.path.abspath(args.py_spy)
    return args


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--echo-server":
        _echo_main(
            int(sys.argv[2]), sys.argv[3], __import__("tests.fake_telegram").fake_telegram.TOKEN
        )
    else:
        asyncio.run(main(parse()))
