"""Real server processes for tests and benchmarks: start, wait until healthy, stop.

``python -m bot serve`` runs as a child process with its own environment; its stderr is
appended to a log file the caller prints when something fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

STARTUP = 120  # seconds a new process may take to start on a busy 2-core machine


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def start_process(
    args: list[str], env: dict[str, str], log_path: Path
) -> asyncio.subprocess.Process:
    """``args`` with ``env``, in the log's folder; its stderr appended to ``log_path``."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        return await asyncio.create_subprocess_exec(
            *args,
            env=env,
            cwd=Path(log_path).parent,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
    finally:
        os.close(log)


async def start_serving(env: dict[str, str], log_path: Path) -> asyncio.subprocess.Process:
    """``python -m bot serve`` (the production command) with ``env``."""
    return await start_process([sys.executable, "-m", "bot", "serve"], env, log_path)


async def wait_healthy(
    base: str, proc: asyncio.subprocess.Process, startup: float = STARTUP
) -> None:
    """Until ``GET base/healthz`` answers 200; raises if the process exits first."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        async with asyncio.timeout(startup):
            while True:
                if proc.returncode is not None:
                    raise RuntimeError("the server exited during start-up")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)


async def stop_process(proc: asyncio.subprocess.Process | None, grace: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; nothing if it already ended."""
    if proc is None or proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        proc.kill()
        await proc.wait()
