"""The Zalo background work of ``serve``: the OA outbox sender (with the ZNS fallback for
reminders refused outside the messaging window) and the token keeper."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.channels.zalo.adapter import ZALO_LIMITS, open_channel
from bot.channels.zalo.zns_service import with_zns_fallback
from bot.core.app import App
from bot.core.outbox_sender import OutboxSender


def services(app: App) -> list[tuple[str, Any]]:
    """Background work for ``sipas-bot serve``: the outbox sender and the token keeper."""
    if not app.settings.zalo_sends:
        return []

    async def run(stop: asyncio.Event) -> None:
        async with open_channel(app) as channel:
            transport = with_zns_fallback(app, channel.transport)
            sender = OutboxSender(app, transport, ZALO_LIMITS)
            await asyncio.gather(sender.run_forever(stop), channel.tokens.keep_fresh(stop))

    return [("zalo", run)]
