"""``GET /api/v1/satisfaction`` and ``GET /api/v1/quotas``: the reports as JSON.

The same figures and the same shape as ``sipas-bot report … --format json`` (one
function builds both). Figures leave the system here, so satisfaction follows the
leaders' small-number rule (``SIPAS_PRIVACY_MIN_RESPONSES``, with complementary
suppression: ``report satisfaction --as-leader`` prints the same). API key in
``Authorization: Bearer``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from bot.http.auth import require_api_key
from bot.render import report_text as reporting
from flows.periods import Period, PeriodError
from flows.periods import parse as parse_period
from flows.privacy import Privacy
from storage import quotas as quota_store
from storage import reports, units

router = APIRouter(prefix="/api/v1", tags=["reports"], dependencies=[Depends(require_api_key)])

_UNIT = Query(None, description="unit code; default: the top unit")
_PERIOD = Query(
    None, description="10/2023, Q4/2023, quý 4/2023, 2023, tháng này… (default: this quarter)"
)
_FROM = Query(None, alias="from", description="first day, dd/mm/yyyy or yyyy-mm-dd")
_TO = Query(None, alias="to", description="last day, dd/mm/yyyy or yyyy-mm-dd")


def _unprocessable(field: str, message: str) -> HTTPException:
    # The same shape as FastAPI's own validation errors (the OpenAPI schema promises it).
    detail = [{"loc": ["query", field], "msg": message, "type": "value_error"}]
    return HTTPException(422, detail=detail)


def _day(value: str | None, field: str, today: date) -> date | None:
    if value is None:
        return None
    try:
        period = parse_period(value, today)
    except PeriodError:
        period = None
    if period is None or period.kind != "day":
        raise _unprocessable(field, f"not a day: {value!r} (use dd/mm/yyyy or yyyy-mm-dd)")
    return period.start


def _period(request: Request, period: str | None, start: str | None, end: str | None):
    app = request.app.state.sipas
    today = app.now().astimezone(app.tz).date()
    first, last = _day(start, "from", today), _day(end, "to", today)
    try:
        chosen: Period = reporting.choose_period(period, first, last, today)
    except ValueError as exc:
        raise _unprocessable("period", str(exc)) from None
    return app, chosen


async def _unit(session, code: str | None):
    if code:
        found = await units.by_code(session, code)
        if found is None:
            raise _unprocessable("unit", f"unknown unit {code!r}")
        return found
    top = await units.roots(session)
    if not top:
        raise _unprocessable("unit", "there are no units yet")
    return top[0]


@router.get("/satisfaction", summary="Satisfaction per unit, element and item")
async def satisfaction(
    request: Request,
    unit: str | None = _UNIT,
    period: str | None = _PERIOD,
    start: str | None = _FROM,
    end: str | None = _TO,
) -> dict[str, Any]:
    """Percentages of answers at 4–5 (two decimals: 83.94 means 83,94 %), respondents per
    channel, mean score and distribution, for the unit's subtree and each direct part of
    it. Items with fewer valid answers than ``min_responses`` (and any that would let
    one be worked out) are left out of every figure and named in ``withheld_items``;
    ``elements_counted`` of ``elements_total`` say what the SIPAS figure rests on."""
    app, chosen = _period(request, period, start, end)
    async with app.db.read() as session:
        root = await _unit(session, unit)
        report = await reports.satisfaction(session, root, chosen.start, chosen.end, app.tz)
    privacy = Privacy(app.settings.privacy_min_responses)
    return reporting.satisfaction_data(report, privacy)


@router.get("/quotas", summary="Questionnaires collected against quota targets")
async def quotas(
    request: Request,
    unit: str | None = _UNIT,
    period: str | None = _PERIOD,
    start: str | None = _FROM,
    end: str | None = _TO,
) -> list[dict[str, Any]]:
    """Every quota of the unit's subtree whose period overlaps the one asked for, with
    the questionnaires collected per channel (every channel counts)."""
    app, chosen = _period(request, period, start, end)
    async with app.db.read() as session:
        root = await _unit(session, unit)
        rows = await quota_store.quota_progress(session, root, chosen.start, chosen.end, app.tz)
    return reporting.quota_data(rows)
