"""Retention, dead letters and the rows of a killed process, on both databases."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from datetime import timedelta
from functools import partial
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from bot.cli.common import UsageError
from bot.cli.outbox import _list, _resend
from bot.core import engine
from bot.core.app import App
from bot.core.outbox_sender import Limits, OutboxSender, Sent
from bot.services import upkeep
from storage import outbox, outbox_admin
from storage.models import InboundEvent, Outbox, OutboxTally
from storage.outbox import NewMessage
from tests.builders import Citizen, event, make_org, new_code


async def count(app: App, model, *where) -> int:
    async with app.db.read() as session:
        stmt = select(func.count()).select_from(model).where(*where)
        return (await session.exec(stmt)).scalar_one()


class Shown:
    channel = "test"

    async def send(self, recipient, payload):
        return Sent()


async def test_prune_removes_old_keys_sent_rows_and_lost_web_replies_in_batches(
    app, clock, settings
):
    settings.prune_batch = 7  # several batches of each kind
    org = await make_org(app)
    old_citizens = [Citizen(app, f"old{i}", channel="web") for i in range(10)]
    for citizen in old_citizens:
        await citizen.say(await new_code(app, org.ward))  # keys, replies left undelivered
    async with app.db.write() as session:
        await outbox.enqueue(
            session, [NewMessage("test", f"r{i}", {"text": "x"}) for i in range(20)], app.now()
        )
    await OutboxSender(app, Shown(), Limits(per_chat_interval=0)).run_once()
    await OutboxSender(app, Shown(), Limits(per_chat_interval=0)).run_once()
    old_sent = await count(app, Outbox, Outbox.status == "sent")
    assert old_sent == 20
    old_keys = await count(app, InboundEvent)

    lost = await count(app, Outbox, Outbox.channel == "web", Outbox.status == "pending")
    clock.advance(days=31)  # past every default window but the sent rows' 90 days
    new = Citizen(app, "new", channel="web")
    await new.say(await new_code(app, org.ward))
    done = await upkeep.prune(app, pause=0)
    assert lost >= 10 and (done.inbound, done.sent, done.web) == (old_keys, 0, lost)
    assert await count(app, InboundEvent) == 1  # the new citizen's key stays
    assert await count(app, Outbox, Outbox.channel == "web") == 2  # the new one's replies

    clock.advance(days=60)
    done = await upkeep.prune(app, pause=0)
    assert done.sent == 20 and await count(app, Outbox, Outbox.status == "sent") == 0
    async with app.db.read() as session:
        assert await outbox_admin.pruned_sent(session) == {"test": 20}
    # Pruning again finds nothing and changes no count.
    assert (await upkeep.prune(app, pause=0)).total == 0
    async with app.db.read() as session:
        tally = (await session.exec(select(func.sum(OutboxTally.sent)))).scalar_one()
    assert tally == 20


async def test_a_redelivery_within_the_window_is_still_recognised(app, clock):
    org = await make_org(app)
    citizen = Citizen(app, "again", channel="test")
    code = await new_code(app, org.ward)
    await citizen.say(code)
    clock.advance(days=app.settings.retention_inbound_days - 1)
    await upkeep.prune(app, pause=0)
    async with app.db.read() as session:
        (key,) = (await session.exec(select(InboundEvent.event_id))).scalars().all()
    again = event("again", text=code, channel="test", event_id=key)
    assert await engine.handle(app, again) is False


async def test_dead_letters_are_listed_and_resent_only_on_a_persons_word(app, settings, capsys):
    async with app.db.write() as session:
        await outbox.enqueue(
            session, [NewMessage("test", f"d{i}", {"text": "x"}) for i in range(3)], app.now()
        )
        items = await outbox.claim(session, "test", app.now(), limit=3, lease=timedelta(60))
        await outbox.mark_dead(session, items[0], "Forbidden: bot was blocked")
        await outbox.mark_dead(session, items[1], outbox.UNKNOWN)
    ids = [i.id for i in items]

    Args = partial(SimpleNamespace, dead=True, channel=None, limit=50)

    assert await asyncio.to_thread(_list, settings, Args()) == 0
    out = capsys.readouterr().out
    assert f"{ids[0]}" in out and "blocked" in out and "không rõ kết quả" in out

    Resend = partial(SimpleNamespace, ids=[ids[0], ids[1]], unknown_ok=False)

    assert await asyncio.to_thread(_resend, settings, Resend()) == 0
    async with app.db.read() as session:
        statuses = [(await session.get(Outbox, i)).status for i in ids]
    assert statuses == ["pending", "dead", "claimed"]  # the unknown one waits for a person

    Wrong = partial(SimpleNamespace, ids=[ids[1], ids[2]], unknown_ok=True)

    with pytest.raises(UsageError, match=str(ids[2])):
        await asyncio.to_thread(_resend, settings, Wrong())
    async with app.db.read() as session:
        assert (await session.get(Outbox, ids[1])).status == "dead"  # nothing changed

    Checked = partial(SimpleNamespace, ids=[ids[1]], unknown_ok=True)

    assert await asyncio.to_thread(_resend, settings, Checked()) == 0
    async with app.db.read() as session:
        assert (await session.get(Outbox, ids[1])).status == "pending"


CLAIMER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import timedelta
    from bot.core.app import App
    from bot.core.settings import Settings
    from storage import outbox
    from storage.instances import InstanceLock

    async def main():
        app = App(Settings(database_url=sys.argv[1], data_dir=sys.argv[2],
                           secret_key="test-secret-key-not-for-production", _env_file=None))
        lock = InstanceLock(app.db, app.instance_id)
        await lock.hold()
        async with app.db.write() as session:
            items = await outbox.claim(session, "test", app.now(), limit=10,
                                       lease=timedelta(seconds=60), owner=app.instance_id)
            await outbox.start_sending(session, items[0], app.now(), timedelta(seconds=60))
        print(len(items), flush=True)
        await asyncio.sleep(3600)
        await lock.release()

    asyncio.run(main())
    """
)


async def test_rows_of_a_killed_process_are_released_when_a_process_starts(app, settings):
    async with app.db.write() as session:
        await outbox.enqueue(
            session, [NewMessage("test", f"k{i}", {"text": "x"}) for i in range(5)], app.now()
        )
    db_url, data = settings.database_url, str(settings.data_dir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLAIMER, db_url, data, stdout=asyncio.subprocess.PIPE
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.strip() == b"5"
        assert await upkeep.release_gone(app) == (0, 0)  # alive: its rows stay its own
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert await upkeep.release_gone(app) == (4, 1)
    async with app.db.read() as session:
        rows = (await session.exec(select(Outbox).order_by(Outbox.id))).scalars().all()
    assert [r.status for r in rows] == ["dead"] + ["pending"] * 4
    assert rows[0].last_error == outbox.UNKNOWN and all(r.claimed_by is None for r in rows)
    # They go out now, not after the 60 s lease.
    sender = OutboxSender(app, Shown(), Limits(per_chat_interval=0))
    assert await sender.run_once() == 4
