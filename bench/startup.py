"""Start-up a user feels: ``--help``, a report, ``serve`` until ready, each channel.

Every command is the production one (``python -m bot ...``) in a fresh process on a
demo database; the reference is a bare interpreter (``python -c pass``) measured in the
same run. Printed per command: the median wall time and the median CPU time (user +
system of the process) over ``--repeat`` runs, the ratio to the bare interpreter and the
target of issue 19. ``serve`` is "ready" when ``/healthz`` answers 200 and, for each
channel that is on, the channel has reached its (fake) server: Telegram's webhook is set
(or its first ``getUpdates`` arrived), Zalo's webhook route answers. ``--importtime`` also
prints the ten slowest imports of each command (``python -X importtime``).

    .venv/bin/python bench/startup.py [--repeat 5] [--importtime]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

TARGETS = {"help": 0.5, "report": 1.0, "serve": 3.0}  # seconds, issue 19
SECRET_KEY = "bench-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``cmd`` to its end."""
    cpu = cpu_of_children()
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-400:]}")
    return wall, cpu_of_children() - cpu


def importtime(cmd: list[str], env: dict[str, str], cwd: Path, top: int = 10) -> list[str]:
    """The ``top`` slowest imports of ``cmd`` (cumulative, top-level packages)."""
    done = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]], env=env, cwd=cwd, capture_output=True, text=True
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _self, cumulative, name = line[len("import time:") :].split("|")
        if not name.startswith(" ") or name.startswith("  "):
            continue  # only what the command itself imports, not what those import
        rows.append((int(cumulative), name.strip()))
    rows.sort(reverse=True)
    return [f"{name} {us / 1000:.0f} ms" for us, name in rows[:top]]


async def serve_ready(env: dict[str, str], cwd: Path, port: int, tg, zalo) -> tuple[float, float]:
    """(wall, CPU) seconds from starting ``serve`` to ready; the process is then stopped."""
    import httpx

    cpu = cpu_of_children()
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(timeout=1.0) as http:
            deadline = start + 60
            while True:
                if proc.returncode is not None:
                    err = await proc.stderr.read()
                    raise SystemExit(f"serve ended: {err.decode()[-400:]}")
                if time.perf_counter() > deadline:
                    raise SystemExit("serve not ready within 60 s")
                try:
                    healthy = (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code
                except httpx.HTTPError:
                    healthy = 0
                if healthy == 200 and await channels_ready(http, port, tg, zalo):
                    break
                await asyncio.sleep(0.01)
        wall = time.perf_counter() - start
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 30)
    # The CPU of the whole run (ready, then a clean stop) bounds the start's from above.
    return wall, cpu_of_children() - cpu


async def channels_ready(http, port: int, tg, zalo) -> bool:
    """Telegram: the webhook is set or polling began; Zalo: its webhook route answers
    (an unsigned post is refused, not unknown)."""
    if tg is not None and not (tg.webhook or tg.calls_of("getUpdates")):
        return False
    if zalo is not None:
        answer = await http.post(f"http://127.0.0.1:{port}/webhooks/zalo", content=b"{}")
        return answer.status_code != 404
    return True


def summary(label: str, runs: list[tuple[float, float]], bare: float, target: float | None):
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    verdict = ""
    if target is not None:
        verdict = f"target < {target:.1f} s: {'met' if wall < target else 'NOT met'}"
    print(
        f"  {label:<44} wall {wall:6.3f} s  CPU {cpu:6.3f} s  {wall / bare:5.1f}× bare  {verdict}",
        flush=True,
    )


async def main(args) -> None:
    from common import machine

    from tests.fake_telegram import FakeTelegram
    from tests.fake_zalo import FakeZalo

    print(f"machine: {machine()}")
    print(f"loadavg before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sipas-startup-") as tmp:
        work = Path(tmp)
        # A user's Python writes bytecode caches: measure with them (the set-up runs
        # below write them), even from a shell that turned them off.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SIPAS_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(
            SIPAS_DATABASE_URL=f"sqlite:///{work / 'startup.db'}",
            SIPAS_DATA_DIR=str(work / "data"),
            SIPAS_SECRET_KEY=SECRET_KEY,
        )
        bot = [sys.executable, "-m", "bot"]
        run_once([*bot, "db", "upgrade"], env, work)
        run_once([*bot, "demo", "--responses", "200"], env, work)

        bare_runs = [
            run_once([sys.executable, "-c", "pass"], env, work) for _ in range(args.repeat)
        ]
        bare = statistics.median(r[0] for r in bare_runs)
        summary("python -c pass (reference)", bare_runs, bare, None)
        floor = [run_once([sys.executable, "-c", "import aiogram"], env, work) for _ in range(3)]
        summary("python -c 'import aiogram' (Telegram's floor)", floor, bare, None)
        commands = [
            ("sipas-bot --help", ["--help"], TARGETS["help"]),
            ("sipas-bot report --help", ["report", "satisfaction", "--help"], TARGETS["help"]),
            ("sipas-bot report quota", ["report", "quota"], TARGETS["report"]),
            (
                "sipas-bot report satisfaction --unit HAICHAU",
                ["report", "satisfaction", "--unit", "HAICHAU", "--period", "2023"],
                TARGETS["report"],
            ),
            ("sipas-bot holiday list", ["holiday", "list"], TARGETS["report"]),
        ]
        for label, argv, target in commands:
            runs = [run_once([*bot, *argv], env, work) for _ in range(args.repeat)]
            summary(label, runs, bare, target)
            if args.importtime:
                print("    slowest imports: " + ", ".join(importtime([*bot, *argv], env, work)))

        async with FakeTelegram() as tg, FakeZalo() as zl:
            access, refresh = zl.issue_pair()
            zalo_env = dict(
                SIPAS_ZALO_APP_ID=zl.app_id,
                SIPAS_ZALO_APP_SECRET=zl.app_secret,
                SIPAS_ZALO_OA_SECRET=zl.oa_secret,
                SIPAS_ZALO_API_BASE=zl.api_base,
                SIPAS_ZALO_OAUTH_BASE=zl.oauth_base,
                SIPAS_ZALO_ACCESS_TOKEN=access,
                SIPAS_ZALO_REFRESH_TOKEN=refresh,
            )
            tg_env = dict(SIPAS_TELEGRAM_TOKEN=tg.token, SIPAS_TELEGRAM_API_BASE=tg.url)
            setups = [
                ("serve ready, no channel", {}, False, False),
                ("serve ready, Telegram (polling)", tg_env, True, False),
                ("serve ready, Zalo", zalo_env, False, True),
                ("serve ready, Telegram (webhook) + Zalo", {**tg_env, **zalo_env}, True, True),
            ]
            for label, extra, with_tg, with_zalo in setups:
                runs = []
                for _ in range(args.repeat):
                    port = free_port()
                    run_env = {**env, **extra, "SIPAS_HTTP_PORT": str(port)}
                    if with_tg and with_zalo:
                        run_env.update(
                            SIPAS_PUBLIC_URL=f"http://127.0.0.1:{port}",
                            SIPAS_TELEGRAM_WEBHOOK_SECRET="bench-webhook-secret",
                        )
                    tg.webhook = None
                    tg.calls.clear()
                    zl.calls.clear()
                    runs.append(
                        await serve_ready(
                            run_env,
                            work,
                            port,
                            tg if with_tg else None,
                            zl if with_zalo else None,
                        )
                    )
                summary(label, runs, bare, TARGETS["serve"])
    print(f"loadavg after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--importtime", action="store_true")
    asyncio.run(main(parser.parse_args()))
