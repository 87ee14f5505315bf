"""The console channel (``sipas-bot chat``) as a person types into it."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from bot.channels import console
from storage.models import Feedback
from tests.admin_builders import make_tree, rate
from tests.builders import new_code, new_registration


async def _chat(app, lines: list[str], user: str = "console-user") -> str:
    out = io.StringIO()
    await console.chat(app, user, None, io.StringIO("\n".join(lines) + "\n"), out)
    return out.getvalue()


async def test_button_numbers_are_unique_across_the_messages_of_one_screen(app):
    tree = await make_tree(app)
    for n in range(3):
        await rate(app, tree.w1, f"citizen-{n}", 1)
    async with app.db.read() as session:
        ids = sorted((await session.exec(select(Feedback.id))).scalars().all())
    registration = await new_registration(app, tree.province, "admin")
    out = await _chat(app, [registration, "/feedback", "1"])
    listing, pressed = out.split("Phản ánh #", 1)[0], out.split("Phản ánh #", 1)[1]
    buttons = re.findall(r"^  (\d+)\. .*#(\d+)", listing, re.M)
    assert buttons == [("1", str(ids[0])), ("2", str(ids[1])), ("3", str(ids[2]))], out
    # "1" is the first item on the screen, not the last message's only button.
    assert pressed.startswith(f"{ids[0]}:"), out


async def test_numbers_at_yes_no_and_no_stale_buttons_after_cancel(app):
    tree = await make_tree(app)
    code = await new_code(app, tree.w1, procedure=tree.procedure)
    out = await _chat(app, [code, "5", "1", "/cancel", "rất hài lòng"])
    assert "Câu 2/6" in out  # "1" at "Có, tiếp tục / Không" went on
    assert "trả lời Có hoặc Không" not in out
    after_cancel = out.split("Đã hủy")[-1]
    assert "không còn hiệu lực" not in after_cancel and "Kính chào Ông/Bà" in after_cancel


def test_a_label_shared_by_several_buttons_is_not_a_press():
    buttons = [{"label": "Ghi chú", "payload": "x:1"}, {"label": "Ghi chú", "payload": "x:2"}]
    event = console.to_event("u", "ghi chú", buttons, None)
    assert event.kind == "text" and event.text == "ghi chú"
    assert console.to_event("u", "2", buttons, None).payload == "x:2"
