"""storage/outbox_direct.py: the sender's mark and deliveries below the ORM do what
storage/outbox.py's ``start_sending`` and ``mark_sent`` do, committed, on both databases."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core.app import App
from storage import outbox, outbox_direct
from storage.models import Outbox
from storage.outbox import NewMessage
from tests.test_outbox import LEASE, claim, enqueue


async def row(app: App, row_id: int) -> Outbox:
    async with app.db.read() as session:
        return (await session.exec(select(Outbox).where(Outbox.id == row_id))).scalars().one()


async def test_the_mark_is_committed_and_refused_to_a_claim_taken_over(app, clock):
    direct = outbox_direct.for_database(app.db)
    assert direct is not None and outbox_direct.for_database(app.db) is direct
    await enqueue(app, NewMessage("test", "a", {"text": "hi"}))
    (first,) = await claim(app)
    clock.advance(seconds=31)  # the first sender stalled past its lease
    (second,) = await claim(app)
    assert not await direct.start_sending(first, app.now(), LEASE)
    assert await direct.start_sending(second, app.now(), LEASE)
    assert not await direct.start_sending(second, app.now(), LEASE)  # not claimed any more
    marked = await row(app, second.id)  # read by the engine: committed
    assert marked.status == outbox.SENDING and marked.claimed_until == app.now() + LEASE

    clock.advance(seconds=31)  # that sender died during its call: never sent again
    assert await claim(app) == []
    dead = await row(app, second.id)
    assert dead.status == outbox.DEAD and dead.last_error == outbox.UNKNOWN


async def test_deliveries_are_recorded_with_the_chats_spacing(app, clock):
    direct = outbox_direct.for_database(app.db)
    await enqueue(
        app,
        NewMessage("test", "a", {"text": "a1"}),
        NewMessage("test", "a", {"text": "a2"}),
        NewMessage("test", "b", {"text": "b1"}),
        NewMessage("test", "b", {"text": "b2"}),
    )
    a1, b1 = await claim(app)
    for item in (a1, b1):
        assert await direct.start_sending(item, app.now(), LEASE)
    await direct.mark_sent_many(
        [
            outbox_direct.Delivery(a1, app.now(), "m-a1", timedelta(seconds=1)),
            outbox_direct.Delivery(b1, app.now(), None, timedelta(0)),  # an edit: no spacing
        ]
    )
    for item, message_id in ((a1, "m-a1"), (b1, None)):
        sent = await row(app, item.id)
        assert (sent.status, sent.sent_at, sent.claimed_until) == ("sent", app.now(), None)
        assert sent.provider_message_id == message_id
    (b2,) = await claim(app)  # a2 waits its second; b2 is due at once
    assert b2.payload["text"] == "b2"
    clock.advance(seconds=1)
    (a2,) = await claim(app)
    assert a2.payload["text"] == "a2"


@pytest.mark.postgres
async def test_a_dropped_connection_is_unavailable_then_replaced(postgres_database, tmp_path):
    from tests.conftest import _truncate_postgres, make_settings

    _truncate_postgres(postgres_database)
    app = App(make_settings(postgres_database, tmp_path / "data"))
    try:
        await enqueue(app, NewMessage("test", "a", {"text": "hi"}))
        (item,) = await claim(app)
        direct = outbox_direct.for_database(app.db)
        assert await direct.start_sending(item, app.now(), LEASE)
        delivery = outbox_direct.Delivery(item, app.now(), "m1", timedelta(0))
        await direct.mark_sent_many([delivery])
        pid = direct._conns["batch"].get_server_pid()
        async with app.db.engine.connect() as conn:  # the server drops that connection
            await conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        # The dead connection may be noticed before this call or by it.
        with contextlib.suppress(outbox_direct.Unavailable):
            await direct.mark_sent_many([delivery])
        await direct.mark_sent_many([delivery])  # a fresh connection
        assert (await row(app, item.id)).provider_message_id == "m1"
    finally:
        await app.close()
