"""The officials' commands and reminder texts as pure functions (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flows import contract as fx
from flows.contract import PersonInfo, TaskInfo
from flows.i18n import translator
from flows.officials import Assignee, QuotaPace, escalation_reply, nudge_reply, reminder_reply
from tests.fakes import Chat, World

AN = PersonInfo(1, "Nguyễn Văn An", "official", 2, "DN.HAICHAU", "Phường Hải Châu")
NOW = datetime(2027, 3, 3, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội


def task(n: int, due: date, left: int, **kw) -> TaskInfo:
    return TaskInfo(n, f"Báo cáo {n}", None, due, left, kw.pop("status", "pending"), **kw)


def world_with_tasks() -> World:
    world = World()
    world.linked["hash-telegram-an"] = AN
    world.tasks = {
        1: (1, task(1, date(2027, 3, 1), -2)),
        2: (1, task(2, date(2027, 3, 3), 0, snoozed_until=datetime(2027, 3, 3, 4, 0, tzinfo=UTC))),
        3: (1, task(3, date(2027, 3, 10), 5)),
        4: (2, task(4, date(2027, 3, 10), 5)),  # someone else's
    }
    return world


async def test_tasks_lists_own_open_items_in_vietnamese():
    chat = Chat(world_with_tasks(), user="an", channel="telegram", now=NOW)
    await chat.send("/tasks")
    assert chat.text.splitlines()[:4] == [
        "Việc đang chờ Ông/Bà (3):",
        "1. Báo cáo 1 – quá hạn 2 ngày làm việc (hạn 01/03/2027)",
        "2. Báo cáo 2 – hạn chót là hôm nay (03/03/2027) (sẽ nhắc lại hôm nay lúc 11:00)",
        "3. Báo cáo 3 – hạn 10/03/2027, còn 5 ngày làm việc",
    ]


async def test_buttons_check_the_payload_and_the_owner():
    chat = Chat(world_with_tasks(), user="an", channel="telegram", now=NOW)
    for bad in ("t:d:4", "t:x:1", "t:d:abc", "t:d:999", "t:d"):
        await chat.press(bad)
        assert chat.text == "Nút này không còn hiệu lực." and not chat.effects, bad
    await chat.press("t:d:3")
    assert chat.of(fx.MarkTaskDone) == [fx.MarkTaskDone(3, NOW)]
    await chat.press("t:d:3")
    assert chat.text == "Ông/Bà đã báo hoàn thành việc này: Báo cáo 3." and not chat.effects
    await chat.press("t:s:1")
    assert chat.of(fx.SnoozeTask)[0].until == datetime(2027, 3, 3, 4, 0, tzinfo=UTC)
    await chat.send("/done 1")  # task 1 is still open (snoozed); 3 is done
    assert chat.of(fx.MarkTaskDone) == [fx.MarkTaskDone(1, NOW)]
    await chat.send("/done 3")
    assert chat.text == "Không có việc số 3. Gửi /tasks để xem danh sách."


async def test_a_citizen_cannot_use_staff_commands_or_buttons():
    chat = Chat(world_with_tasks(), user="someone", channel="zalo", now=NOW)
    await chat.send("/tasks")
    assert "chỉ dành cho cán bộ" in chat.text
    await chat.press("ch:here")
    assert chat.text == "Nút này không còn hiệu lực." and not chat.effects


def test_texts_in_english_and_the_singular():
    t = translator("en")
    reply = reminder_reply(t, task(7, date(2027, 3, 4), 1), date(2027, 3, 3))
    assert reply.text.splitlines()[:2] == [
        "Reminder: Báo cáo 7",
        "Due 04/03/2027, 1 working day left.",
    ]
    assert [b.label for b in reply.buttons] == ["Done", "Remind me later", "Not my task"]
    escalation = escalation_reply(
        t, "Báo cáo 7", date(2027, 3, 4), 1, [Assignee("An", "Ward 1")], [], 0, 1
    )
    assert escalation.text.startswith("Báo cáo 7 (due 04/03/2027) is overdue by 1 working day.")
    many = [Assignee(f"Person {i}", "Ward") for i in range(35)]
    long = escalation_reply(t, "X", date(2027, 3, 4), 3, many, [], 0, 35)
    assert long.text.count("•") == 30 and "… and 5 more" in long.text
    nudge = nudge_reply(t, [QuotaPace("Q4", "Ward 1", 249, 300, date(2026, 12, 31), 1, 51)])
    assert "1 working day left until 31/12/2026: about 51 a day needed." in nudge.text
