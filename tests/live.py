"""A real server on 127.0.0.1 (random port) in a thread, for browsers and HTTP fuzzers.

The server runs uvicorn on its own event loop with its own ``App``; tests talk to it
over real HTTP and read the database afterwards with an ``App`` of their own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn

from bot.core.app import App
from bot.server import create_app
from tests.conftest import make_settings


class LiveServer:
    """``with LiveServer(db_url, data_dir) as live: live.base`` — stopped on exit."""

    def __init__(self, db_url: str, data_dir: Path, **settings) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.settings = make_settings(db_url, data_dir, public_url=self.base, **settings)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def run(self, body: Callable[[App], Awaitable[object]]) -> object:
        """Run ``body(app)`` on an App of its own (set-up before, checks after)."""

        async def go():
            app = App(self.settings)
            try:
                return await body(app)
            finally:
                await app.close()

        # In a thread of its own: Playwright's sync API keeps a loop on this one.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result(60)

    def __enter__(self) -> LiveServer:
        async def serve() -> None:
            app = App(self.settings)
            api = create_app(app, run_background=False)
            config = uvicorn.Config(api, log_level="warning", access_log=False, lifespan="on")
            self._server = uvicorn.Server(config)
            try:
                await self._server.serve(sockets=[self._sock])
            finally:
                await app.close()

        def target() -> None:
            try:
                asyncio.run(serve())
            except BaseException as exc:  # reported by __enter__/__exit__
                self._error = exc

        self._thread = threading.Thread(target=target, name="live-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not (self._server and self._server.started):
            if self._error is not None or time.monotonic() > deadline:
                raise RuntimeError(f"live server did not start: {self._error!r}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(20)
        self._sock.close()
        if self._error is not None:
            raise self._error
