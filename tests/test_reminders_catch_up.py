"""What an official gets when they link their account after reminders were due:
no overdue catch-up when the deadline wants none, and one digest instead of a pile."""

from __future__ import annotations

from datetime import date

from bot.services.reminders import run_due
from tests.builders import make_org
from tests.test_reminders import add_deadline, at, register


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
