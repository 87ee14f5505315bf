"""Report rollups: counts per unit and local day, derived from raw answers.

Every report period is a run of whole local days, so summing these rows gives exactly the
figures a scan of the raw answers would, at a fraction of the cost; the same counts per
local month (answers, responses) and year (responses per channel) let a long period sum
fewer rows (storage.rollup_periods). They are kept up to
date by ``apply_response`` (``storage.rollup_increments``) in the transaction that
completes (or flags, or clears) a response, with increments that concurrent transactions
can interleave safely (written last, just before the commit, so that a row lock is held
for moments), and can be rebuilt from the raw answers at any time (``rebuild``: after
bulk loads, or to repair).
"""

from __future__ import annotations

from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, func, literal_column, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Answer,
    Dossier,
    Procedure,
    Response,
    RollupAnswer,
    RollupAnswerMonth,
    RollupChannel,
    RollupChannelMonth,
    RollupChannelYear,
    RollupDossier,
    RollupDossierMonth,
    RollupDossierYear,
    RollupResponse,
    RollupResponseMonth,
)
from storage.rollup_dossiers import rebuild_dossiers
from storage.rollup_increments import LEVEL_COLUMNS, add_dossiers, apply_response, forget_pending
from storage.rollup_periods import as_date, local_day, month_of, year_of
from storage.sql import insert
from storage.surveys import COMPLETED


async def missing(session: AsyncSession) -> bool:
    """Whether completed responses (or dossiers) exist but a kind of rollup has no row at
    all (data older than that rollup: the per-channel counts came after the others, the
    dossier counts later still)."""

    async def none_in(table) -> bool:
        return (await session.exec(select(table.unit_id).limit(1))).first() is None

    if not await none_in(Dossier) and await none_in(RollupDossier):
        return True  # dossiers from before their rollups (0015)
    completed = select(Response.id).where(Response.status == COMPLETED).limit(1)
    if (await session.exec(completed)).first() is None:
        return False
    for table in (RollupResponse, RollupChannel):
        if await none_in(table):
            return True
    return False


async def rebuild(session: AsyncSession, tz: ZoneInfo) -> tuple[int, int]:
    """Recompute every rollup row from the raw answers; returns (answer rows, response rows).

    One INSERT … SELECT per table, so the database does the work (a minute of Python for
    a million answers otherwise); only a zone with changing offsets on SQLite goes row by row.
    """
    forget_pending(session)  # counted again from the raw answers below
    for table in (
        RollupAnswer,
        RollupAnswerMonth,
        RollupResponse,
        RollupResponseMonth,
        RollupChannel,
        RollupChannelMonth,
        RollupChannelYear,
        RollupDossier,
        RollupDossierMonth,
        RollupDossierYear,
    ):
        await session.exec(delete(table))
    await rebuild_dossiers(session, tz)
    day = local_day(session, tz, Response.completed_at)
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
    """Fill the month (and year) rollups from the day rollups just rebuilt."""
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
    year = year_of(session, RollupChannelMonth.month)
    keys = (RollupChannelMonth.field_id, RollupChannelMonth.channel)
    await session.exec(
        RollupChannelYear.__table__.insert().from_select(
            ["unit_id", "year", "field_id", "channel", "responses"],
            select(
                RollupChannelMonth.unit_id, year, *keys, func.sum(RollupChannelMonth.responses)
            ).group_by(RollupChannelMonth.unit_id, year, *keys),
        )
    )
    month = month_of(session, RollupAnswer.day)
    counts = (*LEVEL_COLUMNS, "skipped")
    await session.exec(
        RollupAnswerMonth.__table__.insert().from_select(
            ["unit_id", "month", "item_code", "element_code", *counts],
            select(
                RollupAnswer.unit_id,
                month,
                RollupAnswer.item_code,
                func.min(RollupAnswer.element_code),
                *(func.sum(getattr(RollupAnswer, c)) for c in counts),
            ).group_by(RollupAnswer.unit_id, month, RollupAnswer.item_code),
        )
    )


async def raw_counts(session: AsyncSession, tz: ZoneInfo) -> tuple[list[dict], list[dict]]:
    """The rollup rows as computed straight from raw answers (used by ``rebuild`` and checks)."""
    counted = (Response.status == COMPLETED, Response.flagged_at.is_(None))
    day = local_day(session, tz, Response.completed_at)
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
        d = as_date(d)
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
        {"unit_id": unit_id, "day": as_date(d), "field_id": field_id, "responses": n}
        for unit_id, d, field_id, n in response_groups
    ]
    return list(answers.values()), responses


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


def _chunks(rows: list, size: int):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


__all__ = [
    "LEVEL_COLUMNS",
    "add_dossiers",
    "apply_response",
    "missing",
    "raw_counts",
    "rebuild",
]
