"""A province's report matches a hand count over every channel: chat (Telegram, Zalo,
web), counter tablet, assisted interview and paper ballots, one of them flagged. And
/report shows phiếu per tablet and per surveyor."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from statistics import fmean

from sqlalchemy import select

from bot.core.app import App
from bot.services import ballot_import, kiosk
from storage import quotas as quota_store
from storage import reports
from storage.models import Answer, Quota, Response, Unit
from tests.builders import Citizen, make_org, new_code, new_registration
from tests.conftest import make_settings

PERIOD = (date(2026, 11, 1), date(2026, 11, 30))


async def chat_survey(app: App, unit, channel: str, user: str, levels: list[str]) -> None:
    """A citizen rates on a chat channel: overall, then the five elements."""
    citizen = Citizen(app, user, channel)
    await citizen.say(await new_code(app, unit))
    await citizen.press(f"a:0:{levels[0]}")
    if levels[0] in ("1", "2"):
        await citizen.press("r:wait")
        await citizen.press("c:n")
    await citizen.press("o:y")
    for i, level in enumerate(levels[1:], 1):
        await citizen.press(f"a:{i}:{level}")
    await citizen.press("m:s")


async def tablet(app: App, unit, clock, levels: list[str]) -> None:
    async with app.db.write() as session:
        _id, link = await kiosk.register(app, session, unit, "Quầy 1", [])
    device_id, token = await kiosk.pair(app, link.rsplit("/", 1)[1])
    dev = await kiosk.device(app, device_id, token)
    for level in levels:
        step = kiosk.new_step()
        nxt = await kiosk.answer(app, dev, step, level)
        if nxt is not None:
            await kiosk.reason(app, dev, nxt, "s")
        clock.advance(seconds=10)  # fast enough that five in a row are a burst


async def assisted(app: App, unit, levels: list[str]) -> None:
    surveyor = Citizen(app, "surveyor-7", "zalo")
    await surveyor.say(await new_registration(app, unit, "surveyor", name="Lê Khảo Sát"))
    for level in levels:
        await surveyor.say("/phieu")
        await surveyor.press("pq.p:0")
        for i in range(6):
            replies = await surveyor.press(f"pq.a:{i}:{level}")
            if any(b["payload"].startswith("pq.r:") for r in replies for b in r.get("buttons", [])):
                await surveyor.press("pq.r:s")
        await surveyor.press("pq.m:s")
        await surveyor.press("pq.k:y")


async def hand_count(app: App, province: Unit):
    """Completed, unflagged responses of the subtree in the period, counted by hand."""
    lo, hi = reports.utc_bounds(*PERIOD, app.tz)
    async with app.db.read() as session:
        responses = (
            await session.exec(
                select(Response.id, Response.channel, Response.flagged_at)
                .join(Unit, Unit.id == Response.unit_id)
                .where(
                    Unit.path.startswith(province.path),
                    Response.status == "completed",
                    Response.completed_at >= lo,
                    Response.completed_at < hi,
                )
            )
        ).all()
        counted = {rid for rid, _c, flagged in responses if flagged is None}
        answers = (
            await session.exec(
                select(Answer.response_id, Answer.item_code, Answer.element_code, Answer.value)
            )
        ).all()
    channels = Counter(c for rid, c, _f in responses if rid in counted)
    per_item: dict[tuple[str, str], list[int]] = defaultdict(list)
    for rid, item, element, value in answers:
        if rid in counted and value is not None:
            per_item[(item, element)].append(value)
    item_pct = {k: sum(v >= 4 for v in vs) / len(vs) for k, vs in per_item.items()}
    elements: dict[str, list[float]] = defaultdict(list)
    for (_item, element), pct in item_pct.items():
        if element != "overall":
            elements[element].append(pct)
    overall = fmean(fmean(v) for v in elements.values())
    return len(counted), channels, overall, len(responses) - len(counted)


async def test_a_province_report_matches_a_hand_count_over_all_channels(db_url, tmp_path, clock):
    settings = make_settings(
        db_url, tmp_path / "data", assisted_questionnaire="quick", stuffing_device_ratings=5
    )
    app = App(settings, clock=clock)
    try:
        org = await make_org(app)
        await chat_survey(app, org.ward, "telegram", "tg-1", ["5", "4", "4", "5", "3", "5"])
        await chat_survey(app, org.ward2, "zalo", "zl-1", ["2", "2", "3", "1", "2", "4"])
        await chat_survey(app, org.ward, "web", "web-1", ["4", "s", "4", "4", "5", "s"])
        await tablet(app, org.ward, clock, ["5", "4", "1"])
        clock.advance(minutes=10)
        await assisted(app, org.ward2, ["4", "5"])
        csv = tmp_path / "paper.csv"
        csv.write_text(
            "ballot_id,date,unit,overall,E1,E2,E3,E4,E5,comment\n"
            "1,20/11/2026,P.W1,5,5,5,4,5,5,\n"
            "2,21/11/2026,P.W2,3,3,2,3,,4,Chờ lâu\n",
            encoding="utf-8",
        )
        await ballot_import.import_ballots(app, csv)
        # A burst on the tablet: five ratings in under a minute, flagged, not counted.
        await tablet(app, org.ward, clock, ["5"] * 5)
        async with app.db.write() as session:
            session.add(
                Quota(
                    unit_id=org.province.id,
                    period_start=PERIOD[0],
                    period_end=PERIOD[1],
                    target_count=300,
                )
            )

        n, channels, overall, flagged = await hand_count(app, org.province)
        assert channels == {
            "telegram": 1,
            "zalo": 1,
            "web": 1,
            "kiosk": 3,
            "assisted": 2,
            "paper": 2,
        }
        assert flagged == 5 and n == 10
        async with app.db.read() as session:
            report = await reports.satisfaction(session, org.province, *PERIOD, app.tz)
            quota = await quota_store.quota_progress(session, org.province, *PERIOD, app.tz)
        assert report.total.respondents == n
        assert abs(report.total.percent - overall) < 1e-9
        assert [q.collected for q in quota] == [n]

        admin = Citizen(app, "admin-1", "telegram")
        await admin.say(await new_registration(app, org.province, "admin", name="Quản Trị"))
        text = (await admin.say("/report P 11/2026"))[-1]["text"]
        assert "Máy tính bảng tại quầy:" in text and "Quầy 1: 3 phiếu" in text
        assert "Quầy 1: 0 phiếu" in text and "5 phiếu bị gắn cờ" in text
        assert "Số phiếu theo khảo sát viên:" in text and "Lê Khảo Sát: 2 phiếu" in text
    finally:
        await app.close()
