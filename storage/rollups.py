"""Report rollups: counts per unit and local day, derived from raw answers.

Every report period is a run of whole local days, so summing these rows gives exactly the
figures a scan of the raw answers would, at a fraction of the cost. They are kept up to
date by ``apply_response`` in the transaction that completes (or flags, or clears) a
response, with increments that concurrent transactions can interleave safely (written
last, just before the commit, so that a row lock is held for moments), and can be
rebuilt from the raw answers at any time (``rebuild``: after bulk loads, or to repair).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, case, cast, delete, func, literal_column, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Answer,
    Procedure,
    Response,
    RollupAnswer,
    RollupChannel,
    RollupChannelMonth,
    RollupResponse,
    RollupResponseMonth,
)
from storage.sql import before_commit, built_once, dialect, insert
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
    for item, element, value in answers:
        counts = pending["answers"].setdefault(
            (row.unit_id, day, item), [element, 0, 0, 0, 0, 0, 0]
        )
        counts[6 if value is None else value] += sign
    field_id = row.field_id or 0
    for table, key in (
        ("days", (row.unit_id, field_id, day)),
        ("months", (row.unit_id, field_id, month)),
        ("channel_days", (row.unit_id, field_id, row.channel, day)),
        ("channel_months", (row.unit_id, field_id, row.channel, month)),
    ):
        pending[table][key] = pending[table].get(key, 0) + sign
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
            name: {} for name in ("answers", "days", "months", "channel_days", "channel_months")
        }
        before_commit(session, _PENDING, _write_increments)
    return pending


async def _write_increments(session: AsyncSession) -> None:
    """Write the transaction's summed rollup increments: one statement run per table."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    conn = await session.connection()
    answers = [
        {
            "unit_id": unit_id,
            "day": day,
            "item_code": item,
            "element_code": counts[0],
            **dict(zip((*LEVEL_COLUMNS, "skipped"), counts[1:], strict=True)),
        }
        for (unit_id, day, item), counts in sorted(pending["answers"].items())
        if any(counts[1:])
    ]
    if answers:
        # One statement run for each row (executemany): a multi-row VALUES is compiled
        # afresh every time, as SQLAlchemy cannot cache it.
        await conn.execute(_answer_upsert(session), answers)
    for name, upsert, columns in (
        ("days", _DAY_UPSERT, ("unit_id", "field_id", "day")),
        ("months", _MONTH_UPSERT, ("unit_id", "field_id", "month")),
        ("channel_days", _CHANNEL_DAY_UPSERT, ("unit_id", "field_id", "channel", "day")),
        ("channel_months", _CHANNEL_MONTH_UPSERT, ("unit_id", "field_id", "channel", "month")),
    ):
        values = [
            {**dict(zip(columns, key, strict=True)), "responses": n}
            for key, n in sorted(pending[name].items())
            if n
        ]
        if values:
            await conn.execute(upsert(session), values)


@built_once
def _answer_upsert(session: AsyncSession):
    """Add one row's counts to a (unit, day, item) rollup row."""
    table = RollupAnswer.__table__
    stmt = insert(session, table)
    return stmt.on_conflict_do_update(
        index_elements=["unit_id", "day", "item_code"],
        set_={c: table.c[c] + stmt.excluded[c] for c in (*LEVEL_COLUMNS, "skipped")},
    )


def _response_upsert(table, key: str, *by: str):
    """Add to a (unit, ``key``, field[, channel]) count of responses (per day or month)."""

    @built_once
    def build(session: AsyncSession):
        stmt = insert(session, table.__table__)
        return stmt.on_conflict_do_update(
            index_elements=["unit_id", key, "field_id", *by],
            set_={"responses": table.__table__.c.responses + stmt.excluded.responses},
        )

    return build


_DAY_UPSERT = _response_upsert(RollupResponse, "day")
_MONTH_UPSERT = _response_upsert(RollupResponseMonth, "month")
_CHANNEL_DAY_UPSERT = _response_upsert(RollupChannel, "day", "channel")
_CHANNEL_MONTH_UPSERT = _response_upsert(RollupChannelMonth, "month", "channel")


async def missing(session: AsyncSession) -> bool:
    """Whether completed responses exist but a kind of rollup has no row at all (data
    older than that rollup: the per-channel counts came after the others)."""
    completed = select(Response.id).where(Response.status == COMPLETED).limit(1)
    if (await session.exec(completed)).first() is None:
        return False
    for table in (RollupResponse, RollupChannel):
        if (await session.exec(select(table.unit_id).limit(1))).first() is None:
            return True
    return False


async def rebuild(session: AsyncSession, tz: ZoneInfo) -> tuple[int, int]:
    """Recompute every rollup row from the raw answers; returns (answer rows, response rows).

    One INSERT … SELECT per table, so the database does the work (a minute of Python for
    a million answers otherwise); only a zone with changing offsets on SQLite goes row by row.
    """
    session.info.pop(_PENDING, None)  # counted again from the raw answers below
    await session.exec(delete(RollupAnswer))
    await session.exec(delete(RollupResponse))
    await session.exec(delete(RollupResponseMonth))
    await session.exec(delete(RollupChannel))
    await session.exec(delete(RollupChannelMonth))
    day = _local_day(session, tz)
    if day is None:
        answer_rows, response_rows = await raw_counts(session, tz)
        for chunk in _chunks(answer_rows, 2000):
            await session.exec(insert(session, RollupAnswer).values(chunk))
        for chunk in _chunks(response_rows, 2000):
            await session.exec(insert(session, RollupResponse).values(chunk))
        for chunk in _chunks(await _python_channels(session, tz), 2000):
            await session.exec(insert(session, RollupChannel).values(chunk))
        await _months_from_days(session)
        return len(answer_rows), len(response_rows)
    counted = (Response.status == COMPLETED, Response.flagged_at.is_(None))
    per_level = [
        func.sum(case((Answer.value == level, 1), else_=0)).label(f"n{level}")
        for level in range(1, 6)
    ]
    answers = (
        select(
            Response.unit_id,
            day,
            Answer.item_code,
            func.min(Answer.element_code),
            *per_level,
            func.sum(case((Answer.value.is_(None), 1), else_=0)),
        )
        .join(Response, Response.id == Answer.response_id)
        .where(*counted, Answer.scale == "satisfaction")
        .group_by(Response.unit_id, day, Answer.item_code)
    )
    field = func.coalesce(Procedure.field_id, literal_column("0"))
    responses = (
        select(Response.unit_id, day, field, func.count())
        .outerjoin(Procedure, Procedure.id == Response.procedure_id)
        .where(*counted)
        .group_by(Response.unit_id, day, field)
    )
    columns = ["unit_id", "day", "item_code", "element_code", *LEVEL_COLUMNS, "skipped"]
    await session.exec(RollupAnswer.__table__.insert().from_select(columns, answers))
    await session.exec(
        RollupResponse.__table__.insert().from_select(
            ["unit_id", "day", "field_id", "responses"], responses
        )
    )
    channels = (
        select(Response.unit_id, day, field, Response.channel, func.count())
        .outerjoin(Procedure, Procedure.id == Response.procedure_id)
        .where(*counted)
        .group_by(Response.unit_id, day, field, Response.channel)
    )
    await session.exec(
        RollupChannel.__table__.insert().from_select(
            ["unit_id", "day", "field_id", "channel", "responses"], channels
        )
    )
    await _months_from_days(session)
    count_answers = (
        await session.exec(select(func.count()).select_from(RollupAnswer))
    ).scalar_one()
    count_responses = (
        await session.exec(select(func.count()).select_from(RollupResponse))
    ).scalar_one()
    return count_answers, count_responses


async def _months_from_days(session: AsyncSession) -> None:
    for days, months, by in (
        (RollupResponse, RollupResponseMonth, ("field_id",)),
        (RollupChannel, RollupChannelMonth, ("field_id", "channel")),
    ):
        month = month_of(session, days.day)
        keys = [getattr(days, c) for c in by]
        await session.exec(
            months.__table__.insert().from_select(
                ["unit_id", "month", *by, "responses"],
                select(days.unit_id, month, *keys, func.sum(days.responses)).group_by(
                    days.unit_id, month, *keys
                ),
            )
        )


def month_of(session: AsyncSession, day):
    """A SQL expression for the first day of ``day``'s month (literals inline: PostgreSQL
    must see the same expression in SELECT and GROUP BY)."""
    if dialect(session) == "postgresql":
        return cast(func.date_trunc(literal_column("'month'"), day), Date)
    return func.date(day, literal_column("'start of month'"))


async def raw_counts(session: AsyncSession, tz: ZoneInfo) -> tuple[list[dict], list[dict]]:
    """The rollup rows as computed straight from raw answers (used by ``rebuild`` and checks)."""
    counted = (Response.status == COMPLETED, Response.flagged_at.is_(None))
    day = _local_day(session, tz)
    if day is not None:
        answer_stmt = (
            select(
                Response.unit_id,
                day.label("day"),
                Answer.item_code,
                Answer.element_code,
                Answer.value,
                func.count(),
            )
            .join(Response, Response.id == Answer.response_id)
            .where(*counted, Answer.scale == "satisfaction")
            .group_by(Response.unit_id, day, Answer.item_code, Answer.element_code, Answer.value)
        )
        # An inline 0: PostgreSQL must see the same expression in SELECT and GROUP BY.
        field = func.coalesce(Procedure.field_id, literal_column("0"))
        response_stmt = (
            select(Response.unit_id, day.label("day"), field, func.count())
            .outerjoin(Procedure, Procedure.id == Response.procedure_id)
            .where(*counted)
            .group_by(Response.unit_id, day, field)
        )
        answer_groups = (await session.exec(answer_stmt)).all()
        response_groups = (await session.exec(response_stmt)).all()
    else:  # a zone whose offset changed: work out each local day in Python
        answer_groups, response_groups = await _python_groups(session, tz)
    answers: dict[tuple, dict] = {}
    for unit_id, d, item, element, value, n in answer_groups:
        d = _as_date(d)
        row = answers.setdefault(
            (unit_id, d, item),
            {
                "unit_id": unit_id,
                "day": d,
                "item_code": item,
                "element_code": element,
                **dict.fromkeys((*LEVEL_COLUMNS, "skipped"), 0),
            },
        )
        row["skipped" if value is None else f"n{value}"] += n
    responses = [
        {"unit_id": unit_id, "day": _as_date(d), "field_id": field_id, "responses": n}
        for unit_id, d, field_id, n in response_groups
    ]
    return list(answers.values()), responses


def _local_day(session: AsyncSession, tz: ZoneInfo):
    """A SQL expression for the local day of ``completed_at``, or None when SQLite cannot
    express it (a zone whose UTC offset changed over time)."""
    if dialect(session) == "postgresql":
        return func.date(func.timezone(tz.key, Response.completed_at))
    offsets = {
        tz.utcoffset(datetime(year, month, 1)) for year in range(1990, 2040) for month in (1, 7)
    }
    if len(offsets) != 1:
        return None
    minutes = int(next(iter(offsets)).total_seconds() // 60)
    return func.date(Response.completed_at, f"{minutes:+d} minutes")


async def _python_groups(session: AsyncSession, tz: ZoneInfo):
    answers: dict[tuple, int] = defaultdict(int)
    responses: dict[tuple, int] = defaultdict(int)
    rows = await session.exec(
        select(
            Response.id,
            Response.unit_id,
            Response.completed_at,
            func.coalesce(Procedure.field_id, 0),
        )
        .outerjoin(Procedure, Procedure.id == Response.procedure_id)
        .where(Response.status == COMPLETED, Response.flagged_at.is_(None))
    )
    day_of = {}
    for rid, unit_id, completed, field_id in rows.all():
        day_of[rid] = (unit_id, completed.astimezone(tz).date())
        responses[(unit_id, day_of[rid][1], field_id)] += 1
    for rid, item, element, value in (
        await session.exec(
            select(Answer.response_id, Answer.item_code, Answer.element_code, Answer.value).where(
                Answer.scale == "satisfaction"
            )
        )
    ).all():
        if rid in day_of:
            answers[(*day_of[rid], item, element, value)] += 1
    return ([(*k, n) for k, n in answers.items()], [(*k, n) for k, n in responses.items()])


async def _python_channels(session: AsyncSession, tz: ZoneInfo) -> list[dict]:
    counts: dict[tuple, int] = defaultdict(int)
    rows = await session.exec(
        select(
            Response.unit_id,
            Response.completed_at,
            func.coalesce(Procedure.field_id, 0),
            Response.channel,
        )
        .outerjoin(Procedure, Procedure.id == Response.procedure_id)
        .where(Response.status == COMPLETED, Response.flagged_at.is_(None))
    )
    for unit_id, completed, field_id, channel in rows.all():
        counts[(unit_id, completed.astimezone(tz).date(), field_id, channel)] += 1
    return [
        {"unit_id": u, "day": d, "field_id": f, "channel": c, "responses": n}
        for (u, d, f, c), n in counts.items()
    ]


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _chunks(rows: list, size: int):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
