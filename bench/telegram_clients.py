"""The two Telegram libraries alone: memory to import, CPU per call, behind the seam.

    .venv/bin/python bench/telegram_clients.py [--calls 2000]

For python-telegram-bot and aiogram, each in fresh interpreters: the peak RSS of
importing the library, and of importing the bot's client module on it (what the serving
process pays for Telegram); then ``TelegramTransport.send`` of a reminder with two
buttons, 8 at a time, ``--calls`` times, against the fake Bot API running in ANOTHER
process (so only the client's CPU is counted): CPU milliseconds per call and calls/s.
A bare interpreter's RSS is printed as the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RSS = """
import importlib, sys
for m in sys.argv[1:]:
    importlib.import_module(m)
with open("/proc/self/status") as fh:  # VmHWM: this process's peak (ru_maxrss survives exec)
    print(next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024)
"""
FAKE = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.fake_telegram import FakeTelegram
async def main():
    async with FakeTelegram() as tg:
        print(tg.url, flush=True)
        await asyncio.sleep(3600)
asyncio.run(main())
"""
MODULES = {
    "ptb": ("telegram", "bot.channels.telegram.ptb"),
    "aiogram": ("aiogram.types", "bot.channels.telegram.aiogram_impl"),
}


def rss(*modules: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    out = subprocess.run(
        [sys.executable, "-c", RSS, *modules], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return float(out.stdout.strip())


async def calls_cpu(library: str, url: str, n: int) -> tuple[float, float]:
    from bot.channels.telegram.seam import load_client
    from bot.channels.telegram.transport import TelegramTransport
    from tests.fake_telegram import TOKEN

    client = load_client(library, TOKEN, url)
    transport = TelegramTransport(client)
    buttons = [{"label": "Đã xong", "payload": "d:1"}, {"label": "Nhắc lại sau", "payload": "d:2"}]
    payload = {"text": "Nhắc việc: báo cáo tháng 12, hạn 15/12/2026", "buttons": buttons}
    try:
        for i in range(50):  # warm up: connections, caches
            await transport.send(str(1000 + i), payload)

        async def worker() -> None:
            for i in range(n // 8):
                outcome = await transport.send(str(1000 + i % 300), payload)
                assert type(outcome).__name__ == "Sent", outcome

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(8)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await client.close()
    return cpu / n * 1000, n / wall


def start_fake() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", FAKE, str(ROOT)], stdout=subprocess.PIPE, text=True
    )


async def main() -> None:
    from bench.common import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    print(machine(), f"· loadavg {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"bare interpreter: {rss():.0f} MiB")
    fake = start_fake()
    try:
        url = fake.stdout.readline().strip()  # type: ignore[union-attr]
        for library, (lib_module, ours) in MODULES.items():
            ms, per_second = await calls_cpu(library, url, args.calls)
            print(
                f"{library:<8} import {lib_module}: {rss(lib_module):.0f} MiB, "
                f"{ours}: {rss(ours):.0f} MiB; "
                f"{ms:.2f} ms CPU per call ({per_second:.0f} calls/s, 8 at a time)"
            )
    finally:
        fake.kill()
        fake.wait()


if __name__ == "__main__":
    asyncio.run(main())
