"""What an official gets when they link their account after reminders were due:
no overdue catch-up when the deadline wants none, and one digest instead of a pile
(the day's quota nudge included)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.services.reminders import run_due
from storage.models import Quota
from tests.builders import make_org
from tests.test_reminders import add_deadline, add_responses, at, register


async def test_no_overdue_means_no_overdue_catch_up_for_a_late_official(app, clock):
    at(clock, 2026, 12, 1, 8, 0)  # Tuesday
    org = await make_org(app)
    quiet = dict(unit_codes=[org.ward.code], starts_on=date(2026, 11, 1))
    await add_deadline(app, "QUIET", "monthly 25", overdue_daily=False, **quiet)
    an = await register(app, org.ward, "official", "Nguyễn Văn An", "telegram", "tg-an")
    await run_due(app)
    texts = [m["text"] for m in await an.inbox()]
    assert not any("Báo cáo QUIET" in t for t in texts), texts


async def test_an_overdue_deadline_still_catches_up_when_it_wants_daily_reminders(app, clock):
    at(clock, 2026, 12, 1, 8, 0)
    org = await make_org(app)
    loud = dict(unit_codes=[org.ward.code], starts_on=date(2026, 11, 1))
    await add_deadline(app, "LOUD", "monthly 25", **loud)
    an = await register(app, org.ward, "official", "Nguyễn Văn An", "telegram", "tg-an")
    await run_due(app)
    texts = [m["text"] for m in await an.inbox()]
    assert any("Quá hạn: Báo cáo LOUD" in t for t in texts), texts


async def test_a_newly_linked_official_gets_one_digest_of_what_is_pending(app, clock):
    at(clock, 2026, 12, 1, 8, 0)  # Tuesday
    org = await make_org(app)
    past = dict(unit_codes=[org.ward.code], starts_on=date(2026, 11, 1))
    await add_deadline(app, "THANG", "monthly 25", **past)  # 25/11 overdue
    await add_deadline(app, "NAM", "yearly 15/12", unit_codes=[org.ward.code])  # in 10 days
    await add_deadline(app, "TUAN", "monthly 3", unit_codes=[org.ward.code])  # in 2 days
    an = await register(app, org.ward, "official", "Nguyễn Văn An", "telegram", "tg-an")
    result = await run_due(app)
    messages = await an.inbox()
    assert len(messages) == 1, [m["text"] for m in messages]
    (digest,) = messages
    assert digest["text"].startswith("Việc đang chờ Ông/Bà (3):")
    for title in ("Báo cáo THANG", "Báo cáo NAM", "Báo cáo TUAN"):
        assert title in digest["text"]
    assert len(digest["buttons"]) == 3 and result.dispatch.sent == 3
    # One tap on the digest answers that task; the others stay open.
    [noted] = await an.press(digest["buttons"][0]["payload"])
    assert "Báo cáo THANG" in noted["text"] and "hoàn thành" in noted["text"]
    assert (await run_due(app)).dispatch.sent == 0  # nothing sent twice


async def _quota_behind(app, unit, collected: int = 100) -> None:
    """A quarter's quota of 300 for ``unit`` with ``collected`` so far (behind pace in
    December)."""
    async with app.db.write() as session:
        session.add(
            Quota(
                unit_id=unit.id,
                period_start=date(2026, 10, 1),
                period_end=date(2026, 12, 31),
                target_count=300,
                label="Chỉ tiêu quý IV",
            )
        )
    await add_responses(app, unit, collected, datetime(2026, 11, 2, 3, 0, tzinfo=UTC))


QUOTA_HEAD = "Chỉ tiêu khảo sát đang chậm tiến độ:"


async def test_the_quota_nudge_rides_in_the_catch_up_digest_and_not_again_that_day(app, clock):
    at(clock, 2026, 12, 1, 8, 0)  # Tuesday
    org = await make_org(app)
    await _quota_behind(app, org.ward)
    past = dict(unit_codes=[org.ward.code], starts_on=date(2026, 11, 1))
    await add_deadline(app, "THANG", "monthly 25", **past)  # 25/11 overdue
    await add_deadline(app, "NAM", "yearly 15/12", unit_codes=[org.ward.code])
    an = await register(app, org.ward, "official", "Nguyễn Văn An", "telegram", "tg-an")
    result = await run_due(app)
    messages = await an.inbox()
    assert len(messages) == 1, [m["text"] for m in messages]
    (digest,) = messages
    assert digest["text"].startswith("Việc đang chờ Ông/Bà (2):")
    for part in ("Báo cáo THANG", "Báo cáo NAM", QUOTA_HEAD, "Chỉ tiêu quý IV – Phường Một"):
        assert part in digest["text"], digest["text"]
    assert "100/300 phiếu" in digest["text"]
    assert len(digest["buttons"]) == 2 and result.nudges == 0
    at(clock, 2026, 12, 1, 15, 0)  # later the same day: no separate nudge follows
    assert (await run_due(app)).nudges == 0
    assert await an.inbox() == []
    at(clock, 2026, 12, 2, 8, 0)  # the next working day the nudge comes as usual
    assert (await run_due(app)).nudges == 1
    texts = [m["text"] for m in await an.inbox()]
    assert sum(t.startswith(QUOTA_HEAD) for t in texts) == 1, texts


async def test_one_catch_up_task_and_a_quota_behind_are_one_message_with_its_buttons(app, clock):
    at(clock, 2026, 12, 1, 8, 0)
    org = await make_org(app)
    await _quota_behind(app, org.ward)
    past = dict(unit_codes=[org.ward.code], starts_on=date(2026, 11, 1))
    await add_deadline(app, "THANG", "monthly 25", **past)
    an = await register(app, org.ward, "official", "Nguyễn Văn An", "telegram", "tg-an")
    assert (await run_due(app)).nudges == 0
    [message] = await an.inbox()
    assert message["text"].startswith("Quá hạn: Báo cáo THANG")
    assert QUOTA_HEAD in message["text"] and len(message["buttons"]) == 3


async def test_a_catch_up_after_the_days_nudge_does_not_repeat_the_quotas(app, clock):
    at(clock, 2026, 12, 1, 8, 0)
    org = await make_org(app)
    await _quota_behind(app, org.ward)
    an = await register(app, org.ward, "official", "Nguyễn Văn An", "telegram", "tg-an")
    assert (await run_due(app)).nudges == 1
    [nudge] = await an.inbox()
    assert nudge["text"].startswith(QUOTA_HEAD)
    at(clock, 2026, 12, 1, 10, 0)  # deadlines added late in the morning: a catch-up digest
    past = dict(unit_codes=[org.ward.code], starts_on=date(2026, 11, 1))
    await add_deadline(app, "THANG", "monthly 25", **past)
    await add_deadline(app, "TUAN", "monthly 2", unit_codes=[org.ward.code])
    await run_due(app)
    [digest] = await an.inbox()
    assert digest["text"].startswith("Việc đang chờ Ông/Bà (2):")
    assert QUOTA_HEAD not in digest["text"]
