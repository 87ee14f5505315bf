"""The live rollup increments: what one completed (flagged, cleared) response adds.

``apply_response`` reads a response's counts at once and keeps them in the transaction;
they are written, summed per row and in key order, just before it commits
(``storage.sql.before_commit``). See ``storage.rollups`` for the tables and the rebuild.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Answer,
    Procedure,
    Response,
    RollupAnswer,
    RollupAnswerMonth,
    RollupChannel,
    RollupChannelMonth,
    RollupChannelYear,
    RollupResponse,
    RollupResponseMonth,
)
from storage.sql import before_commit, built_once, insert
from storage.surveys import COMPLETED

LEVEL_COLUMNS = ("n1", "n2", "n3", "n4", "n5")


async def apply_response(
    session: AsyncSession, response_id: int, tz: ZoneInfo, sign: int = 1
) -> bool:
    """Add (``sign`` 1) or remove (-1) one completed response's counts; False if it does not
    count (not completed, or flagged while adding). The counts are read now and written
    when the transaction commits (``Database.write``), after everything else it does."""
    row = (
        await session.exec(
            select(
                Response.unit_id,
                Response.completed_at,
                Response.status,
                Response.flagged_at,
                Response.channel,
                Procedure.field_id,
            )
            .outerjoin(Procedure, Procedure.id == Response.procedure_id)
            .where(Response.id == response_id)
        )
    ).first()
    if row is None or row.status != COMPLETED or row.completed_at is None:
        return False
    if row.flagged_at is not None and sign > 0:
        return False  # flagged responses count nowhere (flags.py removes them first)
    day = row.completed_at.astimezone(tz).date()
    month = day.replace(day=1)
    answers = (
        await session.exec(
            select(Answer.item_code, Answer.element_code, Answer.value).where(
                Answer.response_id == response_id, Answer.scale == "satisfaction"
            )
        )
    ).all()
    pending = _pending(session)
    for name, period in (("answers", day), ("answer_months", month)):
        for item, element, value in answers:
            counts = pending[name].setdefault(
                (row.unit_id, period, item), [element, 0, 0, 0, 0, 0, 0]
            )
            counts[6 if value is None else value] += sign
    where = {
        "unit_id": row.unit_id,
        "field_id": row.field_id or 0,
        "channel": row.channel,
        "day": day,
        "month": month,
        "year": month.replace(month=1),
    }
    for name, (_upsert, columns) in _RESPONSE_COUNTS.items():
        key = tuple(where[c] for c in columns)
        pending[name][key] = pending[name].get(key, 0) + sign
    return True


# The increments are kept until the transaction is about to commit (``storage.sql.
# before_commit``) and written then, summed per row, in key order. On PostgreSQL an
# upsert holds its row's lock until the commit, and every completion at a unit on one
# day updates the same rows: written early, the lock was held across the rest of the
# step (the follow-up checks, the state, the outbox), and concurrent completions at a
# busy unit queued behind each other for seconds. Increments commute, so writing them
# last changes no figure; the SELECTs above still see the response as it was then.
_PENDING = "sipas_rollup_increments"


def _pending(session: AsyncSession) -> dict[str, dict]:
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = {
            name: {} for name in (*_ANSWER_COUNTS, *_RESPONSE_COUNTS)
        }
        before_commit(session, _PENDING, _write_increments)
    return pending


async def _write_increments(session: AsyncSession) -> None:
    """Write the transaction's summed rollup increments: one statement run per table."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    conn = await session.connection()
    for name, (upsert, period) in _ANSWER_COUNTS.items():
        answers = [
            {
                "unit_id": unit_id,
                period: when,
                "item_code": item,
                "element_code": counts[0],
                **dict(zip((*LEVEL_COLUMNS, "skipped"), counts[1:], strict=True)),
            }
            for (unit_id, when, item), counts in sorted(pending[name].items())
            if any(counts[1:])
        ]
        if answers:
            # One statement run for each row (executemany): a multi-row VALUES is compiled
            # afresh every time, as SQLAlchemy cannot cache it.
            await conn.execute(upsert(session), answers)
    for name, (upsert, columns) in _RESPONSE_COUNTS.items():
        values = [
            {**dict(zip(columns, key, strict=True)), "responses": n}
            for key, n in sorted(pending[name].items())
            if n
        ]
        if values:
            await conn.execute(upsert(session), values)


def _answer_upsert(table, period: str):
    """The upsert adding one row's counts to a (unit, ``period``, item) answer rollup row,
    and the name of that period column."""

    @built_once
    def build(session: AsyncSession):
        columns = table.__table__.c
        stmt = insert(session, table.__table__)
        return stmt.on_conflict_do_update(
            index_elements=["unit_id", period, "item_code"],
            set_={c: columns[c] + stmt.excluded[c] for c in (*LEVEL_COLUMNS, "skipped")},
        )

    return build, period


# The answer counts, by (unit, item) and day or month.
_ANSWER_COUNTS = {
    "answers": _answer_upsert(RollupAnswer, "day"),
    "answer_months": _answer_upsert(RollupAnswerMonth, "month"),
}


def _response_upsert(table, *key: str):
    """The upsert adding to a count of responses keyed by ``key``, and that key."""

    @built_once
    def build(session: AsyncSession):
        stmt = insert(session, table.__table__)
        return stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={"responses": table.__table__.c.responses + stmt.excluded.responses},
        )

    return build, key


# The response counts, by (unit, field[, channel]) and day, month or year.
_RESPONSE_COUNTS = {
    "days": _response_upsert(RollupResponse, "unit_id", "field_id", "day"),
    "months": _response_upsert(RollupResponseMonth, "unit_id", "field_id", "month"),
    "channel_days": _response_upsert(RollupChannel, "unit_id", "field_id", "channel", "day"),
    "channel_months": _response_upsert(
        RollupChannelMonth, "unit_id", "field_id", "channel", "month"
    ),
    "channel_years": _response_upsert(RollupChannelYear, "unit_id", "field_id", "channel", "year"),
}


def forget_pending(session: AsyncSession) -> None:
    """Drop the increments not yet written (a rebuild counts everything again)."""
    session.info.pop(_PENDING, None)
