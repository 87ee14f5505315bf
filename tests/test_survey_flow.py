"""The citizen's survey, step by step, with plain calls (no database, no framework)."""

from __future__ import annotations

import pytest

from flows import contract as fx
from flows import registry
from flows.contract import EventKind, PersonInfo, Reply, StepResult
from flows.registry import MANAGERS
from tests.fakes import Chat, World

CODE = "K7QM2XWD9RTE"
OTHER = "ABCD2345EFGH"
LEVEL_LABELS = ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]


@pytest.fixture
def world() -> World:
    w = World()
    w.add_invite(CODE)
    return w


async def answer_all_quick(chat: Chat, overall: int = 5, elements=(4, 4, 4, 4, 4)) -> None:
    await chat.send(str(overall))
    await chat.press_label("Có, tiếp tục")
    for value in elements:
        await chat.send(str(value))


# --- getting in -----------------------------------------------------------------------


async def test_bare_start_asks_for_the_code(world):
    chat = Chat(world)
    await chat.send("/start")
    assert "mã khảo sát" in chat.text
    await chat.send("xin chào")  # not a code: asked again, politely
    assert "không phải là mã khảo sát" in chat.text
    await chat.send(CODE)
    assert "Phường Hải Châu" in chat.text


async def test_deep_link_greets_with_unit_and_procedure_and_asks_first_question(world):
    chat = Chat(world)
    await chat.start(CODE)
    greeting, question = chat.replies
    assert "Kính chào Ông/Bà" in greeting.text
    assert "Phường Hải Châu" in greeting.text and "Đăng ký khai sinh" in greeting.text
    assert question.text.startswith("Câu 1/6")
    assert [b.label for b in question.buttons] == [*LEVEL_LABELS, "Bỏ qua"]  # no "back" yet
    assert all(len(b.payload.encode()) <= 64 for b in question.buttons)
    assert len(chat.of(fx.StartResponse)) == 1


@pytest.mark.parametrize(
    "typed", ["k7qm-2xwd-9rte", " K7QM 2XWD 9RTE ", "DG K7QM2XWD9RTE", "mã: k7qm.2xwd.9rte"]
)
async def test_typed_code_forgives_case_spaces_and_keyword(world, typed):
    chat = Chat(world)
    await chat.send(typed)
    assert "Câu 1/6" in chat.text


async def test_unknown_code_explains_and_lets_the_citizen_retry(world):
    chat = Chat(world)
    await chat.start(OTHER)
    assert "Không tìm thấy mã khảo sát" in chat.text
    assert chat.effects == []
    await chat.send(CODE)
    assert "Câu 1/6" in chat.text


async def test_expired_code(world):
    world.add_invite(OTHER, expired=True)
    chat = Chat(world)
    await chat.start(OTHER)
    assert "đã hết hạn" in chat.text
    assert chat.effects == []


async def test_dossier_code_is_single_use(world):
    first = Chat(world, user="a")
    await first.start(CODE)
    # Someone else trying the code the first citizen opened:
    second = Chat(world, user="b")
    await second.start(CODE)
    assert "đã được sử dụng" in second.text and second.effects == []
    # The first citizen may come back to it until they finish…
    await first.send("/cancel")
    await first.start(CODE)
    assert "Câu 1/6" in first.text
    await first.send("5")
    await first.press_label("Không, kết thúc")
    await first.press_label("Bỏ qua")
    assert first.of(fx.CompleteResponse)
    # …and after that nobody can: the citizen who did is thanked, not sent away.
    await first.start(CODE)
    assert "đã hoàn thành khảo sát" in first.text and "Xin cảm ơn" in first.text
    assert "kiểm tra lại mã" not in first.text and first.effects == []
    await second.start(CODE)
    assert "đã được sử dụng" in second.text and second.effects == []


# --- answering ------------------------------------------------------------------------


async def test_complete_quick_survey_with_buttons_typed_numbers_and_labels(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.press_label("Rất hài lòng")  # button
    assert "khía cạnh" in chat.text  # the offer of the optional element questions
    await chat.send("có")
    await chat.send("4")  # typed number
    await chat.send("hai long")  # label without diacritics
    await chat.send("Rất hài lòng")  # label
    await chat.send("satisfied")  # the English label works too
    await chat.press_label("Bỏ qua")  # E5 skipped
    assert "góp ý" in chat.text
    await chat.send("  Cán bộ   rất nhiệt tình.  ")
    assert "Xin cảm ơn Ông/Bà" in chat.text
    assert "5/6" in chat.text  # answered 5 of 6, one skipped
    assert "Điểm bình quân" not in chat.text and "/5" not in chat.text  # no score to grade
    answers = {a.item_code: a.value for a in chat.all_of(fx.RecordAnswer)}
    assert answers == {"overall": 5, "E1": 4, "E2": 4, "E3": 5, "E4": 4, "E5": None}
    (done,) = chat.of(fx.CompleteResponse)
    assert done.comment == "Cán bộ rất nhiệt tình."
    assert chat.state.flow is None


async def test_declining_the_optional_questions_goes_to_the_comment(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("4")
    await chat.press_label("Không, kết thúc")
    await chat.press_label("Bỏ qua")
    assert "1/6" in chat.text
    (done,) = chat.of(fx.CompleteResponse)
    assert done.comment is None
    assert [a.item_code for a in chat.all_of(fx.RecordAnswer)] == ["overall"]


async def test_back_returns_to_the_previous_question_and_shows_the_earlier_answer(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("5")
    await chat.press_label("Có, tiếp tục")
    await chat.send("3")
    assert "Câu 3/6" in chat.text
    await chat.press_label("Quay lại")
    assert "Câu 2/6" in chat.text and "(Câu trả lời trước của Ông/Bà: Bình thường)" in chat.text
    await chat.send("5")  # a new answer replaces the old one
    e1 = [a.value for a in chat.all_of(fx.RecordAnswer) if a.item_code == "E1"]
    assert e1 == [3, 5]
    assert "Câu 3/6" in chat.text


async def test_back_on_the_first_question(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("quay lại")
    assert "Đây là câu hỏi đầu tiên" in chat.text
    assert "Câu 1/6" in chat.text


@pytest.mark.parametrize("garbage", ["7", "0", "ok", "😀", "x" * 5000, "/start"])
async def test_anything_else_is_reasked_politely_and_changes_nothing(world, garbage):
    chat = Chat(world)
    await chat.start(CODE)
    before = chat.state
    await chat.send(garbage)
    assert chat.effects == []
    assert chat.state.step == before.step and chat.state.data == before.data
    assert "Câu 1/6" in chat.text


async def test_a_stale_button_from_an_earlier_question_is_not_counted(world):
    chat = Chat(world)
    await chat.start(CODE)
    first_question = chat.replies[-1]
    await chat.send("5")
    await chat.press_label("Có, tiếp tục")
    await chat.press(first_question.buttons[0].payload)  # "1" on question 1, pressed late
    assert chat.effects == []
    assert "câu hỏi trước" in chat.text and "Câu 2/6" in chat.text


async def test_bad_button_payloads_are_harmless(world):
    chat = Chat(world)
    await chat.start(CODE)
    for payload in ["a:0:9", "a:x", "zz", "a:0:", "l:fr", "r:nope"]:
        await chat.press(payload)
        assert chat.effects == []


# --- negative answers --------------------------------------------------------------------


async def test_negative_answer_asks_what_went_wrong_and_opens_feedback(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("2")
    assert "Điều gì chưa tốt" in chat.text
    assert "Chờ đợi lâu" in chat.buttons and "Lý do khác" in chat.buttons
    await chat.press_label("Chờ đợi lâu")
    assert "liên hệ lại" in chat.text
    await chat.press_label("Có, xin liên hệ")
    (feedback,) = chat.of(fx.OpenFeedback)
    assert (feedback.item_code, feedback.reason, feedback.wants_contact) == (
        "overall",
        "wait",
        True,
    )
    assert "Lãnh đạo đơn vị sẽ liên hệ" in chat.text
    assert "khía cạnh" in chat.text  # the survey goes on
    await chat.press_label("Có, tiếp tục")
    await chat.send("1")  # a second negative answer is recorded without a second follow-up
    assert not chat.of(fx.OpenFeedback) and "Câu 3/6" in chat.text


async def test_negative_follow_up_with_free_text(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("1")
    await chat.send("Phải đi lại ba lần mới xong")
    await chat.send("không")
    (feedback,) = chat.of(fx.OpenFeedback)
    assert feedback.reason == "other" and feedback.text == "Phải đi lại ba lần mới xong"
    assert feedback.wants_contact is False


async def test_negative_follow_up_other_reason_then_back(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("2")
    await chat.press_label("Lý do khác")
    assert "mô tả ngắn gọn" in chat.text
    await chat.send("quay lại")
    assert "Điều gì chưa tốt" in chat.text
    await chat.send("quay lại")  # back again: the question that caused the follow-up
    assert "Câu 1/6" in chat.text
    await chat.send("4")
    assert not chat.all_of(fx.OpenFeedback)


async def test_comment_too_long_is_refused_politely(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("5")
    await chat.press_label("Không, kết thúc")
    await chat.send("x" * 1001)
    assert "dài quá 1.000 ký tự" in chat.text  # Vietnamese number format
    assert "tối đa 1.000 ký tự" in chat.text
    assert not chat.of(fx.CompleteResponse)
    await chat.send("x" * 1000)
    assert chat.of(fx.CompleteResponse)[0].comment == "x" * 1000


# --- commands at any point ----------------------------------------------------------------


async def test_cancel(world):
    chat = Chat(world)
    await chat.send("/cancel")
    assert "Không có việc gì" in chat.text
    await chat.start(CODE)
    await chat.send("/cancel")
    assert chat.of(fx.AbandonResponse) and chat.state.flow is None
    assert "Đã hủy" in chat.text


async def test_help_mid_survey_repeats_the_current_question(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("/help")
    assert "/lang" in chat.replies[0].text and "/cancel" in chat.replies[0].text
    assert chat.replies[-1].text.startswith("Câu 1/6")


async def test_language_switch_mid_survey(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("/lang")
    assert chat.buttons == ["Tiếng Việt", "English"]
    await chat.press_label("English")
    assert "The language is now English." in chat.text
    assert "Question 1/6" in chat.text and "Overall, how satisfied" in chat.text
    assert "Very satisfied" in chat.buttons
    await chat.send("/lang vi")
    assert "Đã chuyển sang tiếng Việt" in chat.text and "Câu 1/6" in chat.text


async def test_photos_and_stickers_get_a_hint(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.other(EventKind.UNSUPPORTED)
    assert "chỉ đọc được tin nhắn chữ" in chat.text and "Câu 1/6" in chat.text
    assert chat.effects == []


async def test_unknown_command(world):
    chat = Chat(world)
    await chat.send("/frobnicate")
    assert "Không có lệnh /frobnicate" in chat.text


# --- time ---------------------------------------------------------------------------------------


async def test_a_survey_idle_for_24_hours_expires_and_the_citizen_is_told(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("5")
    chat.wait(hours=23, minutes=59)
    await chat.send("có")  # still alive
    assert "Câu 2/6" in chat.text
    chat.wait(hours=24, minutes=1)
    await chat.send("4")
    assert "quá 24 giờ" in chat.text
    assert chat.of(fx.AbandonResponse) and chat.state.flow is None
    assert not chat.of(fx.RecordAnswer)  # the late answer is not taken for the dead survey
    await chat.send(CODE)  # their code still works for them
    assert "Câu 1/6" in chat.text


async def test_counter_code_allows_one_response_a_day(world):
    world.add_invite(OTHER, kind="counter", procedure=None)
    chat = Chat(world)
    await chat.start(OTHER)
    assert "Thủ tục" not in chat.text  # a counter code names no procedure
    (start,) = chat.of(fx.StartResponse)
    assert start.counter_day is not None
    await chat.send("/cancel")  # a cancelled try does not use up the day
    await chat.start(OTHER)
    await chat.send("5")
    await chat.press_label("Không, kết thúc")
    await chat.press_label("Bỏ qua")
    await chat.start(OTHER)
    assert "Hôm nay Ông/Bà đã đánh giá" in chat.text and chat.effects == []
    chat.wait(days=1)
    await chat.start(OTHER)
    assert "Câu 1/6" in chat.text
    other_person = Chat(world, user="someone-else")
    await other_person.start(OTHER)
    assert "Câu 1/6" in other_person.text


async def test_a_new_code_mid_survey_starts_over(world):
    world.add_invite(OTHER, unit="Phường Hội An")
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("5")
    await chat.start(OTHER)
    assert chat.of(fx.AbandonResponse) and chat.of(fx.StartResponse)
    assert "Phường Hội An" in chat.text


# --- the full SIPAS questionnaire -----------------------------------------------------------------


async def test_sipas_2023_asks_all_19_items_in_five_elements(world):
    world.add_invite(OTHER, questionnaire="sipas-2023")
    chat = Chat(world)
    await chat.start(OTHER)
    headers = []
    for _ in range(19):
        headers.append(chat.replies[-1].text.splitlines()[0])
        await chat.send("4")
    assert headers[0] == "Câu 1/19 · Tiếp cận dịch vụ"
    assert headers[-1] == "Câu 19/19 · Tiếp nhận, xử lý phản ánh, kiến nghị"
    await chat.press_label("Bỏ qua")
    answers = chat.all_of(fx.RecordAnswer)
    assert len(answers) == 19 and {a.element_code for a in answers} == {
        "E1",
        "E2",
        "E3",
        "E4",
        "E5",
    }
    assert chat.of(fx.CompleteResponse)


# --- staff, roles, channel events ---------------------------------------------------


async def test_registration_code_links_the_account(world):
    person = PersonInfo(5, "Nguyễn Văn An", "official", 1, "DN.HAICHAU", "Phường Hải Châu")
    world.registrations["REG0REG0REG0"] = person
    chat = Chat(world)
    await chat.start("REG0-REG0-REG0")
    assert "Nguyễn Văn An" in chat.text and "công chức" in chat.text
    (link,) = chat.of(fx.LinkPerson)
    assert link.person_id == 5
    await chat.send("xin chào")
    assert "Xin chào Nguyễn Văn An" in chat.text


@pytest.fixture
def manager_command():
    async def handler(state, event, ctx) -> StepResult:
        return StepResult(state, (Reply("secret figures"),))

    registry.command("/testquota", help="test", roles=MANAGERS)(handler)
    yield
    del registry.COMMANDS["/testquota"]


async def test_role_checked_commands_refuse_and_audit_others(world, manager_command):
    citizen = Chat(world, user="citizen")
    await citizen.send("/testquota")
    assert "chỉ dành cho cán bộ được phân quyền" in citizen.text
    assert "secret" not in citizen.text
    (audit,) = citizen.of(fx.Audit)
    assert audit.action == "command.refused"
    official = PersonInfo(6, "B", "official", 1, "U", "Unit")
    leader = PersonInfo(7, "C", "leader", 1, "U", "Unit")
    world.linked["hash-test-off"] = official
    world.linked["hash-test-lead"] = leader
    off = Chat(world, user="off")
    await off.send("/testquota")
    assert "secret" not in off.text
    lead = Chat(world, user="lead")
    await lead.send("/testquota")
    assert lead.text == "secret figures"
    await lead.send("/help")
    assert "/testquota" in lead.text
    await citizen.send("/help")
    assert "/testquota" not in citizen.text


async def test_follow_and_unfollow(world):
    chat = Chat(world)
    await chat.other(EventKind.FOLLOW)
    assert "mã khảo sát" in chat.text
    await chat.other(EventKind.UNFOLLOW)
    assert chat.replies == [] and chat.of(fx.MarkUnreachable)


async def test_idle_text_gets_the_welcome(world):
    chat = Chat(world)
    await chat.send("Cho tôi hỏi giờ làm việc")
    assert "Kính chào Ông/Bà" in chat.text and "mã khảo sát" in chat.text
    await chat.press("a:3:5")  # an old button after the survey ended
    assert "không còn hiệu lực" in chat.text


async def test_english_user_gets_english(world):
    chat = Chat(world, locale="en")
    await chat.start(CODE)
    assert "Thank you for using the services of Phường Hải Châu" in chat.text
    assert "Question 1/6" in chat.text


async def test_registration_codes_are_refused_on_the_web_chat_and_stay_unused(world):
    person = PersonInfo(5, "Nguyễn Văn An", "official", 1, "DN.HAICHAU", "Phường Hải Châu")
    world.registrations["REG0REG0REG0"] = person
    web = Chat(world, channel="web")
    await web.send("REG0REG0REG0")
    assert "chỉ dùng được trên Telegram hoặc Zalo" in web.text and web.effects == []
    telegram = Chat(world, channel="telegram")
    await telegram.send("REG0REG0REG0")
    assert telegram.of(fx.LinkPerson)
