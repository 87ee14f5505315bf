"""The outbox: every outbound message is a row, written in the transaction that caused it.

Senders claim rows with a lease. Only the oldest unsent row of each recipient is
claimable, so one chat's messages go out in order, one at a time, whichever process
sends them; a row whose lease ran out (its sender died) is claimable again.

Just before its API call a claimed row is marked ``sending`` (committed). A sender that
dies after that point leaves the row's fate unknown: the call may or may not have
reached the provider, and neither Telegram nor Zalo takes an idempotency key, so sending
it again could show the message twice. Such a row is therefore never sent again: once
its lease is over it is settled as dead with ``last_error`` saying the outcome is
unknown (at most once; the operator sees it). A row still ``claimed`` when its sender
died never reached the provider and is simply claimed again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, literal_column, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Outbox
from storage.sql import built_once, dialect, insert, plan_for_these_values

log = logging.getLogger(__name__)

PENDING, CLAIMED, SENDING, SENT, DEAD = "pending", "claimed", "sending", "sent", "dead"
OPEN = (PENDING, CLAIMED, SENDING)  # the rows the partial indexes ix_outbox_open* cover
UNKNOWN = "outcome unknown: the sender stopped during the API call; not sent again"


def _open(column):
    # Literal values, not bound parameters: SQLite uses a partial index only when the
    # query repeats its condition word for word (storage.models.people.OUTBOX_OPEN_SQL).
    return column.in_([literal_column(f"'{status}'") for status in OPEN])


@dataclass(frozen=True)
class OutboxItem:
    id: int
    channel: str
    recipient: str
    payload: dict[str, Any]
    attempts: int  # including the attempt this claim is for


@dataclass(frozen=True)
class NewMessage:
    channel: str
    recipient: str
    payload: dict[str, Any]
    not_before: datetime | None = None
    dedupe_key: str | None = None


async def enqueue(session: AsyncSession, messages: list[NewMessage], now: datetime) -> int:
    """Add messages (in the caller's transaction); returns how many were new.

    A message whose ``dedupe_key`` exists already is skipped: that is how "send this
    reminder once" survives a planner that runs twice.
    """
    if not messages:
        return 0
    rows = [
        {
            "channel": m.channel,
            "recipient": m.recipient,
            "payload": m.payload,
            "status": PENDING,
            "attempts": 0,
            "not_before": m.not_before or now,
            "created_at": now,
            "dedupe_key": m.dedupe_key,
        }
        for m in messages
    ]
    # Prebuilt statements run with the rows as parameters: their compiled form is cached
    # (a multi-row VALUES of the rows themselves was compiled afresh on every update).
    # On the connection: the ORM's execute path costs more than the INSERT (every
    # update ends here).
    conn = await session.connection()
    if all(m.dedupe_key is None for m in messages):
        await conn.execute(_plain_insert(session), rows)
        return len(rows)
    return len((await conn.execute(_deduped_insert(session), rows)).all())


async def taken_keys(session: AsyncSession, keys: list[str]) -> set[str]:
    """Those of ``keys`` some outbox row carries as its dedupe key already."""
    taken: set[str] = set()
    for at in range(0, len(keys), 500):
        stmt = select(Outbox.dedupe_key).where(Outbox.dedupe_key.in_(keys[at : at + 500]))
        taken.update((await session.exec(stmt)).scalars())
    return taken


@built_once
def _plain_insert(session: AsyncSession):
    return insert(session, Outbox)


@built_once
def _deduped_insert(session: AsyncSession):
    stmt = insert(session, Outbox).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return stmt.returning(Outbox.id)


async def claim(
    session: AsyncSession,
    channel: str,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    recipient: str | None = None,
    owner: str | None = None,
) -> list[OutboxItem]:
    """Claim up to ``limit`` due messages of ``channel`` (head of each recipient's queue)
    for the process ``owner`` (its instance id).

    Rows left ``sending`` by a sender whose lease ran out are settled first: dead, with
    their outcome unknown (see the module docstring), so their recipients' next
    messages can go.
    """
    stale, take = claim_statements(dialect(session), by_recipient=recipient is not None)
    await plan_for_these_values(session)  # the best plan depends on the backlog's size
    params = claim_params(channel, now, limit=limit, lease=lease, recipient=recipient, owner=owner)
    unknown = (await session.exec(stale, params=params)).all()
    if unknown:
        log.warning("outbox rows %s: %s", [r[0] for r in unknown], UNKNOWN)
    rows = (await session.exec(take, params=params)).all()
    return claimed(rows)


def claim_params(
    channel: str,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    recipient: str | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """The parameters of ``claim_statements`` for one claim."""
    return {
        "chan": channel,
        "now": now,
        "until": now + lease,
        "lim": limit,
        "owner": owner,
        "to": recipient,
    }


def claimed(rows) -> list[OutboxItem]:
    """The claim statement's rows (id, channel, recipient, payload, attempts) as items."""
    items = []
    for r in rows:
        payload = json.loads(r[3]) if isinstance(r[3], str) else r[3]
        items.append(OutboxItem(r[0], r[1], r[2], dict(payload), r[4]))
    return sorted(items, key=lambda item: item.id)


_claims: dict[tuple[str, bool], tuple[Any, Any]] = {}


def claim_statements(dialect_name: str, *, by_recipient: bool = False) -> tuple[Any, Any]:
    """The two statements of a claim, built once per dialect, with bound parameters
    (``claim_params``): settling the stale ``sending`` rows (returning their ids), then
    taking the due heads of the queues (returning the claimed rows)."""
    key = (dialect_name, by_recipient)
    if key not in _claims:
        t = Outbox.__table__
        stale = (
            update(t)
            .where(
                t.c.channel == bindparam("chan"),
                _open(t.c.status),
                t.c.status == SENDING,
                t.c.claimed_until < bindparam("now"),
            )
            .values(status=DEAD, claimed_until=None, last_error=UNKNOWN)
            .returning(t.c.id)
        )
        # The heads of the chats' queues first (each chat's lowest open id: one entry of
        # the small partial index ix_outbox_open_recipient per open row, no row read),
        # then which of those are due. Asking of every open row whether an earlier one
        # blocks it cost an index probe per row: with a backlog of thousands waiting for
        # Telegram's 30/s, every claim walked them all (10 ms each on PostgreSQL).
        heads = select(func.min(t.c.id).label("id")).where(
            t.c.channel == bindparam("chan"), _open(t.c.status)
        )
        if by_recipient:
            heads = heads.where(t.c.recipient == bindparam("to"))
        # Joined, not "IN (…)": PostgreSQL's generic plan for the prepared statement ran
        # the grouped subquery once per row of the outer scan (seconds with a backlog).
        head = heads.group_by(t.c.recipient).subquery("head")
        due = or_(
            and_(t.c.status == PENDING, t.c.not_before <= bindparam("now")),
            and_(t.c.status == CLAIMED, t.c.claimed_until < bindparam("now")),
        )
        candidates = (
            select(t.c.id)
            .select_from(t.join(head, head.c.id == t.c.id))
            .where(_open(t.c.status), due)
        )
        candidates = candidates.order_by(t.c.id).limit(bindparam("lim", type_=Integer))
        chosen: Any = candidates.scalar_subquery()
        if dialect_name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True, of=t)
            # "= ANY(ARRAY(…))": the claimed rows found by their primary key; "IN (…)"
            # was planned as a hash join over a scan of the whole table, sent rows and all.
            chosen = func.any(func.array(candidates.scalar_subquery()))
        take = (
            update(t)
            .where(t.c.id == chosen if dialect_name == "postgresql" else t.c.id.in_(chosen))
            .values(
                status=CLAIMED,
                claimed_until=bindparam("until"),
                attempts=t.c.attempts + 1,
                claimed_by=bindparam("owner"),
            )
            .returning(t.c.id, t.c.channel, t.c.recipient, t.c.payload, t.c.attempts)
        )
        _claims[key] = (stale, take)
    return _claims[key]


async def start_sending(
    session: AsyncSession, item: OutboxItem, now: datetime, lease: timedelta
) -> bool:
    """Mark a claimed row as being sent, just before its API call; False when this claim
    is no longer the row's (its lease ran out and it was claimed again): do not send."""
    stmt = (
        update(Outbox)
        .where(Outbox.id == item.id, Outbox.status == CLAIMED, Outbox.attempts == item.attempts)
        .values(status=SENDING, claimed_until=now + lease)
        .returning(Outbox.id)
    )
    return (await session.exec(stmt)).first() is not None


async def mark_sent(
    session: AsyncSession,
    item: OutboxItem,
    now: datetime,
    *,
    provider_message_id: str | None = None,
    spacing: timedelta = timedelta(0),
) -> None:
    """Record a delivery; the recipient's next message waits ``spacing`` (per-chat limit)."""
    await session.exec(
        update(Outbox)
        .where(Outbox.id == item.id)
        .values(
            status=SENT, sent_at=now, claimed_until=None, provider_message_id=provider_message_id
        )
    )
    if spacing > timedelta(0):
        await session.exec(
            update(Outbox)
            .where(*spacing_condition(Outbox.__table__, item.channel, item.recipient, item.id))
            .where(Outbox.not_before < now + spacing)
            .values(not_before=now + spacing)
        )


def spacing_condition(table, channel, recipient, after) -> tuple:
    """The recipient's pending rows after the one just sent (only the oldest open row is
    ever claimed, so there is none before it). Said so, with the open statuses word for
    word, SQLite takes the small partial index ix_outbox_open_recipient; "status =
    'pending'" alone made it walk every pending row of the channel (ix_outbox_due)."""
    return (
        table.c.channel == channel,
        table.c.recipient == recipient,
        table.c.id > after,
        _open(table.c.status),
        table.c.status == PENDING,
    )


async def mark_partly_sent(
    session: AsyncSession,
    item: OutboxItem,
    rest: dict[str, Any],
    not_before: datetime,
    *,
    provider_message_id: str | None = None,
) -> None:
    """Record that part of a message went out: the row stays first in its recipient's
    queue with ``rest`` as its payload, due at ``not_before``, with a fresh attempt count."""
    await session.exec(
        update(Outbox)
        .where(Outbox.id == item.id)
        .values(
            status=PENDING,
            payload=rest,
            attempts=0,
            claimed_until=None,
            not_before=not_before,
            last_error=None,
            provider_message_id=provider_message_id,
        )
    )


async def mark_retry(
    session: AsyncSession, item: OutboxItem, error: str, not_before: datetime
) -> None:
    """Put a message back to be tried again at ``not_before``."""
    await session.exec(
        update(Outbox)
        .where(Outbox.id == item.id)
        .values(status=PENDING, claimed_until=None, not_before=not_before, last_error=error[:2000])
    )


async def mark_dead(session: AsyncSession, item: OutboxItem, error: str) -> None:
    """Give up on a message, keeping the reason."""
    await session.exec(
        update(Outbox)
        .where(Outbox.id == item.id)
        .values(status=DEAD, claimed_until=None, last_error=error[:2000])
    )


async def counts(session: AsyncSession, channel: str | None = None) -> dict[str, int]:
    """How many messages are in each status (for health and operations)."""
    stmt = select(Outbox.status, func.count()).group_by(Outbox.status)
    if channel:
        stmt = stmt.where(Outbox.channel == channel)
    return {status: n for status, n in (await session.exec(stmt)).all()}


async def recent_sent(
    session: AsyncSession, channel: str, recipient: str, limit: int
) -> list[dict[str, Any]]:
    """The payloads of the last ``limit`` messages sent to a recipient, oldest first."""
    stmt = (
        select(Outbox.payload)
        .where(Outbox.channel == channel, Outbox.recipient == recipient, Outbox.status == SENT)
        .order_by(Outbox.id.desc())
        .limit(limit)
    )
    rows = (await session.exec(stmt)).all()
    return [dict(r[0]) for r in reversed(rows)]
