"""After a rating: contact requests reach the leader, feedback is handled and answered,
negative bursts alert once per burst, stuffing is flagged until an admin decides."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.services.invites import issue_invite
from storage import reports
from storage.models import Feedback, Outbox, Response
from tests.admin_builders import audit_actions, make_tree, rate, staff
from tests.builders import new_code


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)


async def counted(app, unit) -> int:
    day = app.now().astimezone(app.tz).date()
    async with app.db.read() as session:
        report = await reports.satisfaction(session, unit, day, day, app.tz)
    return report.total.respondents


# --- feedback follow-up ---------------------------------------------------------------------


async def test_contact_request_reaches_the_leader_and_is_answered(app, clock):
    tree = await make_tree(app)
    leader = await staff(app, tree.w1, "leader", "lead", "Trần Thị Bình")
    admin = await staff(app, tree.province, "admin", "adm")
    await rate(app, tree.w1, "quiet", 2)  # no contact wanted: nobody is messaged
    assert await leader.inbox() == []

    clock.advance(minutes=1)
    citizen = await rate(app, tree.w1, "loud", 1, contact=True)
    (notice,) = await leader.inbox()
    assert "Phường Một: một người dân chưa hài lòng đề nghị được liên hệ" in notice["text"]
    assert "Lý do: Chờ đợi lâu" in notice["text"]
    assert await admin.inbox() == []  # the ward has a leader: the admin is not disturbed
    async with app.db.read() as session:
        items = (await session.exec(select(Feedback).order_by(Feedback.id))).scalars().all()
    quiet, loud = items
    assert loud.notified_at == clock.now and loud.assignee_id is not None
    assert quiet.notified_at is None

    # The next working day, the leader lists, picks the item, writes a note, sends it.
    clock.advance(hours=24)
    listing = await leader.say("/feedback")
    assert listing[0]["text"].startswith("Phản ánh chưa xử lý – Phường Một: 2")
    assert [m["buttons"][0]["label"] for m in listing[1:]] == [
        f"Đánh dấu #{quiet.id} đã xử lý",  # oldest first
        f"Đánh dấu #{loud.id} đã xử lý",
    ]
    # 24 h after 09:00 Tuesday 24/11/2026 is 09:00 Wednesday. 24/11 is Ngày Văn hóa Việt
    # Nam, a day off on the reminders' calendar, so only Wednesday's 1.5 h count (on
    # weekdays alone it would be 8 h + 1.5 h = 9.5 h).
    assert "Đã chờ 1,5 giờ làm việc" in listing[2]["text"]
    await leader.press(notice["buttons"][0]["payload"])
    (question,) = await leader.say("Đã gọi điện xin lỗi, bố trí thêm quầy buổi sáng.")
    assert "Gửi ghi chú này cho người dân" in question["text"]
    await citizen.inbox()
    (done,) = await leader.press_label("Có, gửi cho người dân")
    assert (
        f"Phản ánh #{loud.id} đã được đánh dấu là đã xử lý, sau 1,5 giờ làm việc." in (done["text"])
    )
    assert "Trong hạn 48 giờ làm việc." in done["text"]
    (answer,) = await citizen.inbox()
    assert answer["text"] == (
        "Phường Một phản hồi ý kiến của Ông/Bà:\nĐã gọi điện xin lỗi, bố trí thêm quầy buổi sáng."
    )

    # The quiet one by typed command; it is not sent to anyone.
    clock.advance(days=7)  # to Wednesday 2/12: 47,5 working hours more for the quiet one
    (typed,) = await leader.say(f"/feedback {quiet.id} Đã nhắc nhở bộ phận một cửa")
    # 1.5 h on Wednesday 25/11 (Tuesday 24/11 was a day off) + 47.5 h since = 49 h.
    assert "sau 49,0 giờ làm việc" in typed["text"] and "Quá hạn 48 giờ" in typed["text"]
    assert await citizen.inbox() == []
    (again,) = await leader.say(f"/feedback {loud.id} lần nữa")
    assert "đã được Trần Thị Bình xử lý ngày 25/11/2026" in again["text"]
    (summary,) = await leader.say("/feedback")
    assert (
        "Đã xử lý trong quý IV/2026: 2/2 phản ánh, trung bình 25,3 giờ làm việc; "
        in (summary["text"])
    )
    assert "1/2 trong hạn 48 giờ làm việc." in summary["text"]
    async with app.db.read() as session:
        rows = (await session.exec(select(Feedback).order_by(Feedback.id))).scalars().all()
    assert [r.status for r in rows] == ["handled", "handled"]
    assert rows[1].handled_note == "Đã gọi điện xin lỗi, bố trí thêm quầy buổi sáng."
    assert ("feedback.handled", str(loud.id)) in await audit_actions(app)


async def test_a_branch_without_leader_tells_its_admin(app):
    tree = await make_tree(app)
    admin = await staff(app, tree.district, "admin", "adm")
    await staff(app, tree.w3, "leader", "lead-w3")  # another branch's leader stays out
    await rate(app, tree.w2, "c1", 1, contact=True)
    (notice,) = await admin.inbox()
    assert "Phường Hai: một người dân chưa hài lòng" in notice["text"]


async def test_cancelling_a_note_changes_nothing(app):
    tree = await make_tree(app)
    leader = await staff(app, tree.w1, "leader", "lead")
    await rate(app, tree.w1, "c1", 1, contact=True)
    (notice,) = await leader.inbox()
    await leader.press(notice["buttons"][0]["payload"])
    await leader.say("/cancel")
    await leader.say("Ghi chú đến muộn")  # not a note any more: the welcome text
    async with app.db.read() as session:
        assert (await session.exec(select(Feedback.status))).scalars().one() == "open"


# --- negative bursts -------------------------------------------------------------------------


async def leader_alerts(app, user="lead") -> list[str]:
    async with app.db.read() as session:
        rows = (
            await session.exec(
                select(Outbox.payload).where(Outbox.recipient == user).order_by(Outbox.id)
            )
        ).all()
    return [r[0]["text"] for r in rows if r[0]["text"].startswith("Cảnh báo")]


async def test_negative_burst_alerts_the_leader_once(app, clock):
    tree = await make_tree(app)
    await staff(app, tree.w1, "leader", "lead")
    # 3 ratings, 2 negative, within minutes: fewer than 4 ratings, no alert.
    for i, value in enumerate([1, 5, 2]):
        await rate(app, tree.w1, f"a{i}", value)
        clock.advance(minutes=2)
    assert await leader_alerts(app) == []
    await rate(app, tree.w1, "a3", 4)  # 2 of 4 negative: exactly half → alert
    alerts = await leader_alerts(app)
    assert alerts == [
        "Cảnh báo: Phường Một vừa nhận 2/4 đánh giá không hài lòng trong 15 phút qua. "
        "Gửi /report để xem chi tiết."
    ]
    clock.advance(minutes=3)
    await rate(app, tree.w1, "a4", 1)  # the same burst goes on: no second message
    assert len(await leader_alerts(app)) == 1

    # 20 quiet minutes end the burst; the window now holds only new ratings.
    clock.advance(minutes=20)
    for i, value in enumerate([5, 5, 4, 1]):
        await rate(app, tree.w1, f"b{i}", value)  # 1 of 4 negative: below half
        clock.advance(minutes=1)
    assert len(await leader_alerts(app)) == 1
    await rate(app, tree.w1, "b4", 2)
    await rate(app, tree.w1, "b5", 1)  # 3 of 6 negative: a new burst → a second alert
    assert len(await leader_alerts(app)) == 2
    # Ratings elsewhere never count towards W1's burst.
    await rate(app, tree.w2, "w2", 1)
    assert len(await leader_alerts(app)) == 2


async def test_counter_burst_names_the_counter(app, clock):
    tree = await make_tree(app)
    await staff(app, tree.w1, "leader", "lead")
    async with app.db.write() as session:
        counter = await issue_invite(app, session, tree.w1, kind="counter", label="Quầy số 2")
    for i in range(4):
        await rate(app, tree.w1, f"k{i}", 1 if i % 2 else 5, code=counter.code)
        clock.advance(minutes=2)  # 4 in 8 minutes: below the stuffing threshold
    (alert,) = await leader_alerts(app)  # the counter's burst is the ward's too: one message
    assert "vừa nhận 2/4 đánh giá không hài lòng" in alert
    assert "Tại quầy “Quầy số 2”." in alert


# --- stuffing ------------------------------------------------------------------------------


async def test_counter_stuffing_is_flagged_until_an_admin_decides(app, clock):
    tree = await make_tree(app)
    admin = await staff(app, tree.district, "admin", "adm")
    code = await new_code(app, tree.w1, kind="counter")
    for i in range(4):
        await rate(app, tree.w1, f"s{i}", 5, code=code)
        clock.advance(seconds=50)
    assert await counted(app, tree.w1) == 4 and await admin.inbox() == []
    await rate(app, tree.w1, "s4", 5, code=code)  # 5 ratings from one code in < 5 minutes
    assert await counted(app, tree.w1) == 0
    (notice,) = await admin.inbox()
    assert "Phường Một: 5 lượt đánh giá từ cùng một mã quầy trong 5 phút" in notice["text"]
    clock.advance(minutes=1)
    await rate(app, tree.w1, "s5", 5, code=code)  # the burst goes on: flagged, no new notice
    assert await counted(app, tree.w1) == 0 and await admin.inbox() == []

    (report,) = await admin.say("/report P.D.W1")
    assert "6 phiếu bị gắn cờ nghi đánh giá ảo chưa được tính: xem /flags." in report["text"]
    _head, group = await admin.say("/flags")
    assert "Phường Một: 6 phiếu từ cùng một mã quầy" in group["text"]
    await admin.press_label("Tính vào số liệu")
    assert await counted(app, tree.w1) == 6
    assert "Không có phiếu nào bị gắn cờ" in texts(await admin.say("/flags"))
    clock.advance(minutes=1)
    await rate(app, tree.w1, "s6", 5, code=code)  # the burst still goes on: only this one
    assert await counted(app, tree.w1) == 6
    assert "Phường Một: 1 phiếu từ cùng một mã quầy" in texts(await admin.say("/flags"))
    assert "flags.counted" in [a for a, _t in await audit_actions(app)]


async def test_respondent_stuffing_and_rejection(app, clock):
    tree = await make_tree(app)
    admin = await staff(app, tree.province, "admin", "adm")
    for unit in (tree.w1, tree.w2):
        await rate(app, unit, "same-person", 5)  # one chat account, two dossier codes
        clock.advance(minutes=1)
    await rate(app, tree.w3, "other", 5)
    assert await admin.inbox() == []
    await rate(app, tree.w3, "same-person", 5)  # the third within 5 minutes
    (notice,) = await admin.inbox()
    assert "từ cùng một người" in notice["text"]
    async with app.db.read() as session:
        flagged = (
            await session.exec(
                select(func.count()).select_from(Response).where(Response.flagged_at.is_not(None))
            )
        ).scalar_one()
    assert flagged == 3 and await counted(app, tree.province) == 1
    replies = await admin.say("/flags")
    assert len(replies) == 4  # the header and one group per unit (W1, W2, W3)
    await admin.press(replies[1]["buttons"][1]["payload"])  # reject W1's
    async with app.db.read() as session:
        statuses = dict((await session.exec(select(Response.unit_id, Response.status))).all())
    assert statuses[tree.w1.id] == "rejected"
    assert await counted(app, tree.province) == 1  # rejected never counts
    assert len(await admin.say("/flags")) == 3


async def test_ratings_hours_apart_are_not_stuffing(app, clock):
    tree = await make_tree(app)
    code = await new_code(app, tree.w1, kind="counter")
    clock.now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    for i in range(8):
        await rate(app, tree.w1, f"r{i}", 5, code=code)
        clock.advance(minutes=2)  # 2 a minute would be; one every 2 minutes is a busy counter
    assert await counted(app, tree.w1) == 8


async def test_handling_feedback_mid_survey_closes_the_survey(app):
    tree = await make_tree(app)
    leader = await staff(app, tree.w1, "leader", "lead")
    await rate(app, tree.w1, "c1", 1, contact=True)
    (notice,) = await leader.inbox()
    await leader.say(await new_code(app, tree.w2))  # the leader starts a survey of their own
    await leader.say("4")
    await leader.press(notice["buttons"][0]["payload"])
    async with app.db.read() as session:
        statuses = (await session.exec(select(Response.status).order_by(Response.id))).all()
    assert [s for (s,) in statuses] == ["completed", "abandoned"]
    (question,) = await leader.say("Đã liên hệ")
    assert "Gửi ghi chú này cho người dân" in question["text"]
