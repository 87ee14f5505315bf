"""Upkeep in ``serve``: rows of killed processes released at start, retention pruning.

At start (before any sender claims), the process takes its instance lock and releases
what processes that are gone had claimed: their chats go on at once instead of after
the lease (storage/instances.py). Then, every ``SIPAS_PRUNE_INTERVAL_MINUTES``, the
retention of storage/retention.py runs in batches of ``SIPAS_PRUNE_BATCH`` rows, one
short transaction each with a pause between, so webhooks are never held up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.core.app import App
from storage import instances, outbox_admin, retention

log = logging.getLogger(__name__)
PAUSE = 0.05  # seconds between two batches: other writers go first


@dataclass
class Pruned:
    inbound: int = 0
    sent: int = 0
    web: int = 0

    @property
    def total(self) -> int:
        return self.inbound + self.sent + self.web


async def release_gone(app: App) -> tuple[int, int]:
    """Release the outbox rows of processes that are no longer alive; (released, settled)."""
    async with app.db.read() as session:
        owners = await outbox_admin.claim_owners(session)
    owners.discard(app.instance_id)
    dead = await instances.gone(app.db, owners)
    if not dead:
        return 0, 0
    async with app.db.write() as session:
        released, settled = await outbox_admin.release_owners(session, dead, app.now())
    if released or settled:
        log.warning(
            "outbox: %d rows of %d stopped process(es) released, %d settled as outcome unknown",
            released,
            len(dead),
            settled,
        )
    return released, settled


async def prune(app: App, pause: float = PAUSE) -> Pruned:
    """Run the whole retention once, in batches; returns what was removed."""
    s = app.settings
    now = app.now()
    steps = (
        ("inbound", retention.prune_inbound, now - timedelta(days=s.retention_inbound_days)),
        ("sent", retention.prune_sent, now - timedelta(days=s.retention_sent_days)),
        ("web", retention.expire_web, now - timedelta(days=s.retention_web_days)),
    )
    done = Pruned()
    for name, step, before in steps:
        while True:
            async with app.db.write() as session:
                n = await step(session, before, s.prune_batch)
            setattr(done, name, getattr(done, name) + n)
            if n < s.prune_batch:
                break
            await asyncio.sleep(pause)
    return done


def services(app: App) -> list[tuple[str, object]]:
    """The pruning clock of ``serve``."""

    async def run(stop: asyncio.Event) -> None:
        interval = app.settings.prune_interval_minutes * 60
        while not stop.is_set():
            try:
                done = await prune(app)
                if done.total:
                    log.info(
                        "retention: %d dedupe keys, %d sent rows, %d web replies removed",
                        done.inbound,
                        done.sent,
                        done.web,
                    )
            except Exception:  # the next round tries again
                log.exception("retention pruning failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    return [("upkeep", run)]
