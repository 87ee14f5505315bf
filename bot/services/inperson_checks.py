"""Stuffing checks of in-person phiếu, run by ``followup`` on every completed response:

- a counter tablet: ``SIPAS_STUFFING_DEVICE_RATINGS`` ratings within
  ``SIPAS_STUFFING_DEVICE_SECONDS`` (a shared device is never one respondent, so the
  per-respondent check cannot see a burst there);
- a surveyor: more than ``SIPAS_STUFFING_SURVEYOR_PER_HOUR`` phiếu within an hour, or
  ``SIPAS_STUFFING_SURVEYOR_IDENTICAL`` phiếu in a row with exactly the same answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.context import DbContext
from storage import origins

DEVICE, SURVEYOR, PATTERN = "device", "surveyor", "pattern"
KINDS = frozenset({DEVICE, SURVEYOR, PATTERN})
PATTERN_QUIET = timedelta(hours=24)  # a run of identical phiếu goes on this long


async def sources(ctx: DbContext, done) -> list[tuple[str, str, int, timedelta]]:
    """(kind, key, threshold, window) of the checks that apply to a completed response."""
    origin = done.origin
    if origin is None:
        return []
    s = ctx.app.settings
    found = []
    if origin.device_id is not None:
        span = timedelta(seconds=s.stuffing_device_seconds)
        found.append((DEVICE, str(origin.device_id), s.stuffing_device_ratings, span))
    if origin.surveyor_id is not None:
        key = str(origin.surveyor_id)
        found.append((SURVEYOR, key, s.stuffing_surveyor_per_hour + 1, timedelta(hours=1)))
        found.append((PATTERN, key, s.stuffing_surveyor_identical, PATTERN_QUIET))
    return found


async def window(ctx: DbContext, kind: str, key: str, since: datetime, until: datetime):
    """The responses a check counts: the tablet's or the surveyor's in the window, or the
    surveyor's latest run of identical phiếu (empty when the latest differ)."""
    if kind == DEVICE:
        return await origins.window(ctx.session, since, until, device_id=int(key))
    if kind == SURVEYOR:
        return await origins.window(ctx.session, since, until, surveyor_id=int(key))
    run = ctx.app.settings.stuffing_surveyor_identical
    latest = await origins.latest_by_surveyor(ctx.session, int(key), run)
    if len(latest) < run:
        return []
    patterns = await origins.answer_patterns(ctx.session, latest)
    if len(set(patterns.values())) != 1 or not patterns[latest[0]]:
        return []
    return sorted(latest)


def stuffing_text(t, unit_name: str, kind: str, n: int, span: timedelta) -> str:
    """What the nearest admin is told when a check starts flagging."""
    _ = t.gettext
    if kind == DEVICE:
        return _(
            "{unit}: {n} ratings from one counter tablet within {seconds} seconds are flagged "
            "as possible stuffing. They are left out of the figures until you decide: send "
            "/flags."
        ).format(unit=unit_name, n=t.number(n), seconds=int(span.total_seconds()))
    if kind == SURVEYOR:
        return _(
            "{unit}: one surveyor entered {n} questionnaires within an hour; they are flagged "
            "as possible stuffing and left out of the figures until you decide: send /flags."
        ).format(unit=unit_name, n=t.number(n))
    return _(
        "{unit}: one surveyor entered {n} questionnaires in a row with exactly the same "
        "answers; they are flagged as possible stuffing and left out of the figures until "
        "you decide: send /flags."
    ).format(unit=unit_name, n=t.number(n))
