"""A client for ZNS, Zalo's template messages by phone number, on the OA's token pair.

``ZnsClient`` sends a template to a phone number (``84…``) with its ``template_data`` and
our ``tracking_id``, reads a template's parameters (so wrong data is refused before a
paid send), reads the ratings of a rating template page by page, and reads the OA's
daily quota. It shares the OA client's call machinery: every answer's ``error`` is read,
an expired token is refreshed once. Zalo's names for fields vary between sources; they
are read through ``facts`` (``ZNS_*``), which lists every known variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.channels.zalo import facts
from bot.channels.zalo.client import ZaloError, ZaloOAClient, _int

MAX_NOTE = 2000  # characters of a rating's note we keep
MAX_REASONS = 10


@dataclass(frozen=True)
class ZnsSent:
    msg_id: str | None
    daily_quota: int | None
    remaining_quota: int | None


@dataclass(frozen=True)
class TemplateParam:
    name: str
    required: bool
    max_length: int | None
    min_length: int | None
    type: str


@dataclass(frozen=True)
class TemplateInfo:
    template_id: str
    status: str
    params: tuple[TemplateParam, ...]

    @property
    def approved(self) -> bool:
        return self.status.upper() in facts.ZNS_TEMPLATE_APPROVED

    def problems(self, data: dict[str, str]) -> list[str]:
        """Why Zalo would refuse ``data`` for this template (empty: it fits)."""
        found: list[str] = []
        known = {p.name: p for p in self.params}
        for name in sorted(set(data) - set(known)):
            found.append(f"parameter {name!r} is not in the template")
        for p in self.params:
            value = data.get(p.name)
            if value is None or value == "":
                if p.required:
                    found.append(f"parameter {p.name!r} is required")
                continue
            if p.max_length is not None and len(value) > p.max_length:
                found.append(f"parameter {p.name!r} is longer than {p.max_length} characters")
            if p.min_length is not None and len(value) < p.min_length:
                found.append(f"parameter {p.name!r} is shorter than {p.min_length} characters")
        return found


@dataclass(frozen=True)
class Rating:
    """A citizen's answer on a rating template."""

    msg_id: str
    tracking_id: str | None
    stars: int | None  # None when Zalo sent something that is not 1–5
    reasons: tuple[str, ...]
    note: str
    submitted_at: datetime | None


def _time(value: Any) -> datetime | None:
    ms = _int(value)
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def rating_from(item: dict[str, Any]) -> Rating | None:
    """A rating from an item of the rating list or from a rating webhook event (whose
    fields may sit in ``message`` or at the top level); None without a message id."""
    fields = facts.ZNS_RATING_FIELDS
    sources = [item]
    if isinstance(item.get("message"), dict):
        sources.insert(0, item["message"])

    def get(key: str) -> Any:
        for source in sources:
            value = facts.first_of(source, fields[key])
            if value is not None:
                return value
        return None

    msg_id = get("msg_id")
    if msg_id is None or not str(msg_id).strip() or len(str(msg_id)) > 128:
        return None
    stars = _int(get("stars"))
    reasons = get("reasons") or []
    if isinstance(reasons, str):
        reasons = [reasons]
    tracking = get("tracking_id")
    return Rating(
        msg_id=str(msg_id).strip(),
        tracking_id=str(tracking)[:64] if tracking not in (None, "") else None,
        stars=stars if stars is not None and 1 <= stars <= 5 else None,
        reasons=tuple(str(r)[:255] for r in list(reasons)[:MAX_REASONS] if str(r).strip()),
        note=str(get("note") or "")[:MAX_NOTE],
        submitted_at=_time(get("submitted")),
    )


def _param(raw: dict[str, Any]) -> TemplateParam:
    f = facts.ZNS_PARAM_FIELDS
    required = facts.first_of(raw, f["required"])
    return TemplateParam(
        name=str(facts.first_of(raw, f["name"]) or ""),
        required=required in (True, "true", "True", 1, "1"),
        max_length=_int(facts.first_of(raw, f["max_length"])),
        min_length=_int(facts.first_of(raw, f["min_length"])),
        type=str(facts.first_of(raw, f["type"]) or ""),
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class ZnsClient:
    """ZNS calls for one OA (``oa`` is an OA client whose base is the ZNS host)."""

    def __init__(self, oa: ZaloOAClient, *, development: bool = False) -> None:
        self.oa = oa
        self.development = development

    async def send_template(
        self, phone: str, template_id: str, data: dict[str, str], tracking_id: str
    ) -> ZnsSent:
        """Send a template to ``phone`` (``84…``); raises ``ZaloError`` on refusal."""
        if len(tracking_id) > facts.ZNS_TRACKING_MAX:
            raise ValueError(f"tracking_id longer than {facts.ZNS_TRACKING_MAX} characters")
        body: dict[str, Any] = {
            "phone": phone,
            "template_id": template_id,
            "template_data": data,
            "tracking_id": tracking_id,
        }
        if self.development:
            body.update(facts.ZNS_DEVELOPMENT_MODE)
        answer = await self.oa.post(facts.ZNS_SEND_PATH, body)
        payload = answer.get("data") or {}
        quota = payload.get("quota") or {}
        msg_id = facts.first_of(payload, facts.ZNS_RATING_FIELDS["msg_id"])
        return ZnsSent(
            str(msg_id) if msg_id else None,
            _int(facts.first_of(quota, facts.ZNS_QUOTA_FIELDS["daily"])),
            _int(facts.first_of(quota, facts.ZNS_QUOTA_FIELDS["remaining"])),
        )

    async def template_info(self, template_id: str) -> TemplateInfo:
        """A template's state and parameters."""
        answer = await self.oa.get(facts.ZNS_TEMPLATE_INFO_PATH, {"template_id": template_id})
        data = answer.get("data") or {}
        raw = next((data[k] for k in facts.ZNS_PARAM_LISTS if isinstance(data.get(k), list)), [])
        params = tuple(_param(p) for p in raw if isinstance(p, dict))
        return TemplateInfo(template_id, str(data.get("status") or ""), params)

    async def ratings(
        self, template_id: str, since: datetime, until: datetime, page: int = 0
    ) -> list[Rating]:
        """Every rating given on ``template_id`` between ``since`` and ``until``."""
        limit = page or facts.ZNS_RATING_PAGE
        found: list[Rating] = []
        offset = 0
        while True:
            query = {
                "template_id": template_id,
                "from_time": _ms(since),
                "to_time": _ms(until),
                "offset": offset,
                "limit": limit,
            }
            answer = await self.oa.get(facts.ZNS_RATING_PATH, query)
            data = answer.get("data") or {}
            items = data.get("data") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise ZaloError(None, "rating list without data.data")
            found += [r for i in items if isinstance(i, dict) and (r := rating_from(i))]
            offset += len(items)
            total = _int(data.get("total")) if isinstance(data, dict) else None
            if not items or (total is not None and offset >= total) or len(items) < limit:
                return found

    async def quota(self) -> tuple[int | None, int | None]:
        """The OA's (daily quota, remaining today) as Zalo counts them."""
        answer = await self.oa.get(facts.ZNS_QUOTA_PATH)
        data = answer.get("data") or {}
        return (
            _int(facts.first_of(data, facts.ZNS_QUOTA_FIELDS["daily"])),
            _int(facts.first_of(data, facts.ZNS_QUOTA_FIELDS["remaining"])),
        )
