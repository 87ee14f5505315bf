"""A serving process leaves what start-up made out of the garbage collector's scans.

A full collection of the serving process's ~180,000 start-up objects stopped the event
loop for 120-180 ms every few seconds under load (the slowest webhooks); ``serve`` now
freezes them just before it starts answering.
"""

from __future__ import annotations

import gc

import uvicorn

from bot import server
from tests.conftest import make_settings


async def test_serving_starts_with_its_start_up_objects_frozen(sqlite_url, tmp_path, monkeypatch):
    seen: dict[str, int] = {}

    async def answering(_self) -> None:  # instead of uvicorn's loop: look, then stop
        seen["frozen"] = gc.get_freeze_count()

    monkeypatch.setattr(uvicorn.Server, "serve", answering)
    assert gc.get_freeze_count() == 0
    try:
        assert await server._serve(make_settings(sqlite_url, tmp_path / "data")) == 0
    finally:
        gc.unfreeze()  # this test process goes on collecting as before
    assert seen["frozen"] > 10_000
