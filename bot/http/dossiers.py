"""``POST /api/v1/dossiers``: a one-stop e-system reports a completed dossier.

The answer carries the survey code to print on the receipt, with its links and QR URL.
Idempotent on the receipt code; errors are 422 with field-level details in FastAPI's
usual shape (``{"detail": [{"loc", "msg", "type"}]}``), 409 for a receipt registered
with other details, 401 without a valid API key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.http.auth import require_api_key
from bot.services import intake, invites
from flows.phone import normalise_phone
from flows.text import format_code

log = logging.getLogger(__name__)


class _NotJSON(ValueError):
    pass


def _refuse_constant(name: str) -> None:
    raise _NotJSON(f"{name} is not JSON")


class StrictJSONRoute(APIRoute):
    """Refuses ``NaN`` and ``Infinity`` with 400 before FastAPI reads the body.

    Python's JSON parser takes them, although JSON has no such values; FastAPI would
    then quote them in its 422 answer, which cannot be written as JSON (a 500). Every
    other body goes on to FastAPI's own parsing and validation unchanged.
    """

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            body = await request.body()
            try:
                json.loads(body, parse_constant=_refuse_constant)
            except _NotJSON as exc:
                return JSONResponse({"detail": f"malformed JSON: {exc}"}, status_code=400)
            except (ValueError, RecursionError):
                pass  # not JSON at all: FastAPI answers it as usual
            return await handler(request)

        return strict


router = APIRouter(prefix="/api/v1", tags=["integration"], route_class=StrictJSONRoute)

# Receipt numbers of one-stop e-systems look like "000.00.20.H17-251120-0001".
RECEIPT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/:\-]*$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_BEARER = HTTPBearer(auto_error=False, description="An API key from SIPAS_API_KEYS")


class Citizen(BaseModel):
    """How to reach the citizen, when the e-system knows it (for an invitation): their
    chat account, or their phone number (invited by Zalo ZNS when it is switched on)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    channel: Literal["telegram", "zalo"] | None = None
    user_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        pattern=r"^[0-9]+$",
        description="Telegram chat id or Zalo user id (digits)",
    )
    phone: str | None = Field(
        default=None,
        max_length=32,
        description="Vietnamese mobile number (0905 123 456, +84 905 123 456…); used only "
        "for a ZNS invitation, never stored in clear",
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)

    @model_validator(mode="after")
    def _reachable(self) -> Citizen:
        if (self.channel is None) != (self.user_id is None):
            raise ValueError("channel and user_id go together")
        if self.channel is None and self.phone is None:
            raise ValueError("give channel and user_id, or phone")
        return self


class DossierIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "receipt_code": "000.00.20.H17-251120-0001",
                    "unit_code": "DN.HAICHAU",
                    "procedure_code": "DEMO-HT-01",
                    "completed_at": "2025-11-20T14:30:00+07:00",
                }
            ]
        },
    )
    receipt_code: str = Field(min_length=1, max_length=64, pattern=RECEIPT_PATTERN)
    unit_code: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    procedure_code: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    completed_at: datetime = Field(
        description="When the result was handed over; without an offset it is local time "
        "(SIPAS_TIMEZONE)"
    )
    citizen: Citizen | None = None

    @field_validator("completed_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        # Also keeps far-off years from overflowing when converted between zones.
        if not 2000 <= value.year <= 2100:
            raise ValueError("must be between the years 2000 and 2100")
        return value


class InviteOut(BaseModel):
    receipt_code: str
    unit_code: str
    code: str = Field(description="the survey code, normalised (12 characters)")
    code_display: str = Field(description="the code as printed: XXXX-XXXX-XXXX")
    expires_at: datetime | None
    web_link: str
    qr_url: str
    telegram_link: str | None = Field(description="null when no Telegram bot is configured")
    zalo_instruction: str
    invitation: Literal["not_requested", "queued", "skipped_recent", "skipped_unreachable"] = Field(
        description="queued: sent to the citizen's chat (or by ZNS to their phone) at "
        "invitation_send_after; skipped_recent: the citizen was invited within "
        "SIPAS_INVITE_COOLDOWN_DAYS; skipped_unreachable: ZNS found no Zalo account for "
        "the phone number before"
    )
    invitation_send_after: datetime | None


class Problem(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    detail: list[FieldError]


@router.post(
    "/dossiers",
    summary="Register a completed dossier and get its survey code",
    response_model=InviteOut,
    status_code=201,
    responses={
        200: {"model": InviteOut, "description": "The receipt was registered before: same code"},
        400: {"model": Problem, "description": "The body could not be read as JSON text"},
        401: {"model": Problem, "description": "Missing or unknown API key"},
        409: {"model": Problem, "description": "The receipt is registered with other details"},
        422: {"model": Invalid, "description": "Invalid fields, unknown unit or procedure"},
    },
)
async def register_dossier(
    body: DossierIn,
    request: Request,
    _key: str = Depends(require_api_key),
    _scheme: object = Security(_BEARER),  # documents the scheme in OpenAPI; checked above
) -> JSONResponse:
    app = request.app.state.sipas
    citizen = body.citizen
    data = intake.DossierInput(
        **body.model_dump(exclude={"citizen"}),
        citizen_channel=citizen.channel if citizen else None,
        citizen_user_id=citizen.user_id if citizen else None,
        citizen_phone=citizen.phone if citizen else None,
    )
    try:
        async with app.db.write() as session:
            result = await intake.register(app, session, data)
    except intake.IntakeError as exc:
        errors = [
            {"loc": ["body", *field.split(".")], "msg": message, "type": kind}
            for field, message, kind in exc.problems
        ]
        return JSONResponse({"detail": errors}, status_code=422)
    except intake.DossierConflict as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    if result.created:
        log.info("dossier %s registered for %s", result.receipt_code, result.unit_code)
    out = InviteOut(
        receipt_code=result.receipt_code,
        unit_code=result.unit_code,
        code=result.code,
        code_display=format_code(result.code),
        expires_at=result.expires_at,
        web_link=invites.web_link(app, result.code),
        qr_url=invites.qr_url(app, result.code),
        telegram_link=invites.telegram_link(app, result.code),
        zalo_instruction=invites.zalo_instruction(result.code),
        invitation=result.invitation,  # type: ignore[arg-type]
        invitation_send_after=result.invitation_send_after,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if result.created else 200)
