"""The Zalo OA channel against a fake Zalo on 127.0.0.1: signed webhooks in, real httpx
requests out, tokens refreshed once, Zalo's limits and error codes honoured."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels.zalo import adapter as zalo
from bot.channels.zalo import facts
from bot.channels.zalo.adapter import decode_payload, encode_payload, open_channel, render
from bot.channels.zalo.client import ZaloAuthError, ZaloButton
from bot.channels.zalo.tokens import CREDENTIAL
from bot.core import engine
from bot.core.app import App
from bot.core.keys import Keyring
from bot.core.outbox_sender import Limits, OutboxSender
from bot.server import background_services, create_app
from bot.services.notify import notify_person
from flows.contract import Reply
from flows.text import format_code
from storage import credentials, outbox
from storage.models import (
    Answer,
    Conversation,
    InboundEvent,
    Outbox,
    Person,
    PersonChannel,
    Response,
)
from storage.outbox import NewMessage
from tests.builders import make_org, new_code, new_registration
from tests.conftest import make_settings
from tests.fake_zalo import FakeZalo

LIMITS = Limits(per_chat_interval=0, max_attempts=4)


@pytest.fixture
async def fake():
    async with FakeZalo() as server:
        yield server


def zalo_settings(db_url, data_dir, fake: FakeZalo, **overrides):
    values = {
        "zalo_app_id": fake.app_id,
        "zalo_app_secret": fake.app_secret,
        "zalo_oa_secret": fake.oa_secret,
        "zalo_api_base": fake.api_base,
        "zalo_oauth_base": fake.oauth_base,
    }
    values.update(overrides)
    return make_settings(db_url, data_dir, **values)


@pytest.fixture
async def zapp(db_url, tmp_path, clock, fake):
    access, refresh = fake.issue_pair()
    settings = zalo_settings(
        db_url, tmp_path / "data", fake, zalo_access_token=access, zalo_refresh_token=refresh
    )
    application = App(settings, clock=clock)
    yield application
    await application.close()


class World:
    """The bot (webhook in-process over ASGI, sender with a real httpx client) and Zalo."""

    def __init__(self, app: App, fake: FakeZalo, channel, http: httpx.AsyncClient) -> None:
        self.app = app
        self.fake = fake
        self.channel = channel
        self.http = http
        self.sender = OutboxSender(app, channel.transport, LIMITS)
        self.org = None

    async def post(self, event: dict, *, prefix: str = "") -> httpx.Response:
        body, headers = self.fake.signed(event, prefix=prefix)
        return await self.http.post("/webhooks/zalo", content=body, headers=headers)

    async def drain(self) -> None:
        while await self.sender.run_once():
            pass


@pytest.fixture
async def world(zapp, fake):
    api = create_app(zapp, run_background=False)
    transport = httpx.ASGITransport(app=api)
    async with (
        open_channel(zapp) as channel,
        httpx.AsyncClient(transport=transport, base_url="http://sipas.test") as http,
    ):
        yield World(zapp, fake, channel, http)


class ZaloUser:
    """A citizen on Zalo: sends texts, presses buttons of what they last received."""

    def __init__(self, world: World, user_id: str) -> None:
        self.world = world
        self.user_id = user_id
        self.seen = 0

    async def _send(self, text: str) -> list:
        response = await self.world.post(self.world.fake.text_event(self.user_id, text))
        assert response.status_code == 200, response.text
        await self.world.drain()
        messages = self.world.fake.messages_to(self.user_id)
        new, self.seen = messages[self.seen :], len(messages)
        return new

    async def say(self, text: str) -> list:
        return await self._send(text)

    async def press(self, title: str) -> list:
        for message in reversed(self.world.fake.messages_to(self.user_id)):
            for button in message.buttons:
                if button["title"] == title:
                    return await self._send(button["payload"])
        raise AssertionError(f"no button {title!r}")


async def count(app: App, model) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()[0]


async def answers(app: App) -> dict[str, int | None]:
    async with app.db.read() as session:
        rows = (await session.exec(select(Answer.item_code, Answer.value))).all()
    return dict(rows)


async def the_response(app: App) -> Response:
    async with app.db.read() as session:
        return (await session.exec(select(Response))).scalars().one()


# --- the citizen's survey --------------------------------------------------------------


async def test_full_survey_with_button_presses(world):
    org = await make_org(world.app)
    code = await new_code(world.app, org.ward, procedure=org.procedure)
    citizen = ZaloUser(world, "5510000000000000001")

    # One message a question: the five levels as buttons, "skip" named as a typed word.
    greeting, question = await citizen.say(f"DG {format_code(code)}")
    assert "Phường Một" in greeting.text and not greeting.buttons
    assert "Câu 1/6" in question.text and "Gõ “bỏ qua” để bỏ qua câu này" in question.text
    assert [b["title"] for b in question.buttons] == [
        "Rất không hài lòng",
        "Không hài lòng",
        "Bình thường",
        "Hài lòng",
        "Rất hài lòng",
    ]
    assert all(b["type"] == "oa.query.hide" for b in question.buttons)
    assert all(m.text != zalo.CONTINUATION for m in world.fake.delivered)

    # Each next message begins with the answer recorded.
    (offer,) = await citizen.press("Rất hài lòng")
    assert offer.text.startswith("✓ Rất hài lòng\n")
    assert [b["title"] for b in offer.buttons] == ["Có, tiếp tục", "Không, kết thúc"]
    (question,) = await citizen.press("Có, tiếp tục")
    assert question.text.startswith("✓ Có, tiếp tục\n") and "Câu 2/6" in question.text
    assert "“quay lại”" in question.text and len(question.buttons) == 5
    await citizen.press("Hài lòng")  # E1 = 4
    (again,) = await citizen.say("quay lại")
    assert "Câu 2/6" in again.text and "Hài lòng" in again.text  # the earlier answer shown
    (question,) = await citizen.press("Rất hài lòng")  # E1 again, now 5
    assert question.text.startswith("✓ Rất hài lòng\n") and "Câu 3/6" in question.text
    await citizen.press("Bình thường")  # E2 = 3
    (question,) = await citizen.say("bỏ qua")  # E3 skipped
    assert question.text.startswith("✓ Bỏ qua\n") and "Câu 5/6" in question.text
    await citizen.press("Hài lòng")  # E4 = 4
    (comment,) = await citizen.press("Rất hài lòng")  # E5 = 5
    assert [b["title"] for b in comment.buttons] == ["Bỏ qua"]
    (thanks,) = await citizen.press("Bỏ qua")
    assert "đã trả lời 5/6 câu hỏi" in thanks.text

    response = await the_response(world.app)
    assert response.status == "completed" and response.channel == "zalo"
    expected = {"overall": 5, "E1": 5, "E2": 3, "E3": None, "E4": 4, "E5": 5}
    assert await answers(world.app) == expected
    # Every message went out within Zalo's limits, once.
    assert all(len(m.buttons) <= facts.MAX_BUTTONS for m in world.fake.delivered)
    async with world.app.db.read() as session:
        statuses = (await session.exec(select(Outbox.status))).scalars().all()
    assert set(statuses) == {"sent"}


async def test_pressing_an_earlier_questions_button_changes_no_answer_silently(world):
    org = await make_org(world.app)
    code = await new_code(world.app, org.ward, procedure=org.procedure)
    citizen = ZaloUser(world, "5510000000000000031")
    _greeting, first = await citizen.say(code)
    await citizen.press("Hài lòng")  # overall = 4
    await citizen.press("Có, tiếp tục")
    await citizen.press("Bình thường")  # E1 = 3; now at question 3
    # Scrolling up and tapping question 1's "Rất không hài lòng":
    stale = next(b for b in first.buttons if b["title"] == "Rất không hài lòng")
    (reply,) = await citizen._send(stale["payload"])
    assert "giữ nguyên" in reply.text and "Câu 3/6" in reply.text
    assert not reply.text.startswith("✓")
    assert await answers(world.app) == {"overall": 4, "E1": 3}


async def test_full_survey_with_typed_answers(world):
    org = await make_org(world.app)
    code = await new_code(world.app, org.ward)
    citizen = ZaloUser(world, "5510000000000000002")

    replies = await citizen.say(code.lower())
    assert "Câu 1/6" in replies[1].text
    await citizen.say("5")
    await citizen.say("có")
    await citizen.say("hài lòng")  # E1 = 4
    await citizen.say("quay lại")
    await citizen.say("rất hài lòng")  # E1 = 5
    why, more = await citizen.say("2 vì chờ lâu")  # E2 = 2: asks what went wrong
    assert len(why.buttons) == 5 and [b["title"] for b in more.buttons] == ["Lý do khác"]
    await citizen.say("Chờ đợi lâu")
    replies = await citizen.say("không")  # no call back
    assert "Câu 4/6" in replies[1].text
    await citizen.say("bỏ qua")  # E3 skipped
    await citizen.say("4")
    await citizen.say("5")
    (thanks,) = await citizen.say("Cán bộ rất nhiệt tình")
    assert "đã trả lời 5/6 câu hỏi" in thanks.text

    response = await the_response(world.app)
    assert response.status == "completed" and response.comment == "Cán bộ rất nhiệt tình"
    expected = {"overall": 5, "E1": 5, "E2": 2, "E3": None, "E4": 4, "E5": 5}
    assert await answers(world.app) == expected


async def test_a_typed_imitation_of_a_button_is_only_text(world):
    org = await make_org(world.app)
    code = await new_code(world.app, org.ward)
    citizen = ZaloUser(world, "5510000000000000003")
    await citizen.say(code)
    forged = "sipas:a:0:1:0123456789"
    replies = await citizen.say(forged)
    assert replies[0].text.startswith("Xin lỗi, tôi chưa hiểu ý Ông/Bà.")
    assert "Câu 1/6" in replies[0].text
    assert await answers(world.app) == {}


async def test_an_invitation_button_starts_the_survey(world):
    org = await make_org(world.app)
    code = await new_code(world.app, org.ward)
    user = "5510000000000000004"
    invitation = {
        "text": "Mời Ông/Bà đánh giá",
        "buttons": [{"label": "Đánh giá ngay", "payload": f"/start {code}"}],
    }
    async with world.app.db.write() as session:
        await outbox.enqueue(session, [NewMessage("zalo", user, invitation)], world.app.now())
    await world.drain()
    (message,) = world.fake.messages_to(user)
    assert message.buttons[0]["payload"] == f"/start {code}"  # a command travels as typed
    citizen = ZaloUser(world, user)
    citizen.seen = 1
    replies = await citizen.press("Đánh giá ngay")
    assert "Câu 1/6" in replies[1].text
    assert (await the_response(world.app)).status == "in_progress"


# --- webhook security and events ----------------------------------------------------


async def stored(app: App) -> tuple[int, int, int]:
    return (
        await count(app, InboundEvent),
        await count(app, Outbox),
        await count(app, Conversation),
    )


async def test_bad_or_missing_signature_stores_nothing(world, caplog):
    event = world.fake.text_event("5510000000000000005", "xin chào")
    body, headers = world.fake.signed(event)

    missing = {k: v for k, v in headers.items() if k != "X-ZEvent-Signature"}
    response = await world.http.post("/webhooks/zalo", content=body, headers=missing)
    assert response.status_code == 401

    wrong = FakeZalo(app_id=world.fake.app_id, oa_secret="another-oa-secret")
    _, wrong_headers = wrong.signed(event)
    response = await world.http.post("/webhooks/zalo", content=body, headers=wrong_headers)
    assert response.status_code == 401

    tampered = body.replace("xin chào".encode(), b"/start ABCD")
    response = await world.http.post("/webhooks/zalo", content=tampered, headers=headers)
    assert response.status_code == 401

    # Signed with the app secret instead of the OA secret (a common mistake): refused.
    confused = FakeZalo(app_id=world.fake.app_id, oa_secret=world.fake.app_secret)
    _, confused_headers = confused.signed(event)
    response = await world.http.post("/webhooks/zalo", content=body, headers=confused_headers)
    assert response.status_code == 401

    assert await stored(world.app) == (0, 0, 0)
    reasons = [r.getMessage() for r in caplog.records if "zalo webhook refused" in r.getMessage()]
    assert reasons == [
        "zalo webhook refused: no signature header",
        "zalo webhook refused: signature does not match",
        "zalo webhook refused: signature does not match",
        "zalo webhook refused: signature does not match",
    ]
    assert not any("xin chào" in r.getMessage() for r in caplog.records)  # no body in logs


@pytest.mark.parametrize("prefix", ["", "mac="])
async def test_both_known_signature_forms_are_accepted_and_replays_change_nothing(world, prefix):
    event = world.fake.text_event("5510000000000000006", "xin chào")
    response = await world.post(event, prefix=prefix)
    assert response.status_code == 200
    after_first = await stored(world.app)
    assert after_first == (1, 1, 1)  # the event, the welcome reply, the conversation

    replay = await world.post(event, prefix=prefix)
    assert replay.status_code == 200
    assert await stored(world.app) == after_first


async def test_a_signature_in_capitals_is_accepted(world):
    event = world.fake.text_event("5510000000000000007", "xin chào")
    body, headers = world.fake.signed(event)
    headers["X-ZEvent-Signature"] = headers["X-ZEvent-Signature"].upper()
    response = await world.http.post("/webhooks/zalo", content=body, headers=headers)
    assert response.status_code == 200


async def test_a_numeric_timestamp_is_signed_as_its_digits(world):
    event = world.fake.text_event("5510000000000000023", "xin chào")
    event["timestamp"] = int(event["timestamp"])  # some deliveries send a number
    assert (await world.post(event)).status_code == 200


@pytest.mark.parametrize("template_type", [None, "button"])
async def test_both_known_button_message_forms_are_accepted(world, monkeypatch, template_type):
    monkeypatch.setattr(facts, "BUTTON_TEMPLATE_TYPE", template_type)
    user = "5510000000000000024"
    await enqueue(world.app, user, {"text": "Chọn", "buttons": buttons_of(2)})
    await world.drain()
    (call,) = world.fake.api_calls(facts.MESSAGE_CS_PATH)
    payload = call.body["message"]["attachment"]["payload"]
    assert payload.get("template_type") == template_type
    (message,) = world.fake.messages_to(user)
    assert message.text == "Chọn" and len(message.buttons) == 2


async def test_signed_garbage_is_refused_and_oversized_bodies_too(world):
    body = b'{"timestamp": "1717061839659", "event_name": '  # cut off
    mac = world.fake.signature(body, "1717061839659")
    response = await world.http.post(
        "/webhooks/zalo", content=body, headers={"X-ZEvent-Signature": mac}
    )
    assert response.status_code == 400
    big = b'{"timestamp": "1", "x": "' + b"a" * (zalo.MAX_BODY + 1) + b'"}'
    response = await world.http.post(
        "/webhooks/zalo", content=big, headers={"X-ZEvent-Signature": "0" * 64}
    )
    assert response.status_code == 413
    assert await stored(world.app) == (0, 0, 0)


async def test_follow_unfollow_media_and_ignored_events(world):
    fake, citizen, official = world.fake, "5510000000000000008", "5510000000000000018"
    follow = fake.event("follow", citizen)
    assert (await world.post(follow)).status_code == 200
    assert (await world.post(follow)).status_code == 200  # a redelivery: no second greeting
    image = fake.event(
        "user_send_image",
        citizen,
        message={"msg_id": "img1", "attachments": [{"type": "image", "payload": {"url": "x"}}]},
    )
    assert (await world.post(image)).status_code == 200
    await world.drain()
    greeting, hint = fake.messages_to(citizen)
    assert greeting.text.startswith("Kính chào Ông/Bà!") and "mã khảo sát" in greeting.text
    assert hint.text.startswith("Xin lỗi, tôi chỉ đọc được tin nhắn chữ và các nút bấm.")

    before = await stored(world.app)
    for name in ("oa_send_text", "user_seen_message", "user_received_message", "something_new"):
        response = await world.post(fake.event(name, citizen, message={"msg_id": name}))
        assert response.status_code == 200 and response.json()["ignored"] is True
    assert await stored(world.app) == before

    org = await make_org(world.app)
    registration = await new_registration(world.app, org.ward, "official")
    assert (await world.post(fake.text_event(official, registration))).status_code == 200
    assert (await world.post(fake.event("unfollow", official))).status_code == 200
    async with world.app.db.read() as session:
        link = (await session.exec(select(PersonChannel))).scalars().one()
    assert link.channel_user_id == official and link.unreachable_reason == "unfollowed"


async def test_a_failure_while_processing_answers_500_and_the_redelivery_works(world, monkeypatch):
    event = world.fake.text_event("5510000000000000009", "xin chào")
    real = engine.handle

    async def broken(app, inbound, also=()):
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine, "handle", broken)
    assert (await world.post(event)).status_code == 500
    monkeypatch.setattr(engine, "handle", real)
    assert (await world.post(event)).status_code == 200
    assert await stored(world.app) == (1, 1, 1)


# --- tokens ----------------------------------------------------------------------------


async def enqueue(app: App, user: str, payload: dict) -> None:
    async with app.db.write() as session:
        await outbox.enqueue(session, [NewMessage("zalo", user, payload)], app.now())


async def rows(app: App) -> list[Outbox]:
    async with app.db.read() as session:
        return list((await session.exec(select(Outbox).order_by(Outbox.id))).scalars().all())


def trace(fake: FakeZalo) -> list[tuple[str, str, object]]:
    return [(c.server, c.path, c.answer.get("error")) for c in fake.calls]


async def test_an_expired_token_during_a_send_is_refreshed_once_and_sent_once(world):
    fake, app = world.fake, world.app
    env_refresh = app.settings.zalo_refresh_token.get_secret_value()
    fake.expire_access_tokens()
    await enqueue(app, "5510000000000000010", {"text": "Nhắc việc: báo cáo quý"})
    await world.drain()

    assert trace(fake) == [
        ("api", facts.MESSAGE_CS_PATH, -216),
        ("oauth", facts.TOKEN_PATH, None),
        ("api", facts.MESSAGE_CS_PATH, 0),
    ]
    assert [m.text for m in fake.delivered] == ["Nhắc việc: báo cáo quý"]
    (row,) = await rows(app)
    assert row.status == "sent" and row.attempts == 1
    assert env_refresh in fake.spent_refresh_tokens
    pair = await world.channel.tokens.stored()
    assert pair.access_token in fake.access_tokens and pair.refresh_token in fake.refresh_tokens
    assert pair.expires_at == app.now() + timedelta(seconds=fake.expires_in)
    async with app.db.read() as session:
        raw = await credentials.get(session, CREDENTIAL)
    assert pair.access_token not in str(raw) and pair.refresh_token not in str(raw)  # encrypted

    await enqueue(app, "5510000000000000010", {"text": "Lần hai"})
    await world.drain()
    assert len(fake.oauth_calls()) == 1  # the new token serves the next send


async def test_a_token_refused_again_after_the_refresh_is_not_refreshed_twice(world):
    fake, app = world.fake, world.app
    user = "5510000000000000011"
    fake.user_errors[user] = (-216, "Access token is invalid")
    await enqueue(app, user, {"text": "x"})
    await world.sender.run_once()
    assert [c[0] for c in trace(fake)] == ["api", "oauth", "api"]
    (row,) = await rows(app)
    assert row.status == "pending" and "-216" in row.last_error
    assert row.not_before == app.now() + timedelta(seconds=300)


async def test_a_spent_refresh_token_keeps_the_message_and_the_stored_pair(world):
    fake, app = world.fake, world.app
    env_access = app.settings.zalo_access_token.get_secret_value()
    env_refresh = app.settings.zalo_refresh_token.get_secret_value()
    fake.refresh_tokens.discard(env_refresh)
    fake.spent_refresh_tokens.add(env_refresh)  # someone used it behind our back
    fake.expire_access_tokens()
    await enqueue(app, "5510000000000000012", {"text": "x"})
    await world.sender.run_once()
    (row,) = await rows(app)
    assert row.status == "pending" and "-14020" in row.last_error
    pair = await world.channel.tokens.stored()
    assert (pair.access_token, pair.refresh_token) == (env_access, env_refresh)


async def test_concurrent_refreshes_in_one_process_spend_the_refresh_token_once(world):
    fake, tokens = world.fake, world.channel.tokens
    fake.oauth_delay = 0.1
    stale = await tokens.access_token()
    fresh = await asyncio.gather(*(tokens.refresh(stale) for _ in range(6)))
    assert len(set(fresh)) == 1 and fresh[0] != stale and fresh[0] in fake.access_tokens
    assert len(fake.oauth_calls()) == 1


async def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(
    db_url, tmp_path, clock, fake
):
    access, refresh = fake.issue_pair()
    settings = zalo_settings(
        db_url, tmp_path / "data", fake, zalo_access_token=access, zalo_refresh_token=refresh
    )
    first, second = App(settings, clock=clock), App(settings, clock=clock)  # two engines
    try:
        async with open_channel(first) as one, open_channel(second) as two:
            assert await one.tokens.access_token() == await two.tokens.access_token() == access
            fake.oauth_delay = 0.3  # both are inside their refresh at the same time
            fresh = await asyncio.gather(one.tokens.refresh(access), two.tokens.refresh(access))
            assert fresh[0] == fresh[1] != access
            refreshes = fake.oauth_calls()
            assert len(refreshes) == 1 and refreshes[0].body["refresh_token"] == refresh
            assert (await one.tokens.stored()).access_token == fresh[0]
    finally:
        await first.close()
        await second.close()


async def test_the_token_is_refreshed_ahead_of_expiry(world, clock):
    fake, tokens = world.fake, world.channel.tokens
    await tokens.refresh(await tokens.access_token())  # now the expiry is known
    known = await tokens.access_token()
    clock.advance(seconds=fake.expires_in - 3600 - 60)
    assert await tokens.access_token() == known
    clock.advance(seconds=120)  # within the hour before expiry
    renewed = await tokens.access_token()
    assert renewed != known and len(fake.oauth_calls()) == 2
    assert fake.api_calls() == []  # no send had to fail first


async def test_a_failed_early_refresh_keeps_the_still_valid_token(world, clock):
    fake, tokens = world.fake, world.channel.tokens
    current = await tokens.refresh(await tokens.access_token())
    clock.advance(seconds=fake.expires_in - 600)  # ten minutes left
    fake.oauth_delay, fake.app_secret = 0, "rotated-by-someone"  # the OAuth server refuses
    assert await tokens.access_token() == current
    clock.advance(seconds=601)  # now expired: no pretending any more
    with pytest.raises(ZaloAuthError):
        await tokens.access_token()


async def test_a_working_pair_of_unknown_age_is_refreshed_only_near_its_assumed_expiry(
    world, clock
):
    fake, tokens = world.fake, world.channel.tokens
    access = await tokens.access_token()  # the pair from the environment, age unknown
    assert not await tokens.refresh_if_due()  # at start-up: it works, keep it
    clock.advance(hours=23, minutes=59)
    assert not await tokens.refresh_if_due() and await tokens.access_token() == access
    assert fake.oauth_calls() == []
    clock.advance(minutes=2)  # within the hour before 25 hours after it was stored
    assert await tokens.refresh_if_due()
    assert len(fake.oauth_calls()) == 1 and await tokens.access_token() != access
    assert (await tokens.stored()).expires_at is not None  # now the expiry is known
    assert not await tokens.refresh_if_due()


async def test_the_keeper_refreshes_when_the_token_is_due(world, clock):
    fake, tokens = world.fake, world.channel.tokens
    await tokens.access_token()  # the pair from the environment is stored
    clock.advance(hours=24, minutes=1)  # within the hour before its assumed expiry
    stop = asyncio.Event()
    keeper = asyncio.create_task(tokens.keep_fresh(stop, interval=0.05))
    for _ in range(200):
        if fake.oauth_calls():
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(keeper, 5)
    assert len(fake.oauth_calls()) == 1


async def test_a_new_pair_in_the_environment_replaces_the_stored_one(db_url, tmp_path, clock, fake):
    async def token_of(**env) -> str:
        app = App(zalo_settings(db_url, tmp_path / "data", fake, **env), clock=clock)
        try:
            async with open_channel(app) as channel:
                token = await channel.tokens.access_token()
                if env.pop("refresh", False):
                    token = await channel.tokens.refresh(token)
                return token
        finally:
            await app.close()

    access, refresh = fake.issue_pair()
    env = {"zalo_access_token": access, "zalo_refresh_token": refresh}
    refreshed = await token_of(**env, refresh=True)
    assert await token_of(**env) == refreshed  # a restart keeps the refreshed pair
    new_access, new_refresh = fake.issue_pair()  # an admin approved the app again
    env = {"zalo_access_token": new_access, "zalo_refresh_token": new_refresh}
    assert await token_of(**env) == new_access
    assert await token_of() == new_access  # and without any pair in the environment


async def test_without_any_token_messages_wait_for_a_connection(db_url, tmp_path, clock, fake):
    app = App(zalo_settings(db_url, tmp_path / "data", fake), clock=clock)
    try:
        await enqueue(app, "5510000000000000013", {"text": "x"})
        async with open_channel(app) as channel:
            await OutboxSender(app, channel.transport, LIMITS).run_once()
        (row,) = await rows(app)
        assert row.status == "pending" and "sipas-bot zalo connect" in row.last_error
        assert fake.calls == []
    finally:
        await app.close()


# --- Zalo's errors in the outbox ---------------------------------------------------------


async def linked_official(world: World, user: str, name: str) -> int:
    world.org = world.org or await make_org(world.app)
    code = await new_registration(world.app, world.org.ward, "official", name=name)
    assert (await world.post(world.fake.text_event(user, code))).status_code == 200
    await world.drain()
    async with world.app.db.read() as session:
        return (await session.exec(select(Person.id).where(Person.name == name))).scalars().one()


async def test_outside_window_and_blocked_users_are_dead_letters_and_marked(world):
    fake, app = world.fake, world.app
    window, blocked = "5510000000000000014", "5510000000000000015"
    people = {
        window: await linked_official(world, window, "Trần Thị Bình"),
        blocked: await linked_official(world, blocked, "Lê Văn Cường"),
    }
    fake.user_errors[window] = (-230, "User has not interacted with the OA in the past 7 days")
    fake.user_errors[blocked] = (-213, "User has not followed OA")
    async with app.db.write() as session:
        for pid in people.values():
            assert await notify_person(session, pid, Reply("Hạn nộp báo cáo: 20/12"), app.now())
    await world.drain()

    dead = [r for r in await rows(app) if r.status == "dead"]
    assert sorted((r.recipient, r.attempts) for r in dead) == [(window, 1), (blocked, 1)]
    assert any("-230" in r.last_error for r in dead) and any("-213" in r.last_error for r in dead)
    async with app.db.read() as session:
        links = (await session.exec(select(PersonChannel))).scalars().all()
    assert all(link.unreachable_at is not None for link in links)
    async with app.db.write() as session:  # no reachable account left: nothing is queued
        assert not await notify_person(session, people[window], Reply("x"), app.now())

    del fake.user_errors[window]  # the official writes again: reachable again
    assert (await world.post(fake.text_event(window, "/help"))).status_code == 200
    async with app.db.write() as session:
        assert await notify_person(session, people[window], Reply("Hạn nộp"), app.now())


async def test_transient_errors_are_retried_and_a_tier_error_is_not(world, clock):
    fake, app = world.fake, world.app
    user = "5510000000000000016"
    person = await linked_official(world, user, "Phạm Thị Dung")
    fake.fail_next(status=502, message="Bad gateway")
    fake.fail_next(error=-32, message="Your application reached limit call api")
    await enqueue(app, user, {"text": "Báo cáo"})
    await world.sender.run_once()
    assert (await rows(app))[-1].status == "pending"
    clock.advance(minutes=5)
    await world.sender.run_once()
    row = (await rows(app))[-1]
    assert row.status == "pending" and row.not_before == app.now() + timedelta(seconds=60)
    clock.advance(minutes=5)
    await world.sender.run_once()
    row = (await rows(app))[-1]
    assert (row.status, row.attempts) == ("sent", 3)
    assert [m.text for m in fake.messages_to(user)].count("Báo cáo") == 1

    fake.fail_next(error=-224, message="The OA needs to upgrade OA Tier Package")
    async with app.db.write() as session:
        await notify_person(session, person, Reply("Nhắc"), app.now())
    await world.drain()
    row = (await rows(app))[-1]
    assert row.status == "dead" and "-224" in row.last_error and row.attempts == 1
    async with app.db.read() as session:
        link = (await session.exec(select(PersonChannel))).scalars().one()
    assert link.unreachable_at is None  # the OA's problem, not the person's


async def test_an_unreachable_zalo_is_retried_later(sqlite_url, tmp_path, clock, fake):
    access, refresh = fake.issue_pair()
    settings = zalo_settings(
        sqlite_url,
        tmp_path / "data",
        fake,
        zalo_access_token=access,
        zalo_refresh_token=refresh,
        zalo_api_base="http://127.0.0.1:9",  # nothing listens there
    )
    app = App(settings, clock=clock)
    try:
        await enqueue(app, "5510000000000000025", {"text": "x"})
        async with open_channel(app) as channel:
            await OutboxSender(app, channel.transport, LIMITS).run_once()
        (row,) = await rows(app)
        assert row.status == "pending" and "ConnectError" in row.last_error
    finally:
        await app.close()


async def test_a_failure_in_the_middle_of_a_split_message_does_not_repeat_the_start(world, clock):
    fake, app = world.fake, world.app
    user = "5510000000000000017"
    buttons = [{"label": f"Mức {i}", "payload": f"a:0:{i}"} for i in range(1, 8)]
    fake.fail_next(after=1, status=503, message="busy")
    await enqueue(app, user, {"text": "Câu hỏi", "buttons": buttons})
    await world.sender.run_once()
    clock.advance(minutes=5)
    await world.sender.run_once()
    delivered = fake.messages_to(user)
    assert [(m.text, len(m.buttons)) for m in delivered] == [("Câu hỏi", 5), ("…", 2)]
    (row,) = await rows(app)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_attachments_are_uploaded_then_sent(world):
    from bot.render.qr import qr_png

    fake, app = world.fake, world.app
    user = "5510000000000000019"
    png = qr_png("https://example.org/chat?code=X")
    sheet = b"PK\x03\x04 not really a workbook"
    for filename, mime, data in (
        ("chart.png", "image/png", png),
        ("report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", sheet),
    ):
        attachment = {"filename": filename, "mime": mime, "data": base64.b64encode(data).decode()}
        await enqueue(app, user, {"text": f"Tệp {filename}", "attachment": attachment})
    await world.drain()
    paths = [c.path for c in fake.api_calls()]
    assert paths == [
        facts.MESSAGE_CS_PATH,
        facts.UPLOAD_IMAGE_PATH,
        facts.MESSAGE_CS_PATH,
        facts.MESSAGE_CS_PATH,
        facts.UPLOAD_FILE_PATH,
        facts.MESSAGE_CS_PATH,
    ]
    text1, image, text2, file = fake.messages_to(user)
    assert (text1.text, image.image, text2.text) == ("Tệp chart.png", png, "Tệp report.xlsx")
    assert file.file == ("report.xlsx", sheet)


async def test_long_texts_are_cut_at_line_ends(world):
    fake, app = world.fake, world.app
    user = "5510000000000000020"
    lines = [f"Dòng {i}: " + " ".join(["đánh giá"] * 8) for i in range(60)]
    await enqueue(app, user, {"text": "\n".join(lines)})
    await world.drain()
    parts = [m.text for m in fake.messages_to(user)]
    assert len(parts) == 3 and all(len(p) <= facts.MAX_TEXT for p in parts)
    assert "\n".join(parts).splitlines() == lines


async def test_the_client_reads_a_follower_profile(world):
    profile = await world.channel.client.get_profile("5510000000000000021")
    assert profile["display_name"] == "Người dùng 0021"
    with pytest.raises(ValueError):
        await world.channel.client.send_buttons("u", "x", [ZaloButton("b", "p")] * 6)


# --- rendering and payloads (no server) ----------------------------------------------------

KEYS = Keyring(b"test-secret")


def buttons_of(n: int) -> list[dict]:
    return [{"label": f"Nút {i}", "payload": f"x:{i}"} for i in range(n)]


@pytest.mark.parametrize(
    ("count", "groups"), [(0, []), (2, [2]), (5, [5]), (6, [5, 1]), (7, [5, 2]), (11, [5, 5, 1])]
)
def test_buttons_are_grouped_within_the_cap(count, groups):
    parts = render({"text": "Câu hỏi", "buttons": buttons_of(count)}, KEYS)
    assert [len(p.buttons) for p in parts if p.buttons] == groups
    assert parts[0].text == "Câu hỏi"
    assert all(p.text == zalo.CONTINUATION for p in parts[1:])


def test_buttons_with_a_typed_word_are_named_instead_when_they_do_not_fit():
    levels = [{"label": f"Mức {i}", "payload": f"a:0:{i}"} for i in range(1, 6)]
    worded = [
        {"label": "Bỏ qua", "payload": "a:0:s", "word": "bỏ qua"},
        {"label": "Quay lại", "payload": "a:0:b", "word": "quay lại"},
    ]
    hint = "Gõ “bỏ qua” để bỏ qua câu này, hoặc “quay lại” để trở về câu trước."
    payload = {"text": "Câu 2/6", "buttons": levels + worded, "typed_hint": hint, "ack": "Có"}
    (part,) = render(payload, KEYS)
    assert part.text == f"✓ Có\n\nCâu 2/6\n{hint}"
    assert [b.title for b in part.buttons] == [f"Mức {i}" for i in range(1, 6)]
    # When they fit, they stay buttons and the hint is not needed.
    (part,) = render({**payload, "buttons": levels[:3] + worded, "ack": None}, KEYS)
    assert part.text == "Câu 2/6" and len(part.buttons) == 5


def test_button_titles_are_kept_short_and_payloads_round_trip():
    long_label = "Rất " * 40
    (part,) = render({"text": "x", "buttons": [{"label": long_label, "payload": "a:3:5"}]}, KEYS)
    (button,) = part.buttons
    assert len(button.title) == facts.MAX_BUTTON_TITLE and button.title.endswith("…")
    assert decode_payload(KEYS, button.payload) == "a:3:5"
    assert decode_payload(Keyring(b"another-secret"), button.payload) is None
    assert decode_payload(KEYS, button.payload[:-1] + "0") in (None, "a:3:5")
    assert decode_payload(KEYS, "a:3:5") is None
    assert encode_payload(KEYS, "/start K7QM2XWD9RTE") == "/start K7QM2XWD9RTE"


def test_a_tampered_payload_is_not_a_button():
    encoded = encode_payload(KEYS, "t:12:done")
    forged = encoded.replace("t:12:", "t:13:")
    assert decode_payload(KEYS, encoded) == "t:12:done"
    assert decode_payload(KEYS, forged) is None


# --- wiring: serve and the command line --------------------------------------------------


async def test_serve_runs_the_zalo_sender_and_routes_only_when_configured(zapp, fake, settings):
    services = dict(background_services(zapp))
    assert "zalo" in services and "telegram" not in services
    stop = asyncio.Event()
    task = asyncio.create_task(services["zalo"](stop))
    await enqueue(zapp, "5510000000000000022", {"text": "Xin chào"})
    for _ in range(100):
        if fake.delivered:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert [m.text for m in fake.delivered] == ["Xin chào"]
    assert fake.oauth_calls() == []  # the pair works: no refresh at start-up

    plain = App(settings)  # no Zalo settings: no sender, no webhook route
    try:
        assert "zalo" not in dict(background_services(plain))
        api = create_app(plain, run_background=False)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://t"
        ) as http:
            assert (await http.post("/webhooks/zalo", content=b"{}")).status_code == 404
    finally:
        await plain.close()


def cli_env(db_url: str, directory, fake: FakeZalo) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")},
        "SIPAS_DATABASE_URL": db_url,
        "SIPAS_DATA_DIR": str(directory / "data"),
        "SIPAS_SECRET_KEY": "test-secret-key-not-for-production",
        "SIPAS_ZALO_APP_ID": fake.app_id,
        "SIPAS_ZALO_APP_SECRET": fake.app_secret,
        "SIPAS_ZALO_API_BASE": fake.api_base,
        "SIPAS_ZALO_OAUTH_BASE": fake.oauth_base,
        "SIPAS_PUBLIC_URL": "https://sipas.example.gov.vn",
    }


async def run_cli(env, *args: str, answer=None) -> tuple[int, str, str]:
    """``sipas-bot`` in a real process; ``answer(first_lines)`` gives what to type."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    typed = b""
    if answer is not None:
        lines = []
        while not any("?code=" in line for line in lines):
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, "the command ended before asking for the code"
            lines.append(line.decode())
        typed = answer(lines).encode() + b"\n"
    out, err = await asyncio.wait_for(proc.communicate(typed), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_connect_gets_the_first_pair_and_status_shows_it(sqlite_url, tmp_path, fake, clock):
    env = cli_env(sqlite_url, tmp_path, fake)
    code, out, _err = await run_cli(env, "zalo", "status")
    assert code == 0 and "Chưa có" in out

    def approve(lines: list[str]) -> str:
        url = next(line.strip() for line in lines if "/v4/oa/permission?" in line)
        query = parse_qs(urlsplit(url).query)
        assert query["app_id"] == [fake.app_id]
        assert query["redirect_uri"] == ["https://sipas.example.gov.vn"]
        code = fake.issue_code(query["code_challenge"][0])
        return f"https://sipas.example.gov.vn/?code={code}&oa_id=1646&state={query['state'][0]}"

    code, out, err = await run_cli(env, "zalo", "connect", answer=approve)
    assert code == 0, err
    assert "Đã kết nối" in out
    (exchange,) = fake.oauth_calls()
    assert exchange.body["grant_type"] == "authorization_code"

    app = App(make_settings(sqlite_url, tmp_path / "data", zalo_app_id=fake.app_id), clock=clock)
    try:
        async with open_channel(app) as channel:
            assert await channel.tokens.access_token() in fake.access_tokens
    finally:
        await app.close()
    code, out, _err = await run_cli(env, "zalo", "status")
    assert code == 0 and "còn hiệu lực đến" in out


async def test_connect_refuses_an_address_from_another_attempt(sqlite_url, tmp_path, fake):
    env = cli_env(sqlite_url, tmp_path, fake)
    code, _out, err = await run_cli(
        env, "zalo", "connect", answer=lambda _lines: "https://x/?code=abc&state=someone-else"
    )
    assert code == 2 and "thuộc lần kết nối khác" in err
    assert fake.oauth_calls() == []
