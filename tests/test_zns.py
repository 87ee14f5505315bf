"""ZNS invitations by phone number and the ratings given in Zalo, against the fake Zalo
on 127.0.0.1: real HTTP both ways, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.channels.zalo import facts, zns_service
from bot.channels.zalo.zns import rating_from
from bot.core.context import DbContext
from bot.services import zns as zns_invites
from flows.i18n import translator
from flows.phone import PhoneError, normalise_phone
from flows.zns_text import zns_footer
from storage import zns as store
from storage.models import (
    Answer,
    Dossier,
    Feedback,
    Outbox,
    Response,
    ZnsPhone,
    ZnsRating,
    ZnsSuppressed,
    metadata,
)
from tests.admin_builders import staff
from tests.zns_world import INVITE, zns_world

PHONE = "84905123456"
FORMS = ("0905123456", "905123456", "84905123456", "0905 123 456", "905.123.456")


@pytest.fixture
async def world(db_url, tmp_path, clock):
    async with zns_world(db_url, tmp_path, clock) as w:
        yield w


def local(clock, *when):
    from zoneinfo import ZoneInfo

    clock.now = datetime(*when, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).astimezone(UTC)


@pytest.mark.parametrize(
    "raw", ["0905123456", "+84 905 123 456", "84905123456", "0905.123.456", "(090) 512-3456"]
)
def test_phone_forms_become_the_84_form(raw):
    assert normalise_phone(raw) == PHONE


@pytest.mark.parametrize("raw", ["0241234567", "12345", "+1 202 555 0101", "0905 123 4567", "x"])
def test_what_is_not_a_mobile_number_is_refused(raw):
    with pytest.raises(PhoneError):
        normalise_phone(raw)


async def test_a_dossier_with_a_phone_is_one_zns_call_with_the_right_data_at_the_right_hour(
    world, clock
):
    local(clock, 2026, 11, 24, 22, 10)  # after SIPAS_INVITE_HOURS
    response = await world.dossier("R-1", "+84 905.123.456")
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["invitation"] == "queued"
    assert datetime.fromisoformat(out["invitation_send_after"]) == datetime(
        2026, 11, 25, 0, 30, tzinfo=UTC
    )  # 07:30 the next morning
    await world.drain()
    assert world.fake.zns_sent == []  # not at night

    from bot.core import metrics

    def counted(name):  # the process-wide registry: compare before and after
        return metrics.REGISTRY.get_sample_value(name, {"template": INVITE}) or 0.0

    sent_before, spend_before = (
        counted("sipas_zns_sent_total"),
        counted("sipas_zns_spend_dong_total"),
    )
    local(clock, 2026, 11, 25, 7, 30)
    await world.drain()
    await world.drain()
    (sent,) = world.fake.zns_sent
    assert sent.phone == PHONE and sent.template_id == INVITE
    assert counted("sipas_zns_sent_total") == sent_before + 1
    price = world.app.settings.zns_price_vnd
    assert counted("sipas_zns_spend_dong_total") == spend_before + price
    assert sent.data == {
        "ma_ho_so": "R-1",
        "don_vi": "Phường Một",
        "thu_tuc": "Đăng ký khai sinh",
        "ngay_tra": "24/11/2026",
        "ma_khao_sat": f"{out['code'][:4]}-{out['code'][4:8]}-{out['code'][8:]}",
    }
    async with world.app.db.read() as session:
        dossier = (await session.exec(select(Dossier))).scalars().one()
        row = (await session.exec(select(Outbox))).scalars().one()
    assert sent.tracking_id == zns_invites.tracking_id(world.app, dossier.id)
    assert row.channel == "zns" and row.status == "sent" and row.provider_message_id == sent.msg_id
    assert await world.count(ZnsPhone) == 0  # erased once sent
    # A replay of the receipt sends nothing more.
    again = await world.dossier("R-1", "+84 905.123.456")
    assert again.status_code == 200 and again.json()["code"] == out["code"]
    await world.drain()
    assert len(world.fake.zns_sent) == 1


async def test_the_cooldown_per_citizen_holds_for_zns_and_bad_phones_are_refused(world):
    assert (await world.dossier("R-1", "0905 123 456")).json()["invitation"] == "queued"
    assert (await world.dossier("R-2", "84905123456")).json()["invitation"] == "skipped_recent"
    bad = await world.dossier("R-3", "024 3825 1234")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "citizen", "phone"]
    assert await world.count(Dossier) == 2


async def test_with_zns_off_a_phone_is_accepted_and_not_kept(db_url, tmp_path, clock):
    async with zns_world(db_url, tmp_path, clock, zns_enabled=False) as w:
        response = await w.dossier("R-1")
        assert response.status_code == 201 and response.json()["invitation"] == "not_requested"
        assert await w.count(ZnsPhone) == 0 and await w.count(Outbox) == 0


async def rated(world, receipt: str, stars: int, **kw) -> dict:
    """A dossier invited by ZNS, and the citizen's rating on Zalo's side."""
    await world.dossier(receipt, kw.pop("phone", "0905 123 456"))
    await world.drain()
    tracking = world.fake.zns_sent[-1].tracking_id
    submit_ms = int(world.app.now().timestamp() * 1000)
    return world.fake.add_rating(tracking, stars, submit_ms=submit_ms, **kw)


async def test_the_same_rating_by_webhook_and_by_poll_counts_once(world):
    item = await rated(world, "R-1", 5, feedbacks=["Nhân viên nhiệt tình"], note="Rất tốt")
    response = await world.post_event(world.fake.rating_event(item))
    assert response.status_code == 200, response.text
    polled = await world.sync()
    assert (polled.counted, polled.duplicates) == (0, 1)
    again = await world.post_event(world.fake.rating_event(item))  # Zalo delivers again
    assert again.status_code == 200

    async with world.app.db.read() as session:
        (resp,) = (await session.exec(select(Response))).scalars().all()
        (answer,) = (await session.exec(select(Answer))).scalars().all()
        dossier = (await session.exec(select(Dossier))).scalars().one()
    assert resp.channel == "zns" and resp.status == "completed" and resp.comment == "Rất tốt"
    assert resp.dossier_id == dossier.id and resp.unit_id == dossier.unit_id
    assert resp.procedure_id == dossier.procedure_id
    assert (answer.item_code, answer.value) == ("overall", 5)
    assert await world.count(ZnsRating) == 1 and await world.count(Feedback) == 0


async def test_a_poll_first_then_the_webhook_counts_once_too(world):
    item = await rated(world, "R-1", 4)
    assert (await world.sync()).counted == 1
    assert (await world.post_event(world.fake.rating_event(item))).status_code == 200
    assert await world.count(Response) == 1


async def test_two_stars_open_a_feedback_item_and_tell_the_leader(world):
    leader = await staff(world.app, world.org.ward, "leader", "lead-1", "Trần Thị Bình")
    await leader.inbox()
    item = await rated(world, "R-9", 2, feedbacks=["Chờ đợi lâu"], note="Phải đợi 2 tiếng")
    await world.post_event(world.fake.rating_event(item))
    async with world.app.db.read() as session:
        (feedback,) = (await session.exec(select(Feedback))).scalars().all()
    assert feedback.reason == "wait" and not feedback.wants_contact
    assert "Phải đợi 2 tiếng" in feedback.text and "ZNS" in feedback.text
    (notice,) = await leader.inbox()
    assert "R-9" in notice["text"] and "2" in notice["text"]
    assert "ZNS" in notice["text"] and "Phải đợi 2 tiếng" in notice["text"]
    assert notice["buttons"][0]["payload"] == f"ad.f:h:{feedback.id}"
    assert feedback.notified_at is not None


async def test_unknown_expired_and_forged_tracking_ids_are_kept_not_counted(world, clock):
    forged = world.fake.add_rating("d1.0123456789abcdef0123", 5)
    unknown = world.fake.add_rating("somebody-else", 1)
    item = await rated(world, "R-1", 5)
    for rating in (forged, unknown):
        assert (await world.post_event(world.fake.rating_event(rating))).status_code == 200
    clock.advance(days=31)  # the code expired (SIPAS_INVITE_TTL_DAYS=30)
    item["submitDate"] = str(int(clock.now.timestamp() * 1000))
    await world.post_event(world.fake.rating_event(item))
    async with world.app.db.read() as session:
        rows = (await session.exec(select(ZnsRating).order_by(ZnsRating.id))).scalars().all()
        ctx = DbContext(
            world.app, session, channel="t", user_id="", user_hash="", person=None, now=clock.now
        )
        status = await ctx.zns_status()
    assert [r.status for r in rows] == ["unmatched", "unmatched", "expired"]
    assert await world.count(Response) == 0
    footer = zns_footer(status, translator("vi"))
    assert "3 đánh giá ZNS" in footer


async def test_a_rating_for_a_code_already_used_in_a_chat_is_kept_not_counted(world):
    """The citizen answered in a chat with the receipt's code, then also rated on Zalo:
    the survey of record is the chat's; the rating is kept as ``used``, never counted."""
    from sqlalchemy import update

    from storage.models import SurveyInvite

    item = await rated(world, "R-1", 1)
    async with world.app.db.write() as session:
        await session.exec(update(SurveyInvite).values(used_at=world.app.now()))
    assert (await world.post_event(world.fake.rating_event(item))).status_code == 200
    async with world.app.db.read() as session:
        (row,) = (await session.exec(select(ZnsRating))).scalars().all()
    assert row.status == "used"
    assert await world.count(Response) == 0 and await world.count(Feedback) == 0


@pytest.mark.parametrize("name", sorted(facts.ZNS_RATING_EVENTS))
def test_every_known_rating_event_name_and_field_form_is_read(name):
    flat = {
        "event_name": name,
        "msgId": "m1",
        "trackingId": "d1.x",
        "rating": "4",
        "reasons": "Nhanh",
        "comment": "ok",
        "submitDate": "1764000000000",
    }
    nested = {
        "event_name": name,
        "message": {
            "message_id": "m1",
            "tracking_id": "d1.x",
            "star": 4,
            "feedback": ["Nhanh"],
            "note": "ok",
            "submit_time": 1764000000000,
        },
    }
    for event in (flat, nested):
        rating = rating_from(event)
        assert rating is not None and rating.msg_id == "m1" and rating.stars == 4
        assert rating.reasons == ("Nhanh",) and rating.note == "ok"
        assert rating.submitted_at == datetime.fromtimestamp(1764000000, UTC)
    assert rating_from({"event_name": name, "rate": 5}) is None  # no message id


async def test_a_rating_event_with_a_bad_signature_is_refused(world):
    item = await rated(world, "R-1", 5)
    body, headers = world.fake.signed(world.fake.rating_event(item))
    headers["X-ZEvent-Signature"] = "0" * 64
    response = await world.http.post("/webhooks/zalo", content=body, headers=headers)
    assert response.status_code == 401 and await world.count(ZnsRating) == 0


async def test_the_rating_list_is_read_page_by_page(world, clock):
    start = int((clock.now - timedelta(hours=1)).timestamp() * 1000)
    for n in range(230):
        world.fake.add_rating(f"x{n}", 5, submit_ms=start + n)
    result = await world.sync(clock.now - timedelta(hours=2))
    assert result.kept == 230
    pages = world.fake.zns_calls("/rating/get")
    assert [c.query["offset"] for c in pages] == ["0", "100", "200"]


async def test_at_the_daily_cap_the_rest_wait_as_dead_letters_then_go_the_next_day(
    db_url, tmp_path, clock, caplog
):
    async with zns_world(db_url, tmp_path, clock, zns_daily_cap=2) as w:
        for n in range(4):
            await w.dossier(f"R-{n}", f"0905 000 00{n}")
        with caplog.at_level(logging.WARNING):
            await w.drain()
        assert len(w.fake.zns_sent) == 2
        async with w.app.db.read() as session:
            dead = (
                (await session.exec(select(Outbox).where(Outbox.status == "dead"))).scalars().all()
            )
            ctx = DbContext(
                w.app, session, channel="t", user_id="", user_hash="", person=None, now=clock.now
            )
            status = await ctx.zns_status()
        assert len(dead) == 2
        assert all(
            d.last_error.startswith("zns-wait cap 2026-11-24: the daily cap of 2") for d in dead
        )
        assert "ZNS daily cap of 2 messages reached" in caplog.text
        footer = zns_footer(status, translator("vi"))
        assert "ZNS hôm nay: 2 trên 2 tin" in footer and "2 tin ZNS" in footer
        assert await w.count(ZnsPhone) == 2  # the waiting ones keep their number

        assert await zns_service.upkeep(w.app) == (0, 0)  # the same day: they wait
        local(clock, 2026, 11, 25, 0, 5)
        again, _erased = await zns_service.upkeep(w.app)
        assert again == 2
        await w.drain()
        local(clock, 2026, 11, 25, 7, 30)
        await w.drain()
        assert len(w.fake.zns_sent) == 4 and await w.count(ZnsPhone) == 0
        assert len({s.tracking_id for s in w.fake.zns_sent}) == 4


async def test_zalo_quota_not_on_zalo_template_and_data_errors(world, clock):
    world.fake.not_on_zalo.add("84905000001")
    await world.dossier("R-1", "0905 000 001")
    await world.drain()
    assert await world.count(ZnsSuppressed) == 1 and await world.count(ZnsPhone) == 0
    # The same number later is not tried again.
    assert (await world.dossier("R-2", "0905000001")).json()["invitation"] == (
        "skipped_unreachable"
    )

    world.fake.zns_daily_quota = 0
    await world.dossier("R-3", "0905 000 003")
    await world.drain()
    world.fake.zns_templates[INVITE].params.append(
        {"name": "ten_cong_dan", "require": True, "maxLength": 30, "type": "STRING"}
    )
    world.zns.transport._templates.clear()
    await world.dossier("R-4", "0905 000 004")
    await world.drain()
    async with world.app.db.read() as session:
        rows = (await session.exec(select(Outbox).order_by(Outbox.id))).scalars().all()
    errors = [r.last_error for r in rows]
    assert "-118" in errors[0] and not errors[0].startswith(store.WAIT)
    assert errors[1].startswith("zns-wait quota") and "-144" in errors[1]
    # Data that does not fit the template is refused for good: it would not fit tomorrow.
    assert errors[2].startswith("zns: refused before sending") and "ten_cong_dan" in errors[2]
    # The wrong data never reached Zalo, and the daily upkeep does not queue it again.
    sends = world.fake.zns_calls("/message/template")
    assert len(sends) == 2
    clock.advance(days=1)
    await zns_service.upkeep(world.app)
    async with world.app.db.read() as session:
        refused = await session.get(Outbox, rows[2].id)
    assert refused.status == "dead" and refused.last_error == errors[2]


async def database_text(app, url: str) -> bytes:
    """Everything stored, as bytes: the SQLite file, or every PostgreSQL row as text."""
    if url.startswith("sqlite"):
        await app.db.dispose()
        return await asyncio.to_thread(Path(make_url(url).database).read_bytes)
    chunks = []
    async with app.db.read() as session:
        for table in metadata.sorted_tables:
            rows = await session.exec(text(f'SELECT CAST(t AS text) FROM "{table.name}" t'))
            chunks += [str(r[0]) for r in rows]
    return "\n".join(chunks).encode()


async def test_phone_numbers_are_absent_from_logs_and_from_the_database(
    db_url, tmp_path, clock, caplog
):
    caplog.set_level(logging.DEBUG)
    phones = ["0905 111 222", "0912.333.444", "+84 987 654 321"]
    async with zns_world(db_url, tmp_path, clock) as w:
        w.fake.not_on_zalo.add("84912333444")
        # Zalo's error text may echo a number: it must not reach the logs or the table.
        w.fake.zns_fail_next(-100, "Unknown error for 84905111222 / 84987654321")
        for n, phone in enumerate(phones):
            assert (await w.dossier(f"R-{n}", phone)).status_code == 201
        await w.drain()
        assert len(w.fake.zns_sent) == 1
        # The failed one goes once its backoff is over.
        clock.advance(minutes=10)
        await w.drain()
        assert {s.phone for s in w.fake.zns_sent} == {"84905111222", "84987654321"}
        assert await w.count(ZnsPhone) == 0
        stored = await database_text(w.app, db_url)
    for phone in phones:
        digits = normalise_phone(phone)
        for form in (digits, "0" + digits[2:], digits[2:]):
            assert form.encode() not in stored
            assert form not in caplog.text
