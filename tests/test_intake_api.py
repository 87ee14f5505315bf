"""``POST /api/v1/dossiers``: the contract an e-system integrates against."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from bot.core.app import App
from bot.server import create_app
from bot.services.intake import next_send_time
from storage.models import Dossier, Outbox, SurveyInvite
from tests.builders import Citizen, make_org

KEY = "key-of-the-one-stop-system"
AUTH = {"Authorization": f"Bearer {KEY}"}
BODY = {
    "receipt_code": "000.00.20.H17-251120-0001",
    "unit_code": "P.W1",
    "procedure_code": "T-HT-01",
    "completed_at": "2026-11-24T08:15:00+07:00",
}


@pytest.fixture
async def api(settings, clock):
    """The HTTP app over a database with a small organisation; Telegram configured."""
    configured = settings.model_copy(
        update={"api_keys": f"other-key,{KEY}", "telegram_token": "123:fake"}
    )
    application = App(configured, clock=clock)
    await make_org(application)
    asgi = create_app(application, run_background=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://sipas.test"
    ) as client:
        client.sipas = application  # type: ignore[attr-defined]
        yield client
    await application.close()


async def count(app: App, model) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).scalar_one()


async def post(api, body, headers=AUTH) -> httpx.Response:
    return await api.post("/api/v1/dossiers", json=body, headers=headers)


async def test_a_dossier_gets_a_working_single_use_code(api):
    response = await post(api, BODY)
    assert response.status_code == 201, response.text
    out = response.json()
    code = out["code"]
    assert len(code) == 12 and out["code_display"] == f"{code[:4]}-{code[4:8]}-{code[8:]}"
    base = api.sipas.settings.public_url or "http://127.0.0.1:8080"
    assert out["web_link"] == f"{base}/chat?code={code}"
    assert out["qr_url"] == f"{base}/qr/{code}.png"
    assert out["zalo_instruction"].endswith(out["code_display"])
    assert out["telegram_link"] is None  # no bot username configured
    assert out["invitation"] == "not_requested" and out["invitation_send_after"] is None
    assert datetime.fromisoformat(out["expires_at"]) == api.sipas.now() + timedelta(days=30)

    async with api.sipas.db.read() as session:
        dossier = (await session.exec(select(Dossier))).scalars().one()
        invite = (await session.exec(select(SurveyInvite))).scalars().one()
    assert dossier.receipt_code == BODY["receipt_code"]
    assert dossier.completed_at == datetime(2026, 11, 24, 1, 15, tzinfo=UTC)
    # Hashed for lookups; the stored copy is encrypted, not the code itself.
    assert invite.dossier_id == dossier.id and invite.kind == "dossier"
    assert invite.code_hash == api.sipas.keys.code_hash(code)
    assert code not in (invite.code_enc or "") and invite.code_enc

    citizen = Citizen(api.sipas, "u-1")
    await citizen.say(out["code_display"].lower())
    assert "Phường Một" in await citizen.text() and "Đăng ký khai sinh" in await citizen.text()


async def test_the_same_receipt_returns_the_same_code_and_writes_nothing_new(api):
    first = await post(api, BODY)
    again = await post(api, BODY)
    # The same instant written in UTC is the same dossier.
    same_instant = await post(api, {**BODY, "completed_at": "2026-11-24T01:15:00Z"})
    assert first.status_code == 201
    assert again.status_code == 200 and same_instant.status_code == 200
    assert again.json() == first.json() == same_instant.json()
    assert await count(api.sipas, Dossier) == 1
    assert await count(api.sipas, SurveyInvite) == 1


async def test_a_receipt_known_with_other_details_is_a_conflict(api):
    assert (await post(api, BODY)).status_code == 201
    for change in (
        {"unit_code": "P.W2"},
        {"completed_at": "2026-11-24T09:00:00+07:00"},
    ):
        response = await post(api, {**BODY, **change})
        assert response.status_code == 409, change
        assert BODY["receipt_code"] in response.json()["detail"]
    assert await count(api.sipas, Dossier) == 1


async def test_a_receipt_recorded_without_a_code_gets_one_and_keeps_it(api):
    """Dossiers loaded before (demo data, another tool) have no readable code yet."""
    org_unit = (await post(api, {**BODY, "receipt_code": "X-1"})).json()["unit_code"]
    async with api.sipas.db.write() as session:
        await session.exec(SurveyInvite.__table__.delete())
    first = await post(api, {**BODY, "receipt_code": "X-1"})
    second = await post(api, {**BODY, "receipt_code": "X-1"})
    assert first.status_code == second.status_code == 200 and org_unit == "P.W1"
    assert first.json()["code"] == second.json()["code"]
    assert await count(api.sipas, SurveyInvite) == 1


async def test_a_local_time_without_offset_is_read_in_the_deployment_zone(api):
    response = await post(api, {**BODY, "completed_at": "2026-11-24 08:15"})
    assert response.status_code == 201
    async with api.sipas.db.read() as session:
        dossier = (await session.exec(select(Dossier))).scalars().one()
    assert dossier.completed_at == datetime(2026, 11, 24, 1, 15, tzinfo=UTC)


def _without(key: str) -> dict:
    return {k: v for k, v in BODY.items() if k != key}


INVALID = [
    (_without("receipt_code"), ["body", "receipt_code"], "missing"),
    (_without("unit_code"), ["body", "unit_code"], "missing"),
    (_without("procedure_code"), ["body", "procedure_code"], "missing"),
    (_without("completed_at"), ["body", "completed_at"], "missing"),
    ({**BODY, "receipt_code": "  "}, ["body", "receipt_code"], "string_too_short"),
    ({**BODY, "receipt_code": "R" * 65}, ["body", "receipt_code"], "string_too_long"),
    ({**BODY, "receipt_code": "R<1>"}, ["body", "receipt_code"], "string_pattern_mismatch"),
    ({**BODY, "receipt_code": 12}, ["body", "receipt_code"], "string_type"),
    ({**BODY, "unit_code": "P W1"}, ["body", "unit_code"], "string_pattern_mismatch"),
    (
        {**BODY, "completed_at": "24/11/2026"},
        ["body", "completed_at"],
        "datetime_from_date_parsing",
    ),
    ({**BODY, "completed_at": "1999-12-31T10:00:00Z"}, ["body", "completed_at"], "value_error"),
    (
        {**BODY, "completed_at": "2026-11-24T12:00:00+07:00"},
        ["body", "completed_at"],
        "future_time",
    ),
    ({**BODY, "extra": 1}, ["body", "extra"], "extra_forbidden"),
    (
        {**BODY, "citizen": {"channel": "sms", "user_id": "1"}},
        ["body", "citizen", "channel"],
        "literal_error",
    ),
    (
        {**BODY, "citizen": {"channel": "zalo", "user_id": "abc"}},
        ["body", "citizen", "user_id"],
        "string_pattern_mismatch",
    ),
    # a chat account needs both fields (a citizen may instead come with a phone number)
    ({**BODY, "citizen": {"channel": "zalo"}}, ["body", "citizen"], "value_error"),
    (
        {**BODY, "citizen": {"channel": "zalo", "user_id": "1"}},
        ["body", "citizen", "channel"],
        "channel_off",
    ),
    ({**BODY, "unit_code": "NOPE"}, ["body", "unit_code"], "unknown_unit"),
    ({**BODY, "procedure_code": "NOPE"}, ["body", "procedure_code"], "unknown_procedure"),
    ([BODY], ["body"], "model_attributes_type"),
]


async def test_every_invalid_field_is_a_422_naming_it(api):
    # The clock is 09:00 local, so 12:00 the same day is in the future.
    for body, loc, kind in INVALID:
        response = await post(api, body)
        assert response.status_code == 422, (body, response.text)
        errors = response.json()["detail"]
        assert [e["loc"] for e in errors] == [loc], (body, errors)
        assert errors[0]["type"] == kind and errors[0]["msg"], (body, errors)
    assert await count(api.sipas, Dossier) == 0 and await count(api.sipas, Outbox) == 0


async def test_every_unknown_reference_is_named_at_once(api):
    """The checks against the database name every bad field in one 422, not the first."""
    body = {
        **BODY,
        "unit_code": "NOPE",
        "procedure_code": "NOPE-2",
        "completed_at": "2026-11-24T12:00:00+07:00",  # the clock says 09:00 local
        "citizen": {"channel": "zalo", "user_id": "1234567890"},  # no Zalo on this server
    }
    response = await post(api, body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["body", "unit_code"], "unknown_unit"),
        (["body", "procedure_code"], "unknown_procedure"),
        (["body", "completed_at"], "future_time"),
        (["body", "citizen", "channel"], "channel_off"),
    ]
    assert await count(api.sipas, Dossier) == 0


async def test_unreadable_bodies_are_refused_without_a_trace(api):
    bad_json = await api.post(
        "/api/v1/dossiers",
        content=b"{not json",
        headers={**AUTH, "content-type": "application/json"},
    )
    assert bad_json.status_code == 422 and bad_json.json()["detail"][0]["type"] == "json_invalid"
    not_text = await api.post(
        "/api/v1/dossiers",
        content=b"\x80",
        headers={**AUTH, "content-type": "application/json"},
    )
    assert not_text.status_code == 400
    assert await count(api.sipas, Dossier) == 0


async def test_without_a_valid_key_nothing_happens(api):
    wrong = [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY}x"},
        {"Authorization": "Bearer "},
    ]
    for headers in wrong:
        # Invalid bodies are not even looked at: the key comes first.
        for body in (BODY, {}):
            response = await post(api, body, headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"] == "Bearer"
    assert await count(api.sipas, Dossier) == 0


async def test_no_key_configured_means_no_access(settings, clock):
    application = App(settings, clock=clock)  # SIPAS_API_KEYS unset
    asgi = create_app(application, run_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://t") as c:
        assert (await post(c, BODY, headers={"Authorization": "Bearer "})).status_code == 401
        assert (await post(c, BODY, headers={"Authorization": "Bearer x"})).status_code == 401
    await application.close()


# --- invitations ---------------------------------------------------------------------------


async def outbox_rows(app: App) -> list[Outbox]:
    async with app.db.read() as session:
        return list((await session.exec(select(Outbox).order_by(Outbox.id))).scalars())


async def test_the_citizen_is_invited_through_the_outbox_once_a_week(api, clock):
    app = api.sipas
    citizen = {"channel": "telegram", "user_id": "5550001"}
    first = await post(api, {**BODY, "citizen": citizen})
    assert first.status_code == 201
    assert first.json()["invitation"] == "queued"
    assert datetime.fromisoformat(first.json()["invitation_send_after"]) == clock.now
    [row] = await outbox_rows(app)
    assert (row.channel, row.recipient, row.status) == ("telegram", "5550001", "pending")
    assert row.not_before == clock.now
    text = row.payload["text"]
    assert first.json()["code_display"] in text and "Phường Một" in text
    assert "Kính chào Ông/Bà" in text and first.json()["web_link"] in text
    async with app.db.read() as session:
        dossier = (await session.exec(select(Dossier))).scalars().one()
    assert dossier.citizen_hash == app.keys.user_hash("telegram", "5550001")
    assert "5550001" not in str(dossier.model_dump())

    # A replay sends nothing more and says what was decided the first time.
    replay = await post(api, {**BODY, "citizen": citizen})
    assert replay.status_code == 200 and replay.json()["invitation"] == "queued"

    clock.advance(days=6, hours=23)
    second = await post(api, {**BODY, "receipt_code": "R-2", "citizen": citizen})
    assert second.status_code == 201 and second.json()["invitation"] == "skipped_recent"
    other = await post(
        api, {**BODY, "receipt_code": "R-3", "citizen": {**citizen, "user_id": "5550002"}}
    )
    assert other.json()["invitation"] == "queued"
    clock.advance(hours=2)  # seven days after the first invitation
    third = await post(api, {**BODY, "receipt_code": "R-4", "citizen": citizen})
    assert third.json()["invitation"] == "queued"
    assert [r.recipient for r in await outbox_rows(app)] == ["5550001", "5550002", "5550001"]


async def test_at_night_the_invitation_waits_for_the_morning(api, clock):
    clock.now = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 22:30 in Hà Nội
    body = {**BODY, "completed_at": "2026-11-24T22:00:00+07:00"}
    response = await post(api, {**body, "citizen": {"channel": "telegram", "user_id": "42"}})
    morning = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)  # 07:30 the next day
    assert datetime.fromisoformat(response.json()["invitation_send_after"]) == morning
    [row] = await outbox_rows(app := api.sipas)
    assert row.not_before == morning
    async with app.db.read() as session:
        assert (await session.exec(select(Dossier.invited_at))).scalar_one() == morning


def test_the_sending_window():
    from zoneinfo import ZoneInfo

    tz, window = (
        ZoneInfo("Asia/Ho_Chi_Minh"),
        (
            datetime.strptime("07:30", "%H:%M").time(),
            datetime.strptime("21:00", "%H:%M").time(),
        ),
    )

    def local(day: int, hh: int, mm: int = 0) -> datetime:
        return datetime(2026, 11, day, hh, mm, tzinfo=tz)

    assert next_send_time(local(24, 7, 30), tz, window) == local(24, 7, 30)
    assert next_send_time(local(24, 20, 59), tz, window) == local(24, 20, 59)
    assert next_send_time(local(24, 21, 0), tz, window) == local(25, 7, 30)
    assert next_send_time(local(24, 0, 5), tz, window) == local(24, 7, 30)
    assert next_send_time(local(24, 7, 29), tz, window) == local(24, 7, 30)
    # The answer keeps the zone it was asked in (UTC in storage).
    asked = local(24, 23).astimezone(UTC)
    assert next_send_time(asked, tz, window) == local(25, 7, 30)
    assert next_send_time(asked, tz, window).tzinfo == UTC


async def test_cooldown_and_hours_are_settings(settings, clock):
    from bot.core.settings import Settings

    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        Settings(invite_hours="7h-21h", _env_file=None)
    with pytest.raises(ValueError, match="start before"):
        Settings(invite_hours="21:00-07:30", _env_file=None)
    configured = settings.model_copy(
        update={
            "api_keys": KEY,
            "telegram_token": "1:x",
            "invite_cooldown_days": 0,
            "invite_hours": "10:00-11:00",
        }
    )
    app = App(configured, clock=clock)  # 09:00 local
    await make_org(app)
    asgi = create_app(app, run_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://t") as c:
        for n in range(2):
            body = {
                **BODY,
                "receipt_code": f"R-{n}",
                "citizen": {"channel": "telegram", "user_id": "7"},
            }
            out = (await post(c, body)).json()
            assert out["invitation"] == "queued"  # no cooldown at all
            assert datetime.fromisoformat(out["invitation_send_after"]) == clock.now + timedelta(
                hours=1
            )
    await app.close()


async def test_the_api_is_described_for_integrators(api):
    spec = (await api.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/dossiers"]["post"]
    assert {"200", "201", "400", "401", "409", "422"} <= set(operation["responses"])
    assert operation["security"] == [{"HTTPBearer": []}]
    assert (await api.get("/docs")).status_code == 200


async def test_concurrent_requests_agree(api):
    """Retries racing each other get one dossier and one code; one citizen, one invitation."""
    import asyncio

    same = await asyncio.gather(*(post(api, BODY) for _ in range(4)))
    assert sorted(r.status_code for r in same) == [200, 200, 200, 201]
    assert len({r.json()["code"] for r in same}) == 1
    citizen = {"channel": "telegram", "user_id": "99"}
    bodies = [{**BODY, "receipt_code": f"C-{n}", "citizen": citizen} for n in range(4)]
    answers = await asyncio.gather(*(post(api, body) for body in bodies))
    assert sorted(r.json()["invitation"] for r in answers) == ["queued"] + ["skipped_recent"] * 3
    assert len(await outbox_rows(api.sipas)) == 1
    assert await count(api.sipas, Dossier) == 5
