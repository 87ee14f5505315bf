"""The ZNS part of the fake Zalo (``FakeZalo`` mixes it in): the business API on its own
127.0.0.1 port, behind the same OA access tokens.

As far as we know ZNS (the reference, not the bot's code):

- ``POST /message/template`` takes ``phone`` (84 and nine digits), ``template_id``,
  ``template_data`` and ``tracking_id``; the template must exist and be approved and
  the data must fit its parameters; each accepted message takes one of the OA's
  ``daily_quota`` (then ``-144``); numbers in ``not_on_zalo`` answer ``-118``;
  ``zns_fail_next`` scripts failures. Answers carry ``data.msg_id`` and ``data.quota``.
- ``GET /template/info`` answers a template's state and ``listParams``;
- ``GET /rating/get`` pages through ratings in a time window (``total``, ``data``);
- ``rating_event`` builds the OA webhook event of a rating, signed as Zalo signs.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

RATING_PAGE_MAX = 100
_PHONE = re.compile(r"^84\d{9}$")


@dataclass
class ZnsSent:
    phone: str
    template_id: str
    data: dict[str, str]
    tracking_id: str
    msg_id: str
    at: float  # time.monotonic() on arrival
    mode: str | None = None


@dataclass
class Template:
    status: str = "ENABLE"
    params: list[dict[str, Any]] = field(default_factory=list)


def param(name: str, max_length: int = 30, required: bool = True) -> dict[str, Any]:
    """A template parameter as the template info lists it."""
    return {
        "name": name,
        "require": required,
        "type": "STRING",
        "maxLength": max_length,
        "minLength": 0,
        "acceptNull": not required,
    }


class FakeZnsMixin:
    """Needs ``self.access_tokens``, ``self._record``, ``self._answer``, ``self._serve``,
    ``self.signed`` and ``self.app_id`` from ``FakeZalo``."""

    def _init_zns(self) -> None:
        self.zns_base = ""
        self.zns_templates: dict[str, Template] = {}
        self.zns_sent: list[ZnsSent] = []
        self.zns_daily_quota = 1000
        self.not_on_zalo: set[str] = set()
        self.ratings: list[dict[str, Any]] = []
        self._zns_script: list[dict[str, Any]] = []
        self._zns_ids = itertools.count(1)

    async def _start_zns(self) -> None:
        zns = web.Application()
        zns.router.add_post("/message/template", self._zns_send)
        zns.router.add_get("/template/info", self._zns_template)
        zns.router.add_get("/rating/get", self._zns_ratings)
        zns.router.add_get("/message/quota", self._zns_quota)
        self.zns_base = await self._serve(zns)

    # --- controls ------------------------------------------------------------------

    def add_template(self, template_id: str, params: list[dict[str, Any]], status="ENABLE"):
        self.zns_templates[template_id] = Template(status, [dict(p) for p in params])

    def zns_fail_next(self, error: int, message: str = "failed") -> None:
        self._zns_script.append({"error": error, "message": message})

    def add_rating(
        self,
        tracking_id: str,
        rate: int,
        feedbacks: list[str] | None = None,
        note: str = "",
        *,
        msg_id: str | None = None,
        submit_ms: int | None = None,
    ) -> dict[str, Any]:
        """A rating a citizen gave; listed by ``/rating/get`` (its field names)."""
        item = {
            "rate": rate,
            "feedbacks": feedbacks or [],
            "note": note,
            "msgId": msg_id or f"zmsg{next(self._zns_ids):08d}",
            "submitDate": str(submit_ms or int(time.time() * 1000)),
            "trackingId": tracking_id,
        }
        self.ratings.append(item)
        return item

    def rating_event(self, item: dict[str, Any], name: str = "user_feedback") -> dict[str, Any]:
        """The OA webhook event of a rating (the webhook's field names)."""
        return {
            "app_id": self.app_id,
            "event_name": name,
            "oa_id": "1646000000000000001",
            "timestamp": str(int(time.time() * 1000)),
            "message": {
                "msg_id": item["msgId"],
                "tracking_id": item["trackingId"],
                "rate": item["rate"],
                "feedbacks": item["feedbacks"],
                "note": item["note"],
                "submit_time": item["submitDate"],
            },
        }

    # --- the API -------------------------------------------------------------------

    def _zns_token(self, request: web.Request) -> dict[str, Any] | None:
        if request.headers.get("access_token") not in self.access_tokens:
            return {"error": -124, "message": "Access token is invalid"}
        return None

    async def _zns_send(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        call = self._record("zns", request, body)
        if (problem := self._zns_token(request)) is not None:
            return self._answer(call, problem)
        if self._zns_script:
            return self._answer(call, self._zns_script.pop(0))
        if not isinstance(body, dict):
            return self._answer(call, {"error": -112, "message": "body is not JSON"})
        phone = str(body.get("phone") or "")
        template = self.zns_templates.get(str(body.get("template_id") or ""))
        data = body.get("template_data")
        tracking = str(body.get("tracking_id") or "")
        if not _PHONE.match(phone):
            return self._answer(call, {"error": -108, "message": "Phone number is invalid"})
        if template is None:
            return self._answer(call, {"error": -109, "message": "Template ID is invalid"})
        if template.status != "ENABLE":
            return self._answer(call, {"error": -131, "message": "Template is not approved"})
        if not isinstance(data, dict) or not data:
            return self._answer(call, {"error": -111, "message": "Template data is empty"})
        if len(tracking) > 48:
            return self._answer(call, {"error": -112, "message": "tracking_id is too long"})
        for p in template.params:
            value = data.get(p["name"])
            if (p["require"] and not value) or len(str(value or "")) > p["maxLength"]:
                return self._answer(call, {"error": -112, "message": "Template data invalid"})
        if set(data) - {p["name"] for p in template.params}:
            return self._answer(call, {"error": -112, "message": "Template data invalid"})
        if phone in self.not_on_zalo:
            message = "Zalo account does not exist or is disabled"
            return self._answer(call, {"error": -118, "message": message})
        if self.zns_daily_quota <= 0:
            return self._answer(call, {"error": -144, "message": "OA exceeded daily quota"})
        self.zns_daily_quota -= 1
        sent = ZnsSent(
            phone,
            str(body["template_id"]),
            {str(k): str(v) for k, v in data.items()},
            tracking,
            f"zns{next(self._zns_ids):010d}",
            time.monotonic(),
            body.get("mode"),
        )
        self.zns_sent.append(sent)
        return self._answer(
            call,
            {
                "error": 0,
                "message": "Success",
                "data": {
                    "msg_id": sent.msg_id,
                    "sent_time": str(int(time.time() * 1000)),
                    "quota": {"dailyQuota": "1000", "remainingQuota": str(self.zns_daily_quota)},
                },
            },
        )

    async def _zns_template(self, request: web.Request) -> web.Response:
        call = self._record("zns", request, None)
        if (problem := self._zns_token(request)) is not None:
            return self._answer(call, problem)
        template_id = request.query.get("template_id", "")
        template = self.zns_templates.get(template_id)
        if template is None:
            return self._answer(call, {"error": -109, "message": "Template ID is invalid"})
        data = {"templateId": template_id, "status": template.status, "listParams": template.params}
        return self._answer(call, {"error": 0, "message": "Success", "data": data})

    async def _zns_ratings(self, request: web.Request) -> web.Response:
        call = self._record("zns", request, None)
        if (problem := self._zns_token(request)) is not None:
            return self._answer(call, problem)
        try:
            start, end = int(request.query["from_time"]), int(request.query["to_time"])
            offset, limit = int(request.query["offset"]), int(request.query["limit"])
        except (KeyError, ValueError):
            return self._answer(call, {"error": -201, "message": "a parameter is invalid"})
        if not 0 < limit <= RATING_PAGE_MAX:
            return self._answer(call, {"error": -201, "message": "limit is invalid"})
        found = [r for r in self.ratings if start <= int(r["submitDate"]) <= end]
        page = found[offset : offset + limit]
        return self._answer(
            call, {"error": 0, "message": "Success", "data": {"total": len(found), "data": page}}
        )

    async def _zns_quota(self, request: web.Request) -> web.Response:
        call = self._record("zns", request, None)
        if (problem := self._zns_token(request)) is not None:
            return self._answer(call, problem)
        data = {"dailyQuota": "1000", "remainingQuota": str(self.zns_daily_quota)}
        return self._answer(call, {"error": 0, "message": "Success", "data": data})

    def zns_calls(self, path: str | None = None) -> list:
        return [c for c in self.calls if c.server == "zns" and (path is None or c.path == path)]
