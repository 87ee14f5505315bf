"""How long an admin waits: /quota, /report, /chart, /export through the real engine.

    .venv/bin/python bench/admin_commands.py [--responses N] [--url DATABASE_URL]

Loads the demo data (plus N recent responses) into a fresh database (a temporary SQLite
file by default; a PostgreSQL URL must point at an empty, migrated database), links the
demo admin, and times each command from the inbound event to the committed outbox row
(median of 5 runs, after one warm-up run that pays for imports).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bot.services  # noqa: F401  (the effect appliers)
from bot.core import engine
from bot.core.app import App
from bot.core.settings import Settings
from bot.services import demo
from flows.contract import EventKind, InboundEvent
from storage.migrate import upgrade
from storage.types import utcnow

COMMANDS = [
    "/quota",
    "/quota Sơn Trà 10/2023",
    "/report",
    "/report Sơn Trà 10/2023",
    "/chart",
    "/export",
    "/export Sơn Trà 10/2023",
    "/feedback",
]


async def main(responses: int, url: str | None) -> None:
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(
        database_url=url or f"sqlite:///{tmp / 'bench.db'}",
        data_dir=tmp,
        secret_key="bench-secret-key",
        _env_file=None,
    )
    app = App(settings)
    await upgrade(app.db)
    async with app.db.write() as session:
        summary = await demo.load(app, session, responses=responses)
    admin_code = next(code for _n, role, _u, code in summary.registrations if role == "admin")
    counter = iter(range(10**9))

    async def send(text: str) -> None:
        event = InboundEvent(
            "console", "admin", f"b{next(counter)}", EventKind.TEXT, utcnow(), text
        )
        await engine.handle(app, event)

    await send(admin_code)
    print(f"{platform.platform()} · Python {platform.python_version()} · {app.db.dialect}")
    print(f"demo data: {summary.responses} responses\n")
    for text in COMMANDS:
        await send(text)  # warm-up
        times = []
        for _ in range(5):
            start = time.perf_counter()
            await send(text)
            times.append(time.perf_counter() - start)
        print(f"{text:<28} {statistics.median(times) * 1000:8.0f} ms")
    await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=2000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    asyncio.run(main(args.responses, args.url))
