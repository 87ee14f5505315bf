"""Assisted interviews (/phieu) through the real engine and database, on the console, and
the surveyor's stuffing checks (too many phiếu an hour, identical answers)."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from bot.channels import console
from bot.core.app import App
from flows import questionnaire as qn
from storage.models import Answer, AuditLog, Feedback, Person, Response, ResponseOrigin
from tests.builders import Citizen, make_org, new_registration
from tests.conftest import make_settings


async def surveyor(app: App, unit, channel: str = "test") -> Citizen:
    code = await new_registration(app, unit, "surveyor", name="Lê Khảo Sát")
    person = Citizen(app, "surveyor-1", channel)
    assert "khảo sát viên" in (await person.say(code))[0]["text"]
    return person


async def fill(person: Citizen, answers: list[str], *, comment: str | None = None) -> str:
    """Answer every question with these labels (cycled), then comment, and return the
    summary shown before saving."""
    q = qn.get("sipas-2023")
    for n in range(len(q.items)):
        label = answers[n % len(answers)]
        replies = await person.press_label(label)
        if any("chưa hài lòng điều gì" in r["text"] for r in replies):
            await person.press_label("Chờ đợi lâu")
    if comment:
        replies = await person.say(comment)
    else:
        replies = await person.press_label("Bỏ qua")
    return replies[-1]["text"]


async def count(app: App, model, *where) -> int:
    async with app.db.read() as session:
        stmt = select(func.count()).select_from(model).where(*where)
        return (await session.exec(stmt)).scalar_one()


async def test_a_surveyor_enters_saves_and_cancels(app):
    org = await make_org(app)
    person = await surveyor(app, org.province)
    first = (await person.say("/phieu"))[-1]
    assert "Phiếu mới" in first["text"]
    labels = [b["label"] for b in first["buttons"]]
    assert labels == ["Tỉnh Thử Nghiệm (P)", "Phường Một (P.W1)", "Phường Hai (P.W2)"]
    proc = (await person.press_label("Phường Một (P.W1)"))[-1]
    assert "Phường Một" in proc["text"] and "Đăng ký khai sinh" in str(proc["buttons"])
    question = (await person.press_label("Đăng ký khai sinh"))[-1]
    assert "câu 1/19" in question["text"] and len(question["buttons"]) == 6
    summary = await fill(
        person, ["Hài lòng", "Không hài lòng", "Rất hài lòng", "Bỏ qua"], comment="Cần thêm ghế chờ"
    )
    assert "Lưu phiếu này?" in summary and "Đã trả lời: 15/19" in summary
    assert await count(app, Response) == 0  # nothing stored before "Lưu phiếu"
    saved = (await person.press_label("Lưu phiếu"))[-1]
    assert "Đã lưu phiếu" in saved["text"]

    async with app.db.read() as session:
        response = (await session.exec(select(Response))).scalars().one()
        origin = (await session.exec(select(ResponseOrigin))).scalars().one()
        surveyor_id = (await session.exec(select(Person.id))).scalars().one()
        values = (await session.exec(select(Answer.value))).scalars().all()
        reason = (await session.exec(select(Feedback.reason))).scalars().one()
    assert (response.channel, response.status, response.unit_id) == (
        "assisted",
        "completed",
        org.ward.id,
    )
    assert response.procedure_id == org.procedure.id and response.comment == "Cần thêm ghế chờ"
    assert origin.surveyor_id == surveyor_id and origin.response_id == response.id
    assert len(values) == 19 and values.count(None) == 4 and reason == "wait"
    assert await count(app, AuditLog, AuditLog.action == "assisted.saved") == 1

    # One more /phieu starts the next one; "Hủy" stores nothing.
    await person.say("/phieu P.W2")
    await person.press_label("Không rõ / thủ tục khác")
    await fill(person, ["Rất hài lòng"])
    cancelled = (await person.press_label("Hủy"))[-1]
    assert "không có gì được lưu" in cancelled["text"]
    assert await count(app, Response) == 1


async def test_only_staff_and_only_their_units(app):
    org = await make_org(app)
    citizen = Citizen(app, "citizen-9")
    refused = (await citizen.say("/phieu"))[-1]["text"]
    assert "chỉ dành cho cán bộ" in refused
    person = await surveyor(app, org.ward)  # a ward surveyor: one unit, picked at once
    proc = (await person.say("/phieu"))[-1]
    assert "Phường Một" in proc["text"]
    other = (await person.say("/phieu P.W2"))[-1]["text"]
    assert "Không tìm được đúng một đơn vị" in other


async def quick_app(db_url, tmp_path, clock, **overrides) -> App:
    settings = make_settings(db_url, tmp_path / "data", assisted_questionnaire="quick", **overrides)
    return App(settings, clock=clock)


async def enter(person: Citizen, label: str) -> None:
    """One quick phiếu: every question answered ``label``, no comment, saved."""
    await person.say("/phieu")
    await person.press_label("Đăng ký khai sinh")
    for _ in qn.get("quick").items:
        replies = await person.press_label(label)
        if any("chưa hài lòng điều gì" in r["text"] for r in replies):
            await person.press_label("Bỏ qua")
    await person.press_label("Bỏ qua")
    await person.press_label("Lưu phiếu")


async def flag_reasons(app: App) -> list[str | None]:
    async with app.db.read() as session:
        stmt = select(Response.flag_reason).order_by(Response.id)
        return list((await session.exec(stmt)).scalars().all())


async def test_more_than_n_an_hour_is_flagged(db_url, tmp_path, clock):
    app = await quick_app(db_url, tmp_path, clock, stuffing_surveyor_per_hour=3)
    try:
        person = await surveyor(app, (await make_org(app)).ward)
        for label in ("Hài lòng", "Bình thường", "Rất hài lòng"):
            await enter(person, label)
            clock.advance(minutes=15)  # three in half an hour: fine
        assert await flag_reasons(app) == [None, None, None]
        await enter(person, "Không hài lòng")  # a fourth within the hour: all four
        reasons = await flag_reasons(app)
        assert len(reasons) == 4
        assert all(r and r.startswith("stuffing surveyor:") for r in reasons)
        clock.advance(hours=2)
        await enter(person, "Hài lòng")  # later on: counted
        assert (await flag_reasons(app))[-1] is None
    finally:
        await app.close()


async def test_identical_answers_in_a_row_are_flagged(db_url, tmp_path, clock):
    app = await quick_app(db_url, tmp_path, clock, stuffing_surveyor_identical=3)
    try:
        person = await surveyor(app, (await make_org(app)).ward)
        for label in ("Hài lòng", "Hài lòng", "Bình thường", "Hài lòng", "Hài lòng"):
            await enter(person, label)
            clock.advance(minutes=30)
        assert await flag_reasons(app) == [None] * 5  # never three alike in a row
        await enter(person, "Hài lòng")
        reasons = await flag_reasons(app)
        assert reasons[:3] == [None] * 3
        assert all(r and r.startswith("stuffing pattern:") for r in reasons[3:])
    finally:
        await app.close()


async def test_on_the_console(app):
    org = await make_org(app)
    code = await new_registration(app, org.ward, "surveyor", name="Phạm Thu")
    q = qn.get("sipas-2023")
    lines = [code, "/phieu", "1"]  # link, start, the first procedure button
    lines += ["5"] * len(q.items)  # "Rất hài lòng" is button 5 on every question
    lines += ["1", "1"]  # skip the comment, then "Lưu phiếu"
    out = io.StringIO()
    await console.chat(app, "console-surveyor", "vi", io.StringIO("\n".join(lines) + "\n"), out)
    text = out.getvalue()
    assert "câu 19/19" in text and "Đã lưu phiếu" in text
    async with app.db.read() as session:
        response = (await session.exec(select(Response))).scalars().one()
        values = (await session.exec(select(Answer.value))).scalars().all()
    assert response.channel == "assisted" and values == [5] * 19
