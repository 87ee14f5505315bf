"""Live alerts: recent ratings of a unit, a counter code or a respondent, flags on
suspected stuffing, and the bookkeeping that makes a burst alert only once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Float, bindparam, case, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import flags
from storage.models import (
    Alert,
    Answer,
    KioskDevice,
    Response,
    ResponseOrigin,
    SurveyInvite,
    Unit,
)
from storage.origins import Origin
from storage.reports import OVERALL_ELEMENT
from storage.sql import insert
from storage.surveys import COMPLETED


@dataclass(frozen=True)
class Completed:
    """A response that was just completed, and where it came from."""

    id: int
    unit_id: int
    unit_name: str
    unit_path: str
    respondent_hash: str
    completed_at: datetime
    counter_invite_id: int | None  # set when it came through a reusable counter code
    counter_label: str | None
    origin: Origin | None = None  # the tablet or surveyor, for phiếu collected in person


_COMPLETED = (  # built once, run on the connection: this runs on every completed survey
    select(
        Response.id,
        Response.unit_id,
        Unit.name,
        Unit.path,
        Response.respondent_hash,
        Response.completed_at,
        SurveyInvite.id,
        SurveyInvite.label,
        SurveyInvite.kind,
        ResponseOrigin.response_id,
        ResponseOrigin.device_id,
        KioskDevice.counter,
        ResponseOrigin.surveyor_id,
    )
    .join(Unit, Unit.id == Response.unit_id)
    .outerjoin(SurveyInvite, SurveyInvite.id == Response.invite_id)
    .outerjoin(ResponseOrigin, ResponseOrigin.response_id == Response.id)
    .outerjoin(KioskDevice, KioskDevice.id == ResponseOrigin.device_id)
    .where(Response.id == bindparam("rid"), Response.status == COMPLETED)
)


async def completed(session: AsyncSession, response_id: int) -> Completed | None:
    """A completed response with its unit, counter code and origin, if any (one
    statement: this runs on every completed survey)."""
    conn = await session.connection()
    row = (await conn.execute(_COMPLETED, {"rid": response_id})).first()
    if row is None:
        return None
    counter = row[8] == "counter"
    return Completed(
        *row[:6],
        counter_invite_id=row[6] if counter else None,
        counter_label=row[7] if counter else None,
        origin=Origin(*row[10:13]) if row[9] is not None else None,
    )


async def window(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    *,
    invite_id: int | None = None,
    respondent_hash: str | None = None,
) -> list[int]:
    """Ids of the responses completed in [since, until] from one counter code or
    respondent (exactly one of them), oldest first."""
    if invite_id is not None:
        stmt, scope = _WINDOW_BY["counter"], invite_id
    elif respondent_hash is not None:
        stmt, scope = _WINDOW_BY["respondent"], respondent_hash
    else:
        raise ValueError("invite_id or respondent_hash is needed")
    conn = await session.connection()
    params = {"scope": scope, "since": since, "until": until}
    return list((await conn.execute(stmt, params)).scalars())


def _window(scope):
    return (
        select(Response.id)
        .where(
            scope == bindparam("scope"),
            Response.status == COMPLETED,
            Response.completed_at >= bindparam("since", type_=Response.completed_at.type),
            Response.completed_at <= bindparam("until", type_=Response.completed_at.type),
        )
        .order_by(Response.completed_at, Response.id)
    )


_WINDOW_BY = {
    "counter": _window(Response.invite_id),
    "respondent": _window(Response.respondent_hash),
}


def _ratings_in_window(scope):
    """The statement counting the rated and the dissatisfied unflagged responses of one
    unit or counter code (``scope``, a Response column) in a time window."""
    rating = (
        select(
            func.coalesce(
                func.max(case((Answer.element_code == OVERALL_ELEMENT, Answer.value))),
                func.avg(Answer.value),
            ).label("rating")
        )
        .join(Response, Response.id == Answer.response_id)
        .where(
            scope == bindparam("scope"),
            Response.status == COMPLETED,
            Response.completed_at >= bindparam("since", type_=Response.completed_at.type),
            Response.completed_at <= bindparam("until", type_=Response.completed_at.type),
            Response.flagged_at.is_(None),
            Answer.scale == "satisfaction",
            Answer.value.is_not(None),
        )
        .group_by(Answer.response_id)
        .subquery()
    )
    below = bindparam("below", type_=Float)
    return select(func.count(), func.coalesce(func.sum(case((rating.c.rating < below, 1))), 0))


# Built once each: this runs on every completed survey.
_RATINGS_BY = {
    "unit": _ratings_in_window(Response.unit_id),
    "counter": _ratings_in_window(Response.invite_id),
}


async def dissatisfied(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    *,
    below: float,
    unit_id: int | None = None,
    invite_id: int | None = None,
) -> tuple[int, int]:
    """(rated, dissatisfied): how many unflagged responses completed in [since, until] at
    one unit or through one counter code (exactly one of them) gave a rating, and how many
    of those rated under ``below``. A response's rating is its answer to the overall
    question if it gave one, else the mean of its satisfaction answers.

    One statement that counts in the database: at a busy unit the window holds hundreds
    of responses, and fetching their ids, then their answers, cost two round trips and a
    new prepared statement for every length of the id list.
    """
    if (unit_id is None) == (invite_id is None):
        raise ValueError("exactly one of unit_id and invite_id is needed")
    kind, scope = ("unit", unit_id) if unit_id is not None else ("counter", invite_id)
    params = {"scope": scope, "since": since, "until": until, "below": below}
    conn = await session.connection()
    rated, negative = (await conn.execute(_RATINGS_BY[kind], params)).one()
    return int(rated), int(negative)


async def flag(
    session: AsyncSession, response_ids: list[int], reason: str, at: datetime, tz: ZoneInfo
) -> int:
    """Flag responses that are not flagged yet (keeping the report rollups in step);
    returns how many were."""
    if not response_ids:
        return 0
    return len(await flags.flag_responses(session, response_ids, reason, at, tz))


async def note_burst(
    session: AsyncSession, kind: str, scope: str, unit_id: int, now: datetime, quiet: timedelta
) -> tuple[datetime, bool]:
    """Record that a burst condition holds now for ``scope``; returns when its burst
    started and whether it started now (the caller alerts only then).

    A burst goes on while the condition recurs within ``quiet`` of its last sighting.
    One upsert: on PostgreSQL concurrent callers serialise on the row, so exactly one
    of them sees the burst start.
    """
    table = Alert.__table__
    stale = table.c.last_seen_at < now - quiet
    stmt = insert(session, Alert).values(
        kind=kind, scope=scope, unit_id=unit_id, started_at=now, last_seen_at=now, hits=1
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "scope"],
        set_={
            "started_at": case((stale, stmt.excluded.started_at), else_=table.c.started_at),
            "hits": case((stale, 1), else_=table.c.hits + 1),
            "last_seen_at": stmt.excluded.last_seen_at,
        },
    ).returning(table.c.started_at, table.c.hits)
    started_at, hits = (await session.exec(stmt)).one()
    return started_at, hits == 1
