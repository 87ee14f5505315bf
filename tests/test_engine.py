"""The path of one message through the real engine and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.core import engine
from bot.core.app import App
from flows import router
from storage import steps
from storage.models import (
    Answer,
    Conversation,
    Feedback,
    InboundEvent,
    Outbox,
    PersonChannel,
    Response,
    SurveyInvite,
)
from tests.builders import Citizen, event, make_org, new_code, new_registration


async def count(app: App, model, *where) -> int:
    async with app.db.read() as session:
        return await count_in(session, model, *where)


async def count_in(session, model, *where) -> int:
    stmt = select(func.count()).select_from(model)
    if where:
        stmt = stmt.where(*where)
    return (await session.exec(stmt)).scalar_one()


async def test_a_whole_survey_is_stored(app):
    org = await make_org(app)
    code = await new_code(app, org.ward, procedure=org.procedure)
    citizen = Citizen(app)
    greeting, question = await citizen.say(f"/start {code}")
    assert "Phường Một" in greeting["text"] and "Đăng ký khai sinh" in greeting["text"]
    assert question["text"].startswith("Câu 1/6") and len(question["buttons"]) == 6
    await citizen.say("2")
    await citizen.press_label("Thái độ chưa tốt")
    await citizen.press_label("Có, xin liên hệ")
    await citizen.press_label("Có, tiếp tục")
    for value in ("5", "4", "3", "bỏ qua", "4"):
        await citizen.say(value)
    (thanks,) = await citizen.say("Cảm ơn cán bộ phường.")
    assert "Xin cảm ơn Ông/Bà" in thanks["text"]

    async with app.db.read() as session:
        response = (await session.exec(select(Response))).scalars().one()
        answers = {
            a.item_code: a.value
            for a in (
                await session.exec(select(Answer).where(Answer.response_id == response.id))
            ).scalars()
        }
        feedback = (await session.exec(select(Feedback))).scalars().one()
        invite = (await session.exec(select(SurveyInvite))).scalars().one()
    assert response.status == "completed" and response.comment == "Cảm ơn cán bộ phường."
    assert response.procedure_id == org.procedure.id and response.unit_id == org.ward.id
    assert response.respondent_hash == app.keys.user_hash("test", "citizen-1")
    assert "citizen-1" not in response.respondent_hash  # pseudonymous
    assert answers == {"overall": 2, "E1": 5, "E2": 4, "E3": 3, "E4": None, "E5": 4}
    assert (feedback.reason, feedback.wants_contact, feedback.status) == ("attitude", True, "open")
    assert feedback.contact_ref_enc and "citizen-1" not in feedback.contact_ref_enc
    assert app.keys.decrypt(feedback.contact_ref_enc) == "citizen-1"
    assert invite.used_at is not None and invite.code_hash != code  # stored hashed
    assert await count(app, Outbox, Outbox.status == "pending") == len(await citizen.all_messages())


async def test_a_redelivered_event_changes_nothing(app):
    org = await make_org(app)
    code = await new_code(app, org.ward)
    first = event("u1", text=code, event_id="update-1")
    assert await engine.handle(app, first) is True
    before = (await count(app, Outbox), await count(app, Response))
    again = event("u1", text="5", event_id="update-1")  # same id, whatever the body
    assert await engine.handle(app, again) is False
    assert (await count(app, Outbox), await count(app, Response)) == before
    assert await count(app, Answer) == 0


async def test_a_restart_mid_survey_loses_nothing(app, settings, clock):
    org = await make_org(app)
    code = await new_code(app, org.ward)
    citizen = Citizen(app)
    await citizen.say(code)
    await citizen.say("5")
    await citizen.say("có")
    await app.close()  # the process goes away…

    restarted = App(settings, clock=clock)  # …and a new one picks up
    try:
        again = Citizen(restarted)
        again._seen = len(await again.all_messages())
        (question,) = await again.say("4")
        assert question["text"].startswith("Câu 3/6")
        async with restarted.db.read() as session:
            values = (
                await session.exec(select(Answer.item_code, Answer.value).order_by(Answer.id))
            ).all()
        assert [tuple(v) for v in values] == [("overall", 5), ("E1", 4)]
    finally:
        await restarted.close()


async def test_a_failing_step_commits_nothing_and_the_redelivery_works(app, monkeypatch):
    org = await make_org(app)
    code = await new_code(app, org.ward)
    citizen = Citizen(app)
    await citizen.say(code)
    outbox_before = await count(app, Outbox)

    original = steps.finish
    written = []

    async def crash(session, *args):
        await original(session, *args)  # answer, state and replies written… then it "dies"
        written.append(await count_in(session, Answer))
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(steps, "finish", crash)
    delivery = event("citizen-1", text="5", event_id="tg-42")
    with pytest.raises(RuntimeError):
        await engine.handle(app, delivery)
    assert written == [1]  # the answer was in the transaction that rolled back
    assert await count(app, Answer) == 0
    assert await count(app, Outbox) == outbox_before
    assert await count(app, InboundEvent, InboundEvent.event_id == "tg-42") == 0

    monkeypatch.setattr(steps, "finish", original)
    assert await engine.handle(app, delivery) is True  # the channel redelivers
    assert await count(app, Answer) == 1


async def test_two_citizens_racing_for_one_code(app):
    org = await make_org(app)
    code = await new_code(app, org.ward)
    a, b = Citizen(app, "a"), Citizen(app, "b")
    await asyncio.gather(a.say(f"/start {code}"), b.say(f"/start {code}"))
    assert await count(app, Response) == 1
    texts = [(await a.all_messages())[0]["text"], (await b.all_messages())[0]["text"]]
    assert sum("Kính chào" in t for t in texts) == 1
    assert sum("đã được sử dụng" in t for t in texts) == 1


async def test_registration_links_the_account_once(app):
    org = await make_org(app)
    code = await new_registration(app, org.ward, "leader", name="Trần Thị Bình")
    official = Citizen(app, "staff-1", channel="telegram")
    (welcome,) = await official.say(code.lower())
    assert "Trần Thị Bình" in welcome["text"] and "lãnh đạo" in welcome["text"]
    async with app.db.read() as session:
        link = (await session.exec(select(PersonChannel))).scalars().one()
    assert (link.channel, link.channel_user_id) == ("telegram", "staff-1")
    intruder = Citizen(app, "someone", channel="telegram")
    (reply,) = await intruder.say(f"/start {code}")
    assert "Không tìm thấy" in reply["text"]  # the code was spent
    assert await count(app, PersonChannel) == 1


async def test_counter_code_one_response_per_day_is_enforced_by_the_database(app):
    org = await make_org(app)
    code = await new_code(app, org.ward, kind="counter")
    citizen = Citizen(app)
    await citizen.say(code)
    await citizen.say("5")
    await citizen.press_label("Không, kết thúc")
    await citizen.press_label("Bỏ qua")
    (refusal,) = await citizen.say(code)
    assert "Hôm nay Ông/Bà đã đánh giá" in refusal["text"]
    other = Citizen(app, "citizen-2")
    await other.say(code)
    assert await count(app, Response) == 2


async def test_new_users_get_their_client_language_and_keep_their_choice(app):
    org = await make_org(app)
    code = await new_code(app, org.ward)
    en = event("en-user", text=code)
    en = type(en)(**{**{f: getattr(en, f) for f in en.__slots__}, "locale_hint": "en-US"})
    await engine.handle(app, en)
    citizen = Citizen(app, "en-user")
    assert (await citizen.all_messages())[0]["text"].startswith("Hello! Thank you")
    async with app.db.read() as session:
        data = (await session.exec(select(Conversation.data))).scalar_one()
    assert data["locale"] == "en"


async def test_two_events_of_one_user_at_once_run_one_after_the_other(app, monkeypatch):
    """Without the conversation lock both answers would read "question 2" and the second
    would overwrite the first; serialised, they answer questions 2 and 3."""
    org = await make_org(app)
    code = await new_code(app, org.ward)
    citizen = Citizen(app)
    await citizen.say(code)
    await citizen.say("5")
    await citizen.say("có")
    original = router.step
    calls = 0

    async def slow_first_step(state, event, ctx):
        nonlocal calls
        calls += 1
        if calls == 1:  # hold the first event inside its transaction for a while
            await asyncio.sleep(0.3)
        return await original(state, event, ctx)

    monkeypatch.setattr(router, "step", slow_first_step)

    async def second_after_a_moment():
        await asyncio.sleep(0.05)
        await citizen.say("3")

    await asyncio.gather(citizen.say("4"), second_after_a_moment())
    async with app.db.read() as session:
        items = sorted((await session.exec(select(Answer.item_code))).scalars().all())
    assert items == ["E1", "E2", "overall"]
    assert (await citizen.all_messages())[-1]["text"].startswith("Câu 4/6")


async def test_one_event_delivered_twice_at_once_is_processed_once(app, monkeypatch):
    """A channel that retries before the first delivery's 200 (a slow step): the second
    delivery waits for the first to commit, then reads as seen (on PostgreSQL inside the
    step's first statement, storage/steps.py)."""
    org = await make_org(app)
    code = await new_code(app, org.ward)
    assert await engine.handle(app, event("u1", text=code, event_id="update-1")) is True
    original = router.step

    async def slow_step(state, evt, ctx):
        await asyncio.sleep(0.3)  # hold the first delivery inside its transaction
        return await original(state, evt, ctx)

    monkeypatch.setattr(router, "step", slow_step)
    before = await count(app, Outbox)
    press = event("u1", text="5", event_id="update-2")

    async def again_after_a_moment():
        await asyncio.sleep(0.05)
        return await engine.handle(app, press)

    results = await asyncio.gather(engine.handle(app, press), again_after_a_moment())
    assert sorted(results) == [False, True]
    assert await count(app, Answer) == 1
    assert await count(app, InboundEvent) == 2
    assert await count(app, Outbox) == before + 1  # one reply: the next question
