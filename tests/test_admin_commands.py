"""Admin and leader commands through the real engine and database (SQLite, PostgreSQL):
who may ask what about which unit, small-number privacy, ambiguous unit names."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from storage.models import Feedback, Quota, Response
from tests.admin_builders import audit_actions, make_tree, rate, staff
from tests.builders import Citizen

REFUSED_ROLE = "chỉ dành cho cán bộ được phân quyền"
REFUSED_SCOPE = "nằm ngoài phạm vi phụ trách"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)


async def test_permission_matrix(app):
    """Each role × each command × a unit inside and outside the caller's subtree."""
    tree = await make_tree(app)
    async with app.db.write() as session:
        session.add(
            Quota(
                unit_id=tree.w1.id,
                period_start=date(2026, 11, 1),
                period_end=date(2026, 11, 30),
                target_count=20,
            )
        )
    for i, unit in enumerate([tree.w1] * 5 + [tree.w2] * 5 + [tree.w3] * 2):
        await rate(app, unit, f"c{i}", 2 if i in (0, 10) else 5, contact=i in (0, 10))
    async with app.db.read() as session:
        feedback = {f.unit_id: f.id for f in (await session.exec(select(Feedback))).scalars().all()}
    roles = {
        # role: (chat, a unit inside its scope, one outside); citizens and officials have none
        "citizen": (Citizen(app, "nobody"), tree.w1, tree.w3),
        "official": (await staff(app, tree.w1, "official", "off"), tree.w1, tree.w3),
        "leader": (await staff(app, tree.w1, "leader", "lead"), tree.w1, tree.w2),
        "admin": (await staff(app, tree.district, "admin", "adm"), tree.w2, tree.w3),
    }
    for role, (chat, inside, outside) in roles.items():
        allowed = role in ("leader", "admin")
        for command in ("/quota", "/report", "/chart", "/export"):
            for unit, in_scope in ((inside, True), (outside, False)):
                before = len(await audit_actions(app))
                replies = await chat.say(f"{command} {unit.code} tháng này")
                audit = (await audit_actions(app))[before:]
                case = f"{role} {command} {unit.code}"
                assert len(replies) == 1, case
                reply = replies[0]
                if not allowed:
                    assert REFUSED_ROLE in reply["text"], case
                    assert audit == [("command.refused", command)], case
                elif not in_scope:
                    assert REFUSED_SCOPE in reply["text"] and unit.name in reply["text"], case
                    assert "attachment" not in reply, case
                    assert audit == [("admin.refused", unit.code)], case
                else:
                    assert "Xin lỗi" not in reply["text"], case
                    assert unit.name in reply["text"], case
                    assert audit == [(f"admin.{command[1:]}", unit.code)], case
                    if command == "/chart":
                        assert reply["attachment"]["mime"] == "image/png", case
                    if command == "/export":
                        assert reply["attachment"]["mime"] == XLSX, case
                    if command == "/quota" and unit == tree.w1:
                        assert "5/20 phiếu (25,0%), còn thiếu 15" in reply["text"]

        # /feedback: the list is the caller's own subtree; one item is checked by its unit.
        inside_item, outside_item = feedback[tree.w1.id], feedback[tree.w3.id]
        listing = texts(await chat.say("/feedback"))
        shown = await chat.say(f"/feedback {inside_item}")
        refused = await chat.say(f"/feedback {outside_item}")
        if not allowed:
            for text in (listing, texts(shown), texts(refused)):
                assert REFUSED_ROLE in text, role
        elif role == "leader":
            assert "Phản ánh chưa xử lý – Phường Một: 1" in listing
            assert f"#{inside_item}" in texts(shown)
            assert "ngoài phạm vi phụ trách" in texts(refused)
        else:
            assert "Phản ánh chưa xử lý – Huyện Đông: 1" in listing  # W3 is not the district's
            assert f"#{inside_item}" in texts(shown)
            assert "ngoài phạm vi phụ trách" in texts(refused)
            await chat.inbox()

        # /flags is for admins only.
        flags = texts(await chat.say("/flags"))
        if role == "admin":
            assert "Không có phiếu nào bị gắn cờ tại Huyện Đông" in flags
        else:
            assert REFUSED_ROLE in flags, role

    # No refused call changed anything: feedback still open, nothing flagged.
    async with app.db.read() as session:
        statuses = (await session.exec(select(Feedback.status))).scalars().all()
        flagged = (
            await session.exec(select(Response.id).where(Response.flagged_at.is_not(None)))
        ).all()
    assert set(statuses) == {"open"} and flagged == []


async def test_buttons_are_checked_like_commands(app):
    """A forged or stale button cannot reach another unit or another role's action."""
    tree = await make_tree(app)
    for i in range(3):
        await rate(app, tree.w3, f"c{i}", 5)
    async with app.db.write() as session:
        await session.exec(
            update(Response).values(flagged_at=app.now(), flag_reason="stuffing counter:1 x")
        )
        first = (await session.exec(select(Response.id).order_by(Response.id))).scalars().first()
    official = await staff(app, tree.w1, "official", "off")
    leader = await staff(app, tree.w1, "leader", "lead")
    admin = await staff(app, tree.district, "admin", "adm")
    w3 = f"ad.u:r:{tree.w3.id}:20261101:20261130:m"
    assert REFUSED_ROLE in texts(await official.press(w3))
    assert REFUSED_SCOPE in texts(await leader.press(w3))
    assert REFUSED_SCOPE in texts(await admin.press(w3))
    assert REFUSED_ROLE in texts(await leader.press(f"ad.x:c:{first}"))
    assert "ngoài phạm vi phụ trách" in texts(await admin.press(f"ad.x:c:{first}"))
    assert "không còn hiệu lực" in texts(await admin.press("ad.u:r:abc"))  # garbage: no crash
    actions = [a for a, _t in await audit_actions(app)]
    assert actions.count("admin.refused") == 3 and actions.count("command.refused") == 2
    async with app.db.read() as session:
        still = (await session.exec(select(Response.flagged_at))).scalars().all()
    assert all(still)


async def test_ambiguous_name_offers_a_choice_inside_the_scope(app):
    tree = await make_tree(app)
    for i in range(5):
        await rate(app, tree.w2, f"c{i}", 4)
    admin = await staff(app, tree.province, "admin", "adm")
    (choice,) = await admin.say("/report Phường tháng này")
    assert "Có nhiều đơn vị khớp với “Phường”" in choice["text"]
    labels = [b["label"] for b in choice["buttons"]]
    assert labels == ["Phường Một (P.D.W1)", "Phường Hai (P.D.W2)"]
    assert all(len(b["payload"].encode()) <= 64 for b in choice["buttons"])
    (report,) = await admin.press_label("Phường Hai (P.D.W2)")
    assert report["text"].startswith("Mức độ hài lòng – Phường Hai\nKỳ: tháng 11/2026")
    assert "Chung: 100,0% · 5 người trả lời" in report["text"]

    # A leader of W1 typing the same word gets W1 alone: the only match in the scope.
    leader = await staff(app, tree.w1, "leader", "lead")
    (reply,) = await leader.say("/report phuong")
    assert reply["text"].startswith("Mức độ hài lòng – Phường Một")
    (unknown,) = await admin.say("/quota Đà Lạt 10/2023")
    assert "Không tìm thấy đơn vị “Đà Lạt”" in unknown["text"]


async def test_leaders_see_no_percentage_below_the_threshold(app):
    tree = await make_tree(app)
    for i in range(4):
        await rate(app, tree.w1, f"c{i}", 5 - i % 2, comment=f"Gọi 0905 123 45{i} giúp tôi")
    leader = await staff(app, tree.w1, "leader", "lead")
    admin = await staff(app, tree.province, "admin", "adm")

    (few,) = await leader.say("/report")
    assert "Chưa đủ số phiếu để tính tỷ lệ (4 phiếu; cần ít nhất 5 phiếu)." in few["text"]
    assert "%" not in few["text"] and "0905" not in few["text"] and "Góp ý" not in few["text"]
    (chart,) = await leader.say("/chart")
    assert "attachment" not in chart and "Chưa đủ số phiếu" in chart["text"]
    (full,) = await admin.say("/report P.D.W1")
    assert "Chung: 100,0% · 4 người trả lời" in full["text"]
    assert "“Gọi 0905 123 453 giúp tôi”" in full["text"]  # admins see everything

    await rate(app, tree.w1, "c5", 4, comment="Liên hệ an@gmail.com")
    (enough,) = await leader.say("/report")
    assert "Chung: 100,0% · 5 người trả lời" in enough["text"]
    assert "“Liên hệ […]”" in enough["text"] and "“Gọi […] giúp tôi”" in enough["text"]
    assert "@" not in enough["text"] and "0905" not in enough["text"]

    # The province: W1 has 5, W3 has 2 — the leader's rule hides W3's row, the admin's not.
    await rate(app, tree.w3, "c6", 1)
    await rate(app, tree.w3, "c7", 5)
    (ranked,) = await admin.say("/report")
    assert "1. 100,0%  Huyện Đông (5)" in ranked["text"] and "Xã Ba (2)" in ranked["text"]
    leader_p = await staff(app, tree.province, "leader", "lead-p")
    (hidden,) = await leader_p.say("/report")
    # Two parts: the province's figure minus Huyện Đông's would be Xã Ba's, so Huyện
    # Đông is withheld too (complementary suppression); the province's own figure stays.
    assert "Chưa đủ số phiếu: Huyện Đông (5), Xã Ba (2)" in hidden["text"]
    assert "Chung: 85,7% · 7 người trả lời" in hidden["text"]
    assert "50,0%" not in hidden["text"] and "100,0%" not in hidden["text"]
