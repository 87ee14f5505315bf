"""Where in-person responses came from (tablet, surveyor, paper ballot): the windows the
stuffing checks read, and the figures per tablet and per surveyor of ``/report``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Answer, KioskDevice, Person, Response, ResponseOrigin, Unit
from storage.sql import insert
from storage.surveys import COMPLETED


@dataclass(frozen=True)
class Origin:
    """The tablet or surveyor behind a response (both None for chat and paper)."""

    device_id: int | None
    device_label: str | None
    surveyor_id: int | None


async def add(
    session: AsyncSession,
    response_id: int,
    *,
    device_id: int | None = None,
    surveyor_id: int | None = None,
    ballot_key: str | None = None,
) -> None:
    """Record where a response came from."""
    await session.exec(
        insert(session, ResponseOrigin).values(
            response_id=response_id,
            device_id=device_id,
            surveyor_id=surveyor_id,
            ballot_key=ballot_key,
        )
    )


async def window(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    *,
    device_id: int | None = None,
    surveyor_id: int | None = None,
) -> list[int]:
    """Ids of the responses completed in [since, until] on one tablet or by one surveyor,
    oldest first."""
    stmt = (
        select(Response.id)
        .join(ResponseOrigin, ResponseOrigin.response_id == Response.id)
        .where(
            Response.status == COMPLETED,
            Response.completed_at >= since,
            Response.completed_at <= until,
        )
    )
    if device_id is not None:
        stmt = stmt.where(ResponseOrigin.device_id == device_id)
    elif surveyor_id is not None:
        stmt = stmt.where(ResponseOrigin.surveyor_id == surveyor_id)
    else:
        raise ValueError("device_id or surveyor_id is needed")
    return list((await session.exec(stmt.order_by(Response.completed_at, Response.id))).scalars())


async def latest_by_surveyor(session: AsyncSession, surveyor_id: int, limit: int) -> list[int]:
    """The surveyor's last ``limit`` completed responses, newest first."""
    stmt = (
        select(Response.id)
        .join(ResponseOrigin, ResponseOrigin.response_id == Response.id)
        .where(ResponseOrigin.surveyor_id == surveyor_id, Response.status == COMPLETED)
        .order_by(Response.completed_at.desc(), Response.id.desc())
        .limit(limit)
    )
    return list((await session.exec(stmt)).scalars())


async def answer_patterns(session: AsyncSession, response_ids: list[int]) -> dict[int, tuple]:
    """Each response's answers as one comparable tuple of (item, value)."""
    stmt = (
        select(Answer.response_id, Answer.item_code, Answer.value)
        .where(Answer.response_id.in_(response_ids))
        .order_by(Answer.response_id, Answer.item_code)
    )
    patterns: dict[int, list] = {rid: [] for rid in response_ids}
    for rid, item, value in (await session.exec(stmt)).all():
        patterns[rid].append((item, value))
    return {rid: tuple(p) for rid, p in patterns.items()}


# --- figures per tablet and per surveyor --------------------------------------------------


@dataclass(frozen=True)
class SourceFigures:
    """Phiếu of one tablet or one surveyor in a period: counted, flagged, and the share
    of counted satisfaction answers at 4–5 (None without any)."""

    source_id: int
    label: str
    unit_name: str
    responses: int
    flagged: int
    satisfied: int = 0
    valid: int = 0

    @property
    def percent(self) -> float | None:
        """Satisfied ÷ valid answers of the counted phiếu."""
        return self.satisfied / self.valid if self.valid else None


def _in_period(path: str, lo: datetime, hi: datetime):
    return (
        Unit.path.startswith(path),
        Response.status == COMPLETED,
        Response.completed_at >= lo,
        Response.completed_at < hi,
    )


async def _figures(session: AsyncSession, column, label, path: str, lo, hi, join) -> list:
    flagged = func.sum(case((Response.flagged_at.is_not(None), 1), else_=0))
    base = (
        select(column, label, func.min(Unit.name), func.count(), flagged)
        .select_from(ResponseOrigin)
        .join(Response, Response.id == ResponseOrigin.response_id)
        .join(Unit, Unit.id == Response.unit_id)
        .join(*join)
        .where(column.is_not(None), *_in_period(path, lo, hi))
        .group_by(column, label)
    )
    counts = (await session.exec(base)).all()
    good = func.sum(case((Answer.value >= 4, 1), else_=0))
    answers = (
        select(column, func.count(Answer.value), good)
        .select_from(ResponseOrigin)
        .join(Response, Response.id == ResponseOrigin.response_id)
        .join(Unit, Unit.id == Response.unit_id)
        .join(Answer, Answer.response_id == Response.id)
        .where(
            column.is_not(None),
            *_in_period(path, lo, hi),
            Response.flagged_at.is_(None),
            Answer.scale == "satisfaction",
        )
        .group_by(column)
    )
    shares = {
        sid: (int(valid or 0), int(sat or 0)) for sid, valid, sat in await _all(session, answers)
    }
    rows = [
        SourceFigures(
            sid,
            lab or "",
            unit,
            int(n) - int(f or 0),
            int(f or 0),
            satisfied=shares.get(sid, (0, 0))[1],
            valid=shares.get(sid, (0, 0))[0],
        )
        for sid, lab, unit, n, f in counts
    ]
    return sorted(rows, key=lambda r: (-r.responses, r.label, r.source_id))


async def _all(session: AsyncSession, stmt) -> list:
    return list((await session.exec(stmt)).all())


async def per_device(session: AsyncSession, path: str, lo: datetime, hi: datetime):
    """``SourceFigures`` per tablet of a subtree in [lo, hi) (label: the counter's name)."""
    join = (KioskDevice, KioskDevice.id == ResponseOrigin.device_id)
    return await _figures(
        session, ResponseOrigin.device_id, KioskDevice.counter, path, lo, hi, join
    )


async def per_surveyor(session: AsyncSession, path: str, lo: datetime, hi: datetime):
    """``SourceFigures`` per surveyor of a subtree in [lo, hi) (label: the person's name)."""
    join = (Person, Person.id == ResponseOrigin.surveyor_id)
    return await _figures(session, ResponseOrigin.surveyor_id, Person.name, path, lo, hi, join)


async def known_ballots(session: AsyncSession, keys: list[str]) -> set[str]:
    """Which of these ballot keys are loaded already."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        stmt = select(ResponseOrigin.ballot_key).where(ResponseOrigin.ballot_key.in_(chunk))
        found.update((await session.exec(stmt)).scalars())
    return found
