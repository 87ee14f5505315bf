"""Codes sent in the middle of things, stale buttons, and what each answer is echoed as."""

from __future__ import annotations

import pytest

from bot.core.keys import new_code
from flows import contract as fx
from flows.text import extract_code
from tests.fakes import Chat, World

CODE = "K7QM2XWD9RTE"
OTHER = "ABCD2345EFGH"


@pytest.fixture
def world() -> World:
    w = World()
    w.add_invite(CODE)
    return w


# --- codes are codes, words are words -------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["không hài lòng", "khong hai long", "Rất không hài lòng", "khonghailong", "professional"],
)
def test_words_are_not_codes(typed):
    assert extract_code(typed) is None


@pytest.mark.parametrize(
    "typed",
    ["K7QM-2XWD-9RTE", "k7qm 2xwd 9rte", "mã K7QM2XWD9RTE", "ABCD-EFGH-JKMN", "ABCDEFGHJKMN"],
)
def test_codes_are_still_codes(typed):
    assert extract_code(typed) is not None


def test_issued_codes_always_have_a_digit():
    assert all(any(ch.isdigit() for ch in new_code()) for _ in range(2000))


async def test_a_word_with_no_survey_open_gets_the_welcome_not_code_not_found(world):
    chat = Chat(world)
    await chat.send("không hài lòng")
    assert "Không tìm thấy mã" not in chat.text and "Kính chào Ông/Bà" in chat.text
    await chat.send(OTHER)  # well formed, unknown
    assert "Không tìm thấy mã khảo sát" in chat.text


async def test_an_unknown_code_after_ordinary_text_at_the_code_step_is_not_found(world):
    chat = Chat(world)
    await chat.send("/start")
    await chat.send("xin chào")
    await chat.send(OTHER)
    assert "Không tìm thấy mã khảo sát" in chat.text


# --- a code mid-survey ------------------------------------------------------------------


async def test_a_new_bare_code_at_the_offer_closes_the_old_survey_and_starts_the_new(world):
    world.add_invite(OTHER, unit="Phường Hội An")
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("5")  # now at the offer (yes/no)
    await chat.send(OTHER.lower())  # a bare code, not /start
    assert "trả lời Có hoặc Không" not in chat.text
    assert "đã được đóng lại" in chat.text and "Phường Hội An" in chat.text
    (abandoned,) = chat.of(fx.AbandonResponse)
    (started,) = chat.of(fx.StartResponse)
    assert abandoned.response_key != started.response_key
    await chat.send("Hài lòng")  # goes to the new survey as an answer, not a comment
    (answer,) = chat.of(fx.RecordAnswer)
    assert answer.response_key == started.response_key and answer.value == 4


@pytest.mark.parametrize("step", ["question", "fb_reason", "comment"])
async def test_a_new_code_is_recognised_at_any_step(world, step):
    world.add_invite(OTHER, unit="Phường Hội An")
    chat = Chat(world)
    await chat.start(CODE)
    if step == "question":
        await chat.send("5")
        await chat.send("có")
    elif step == "fb_reason":
        await chat.send("1")
    else:
        await chat.send("5")
        await chat.send("không")
    assert chat.state.step == step
    await chat.send(f"DG {OTHER}")
    assert chat.of(fx.AbandonResponse) and chat.of(fx.StartResponse)
    assert not chat.of(fx.CompleteResponse) and not chat.of(fx.OpenFeedback)
    assert chat.state.step == "question" and chat.state.data["i"] == 0


async def test_resending_a_counter_code_mid_survey_continues_it(world):
    world.add_invite(OTHER, kind="counter", procedure=None)
    chat = Chat(world)
    await chat.start(OTHER)
    await chat.send("5")
    await chat.send("có")
    await chat.send("4")
    assert "Câu 3/6" in chat.text
    await chat.send(OTHER)
    assert "Hôm nay Ông/Bà đã đánh giá" not in chat.text
    assert "tiếp tục" in chat.text and "Câu 3/6" in chat.text
    assert chat.effects == [] and chat.state.step == "question"


async def test_resending_the_same_dossier_code_mid_survey_continues_it(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("5")
    await chat.start(CODE)  # the QR scanned again
    assert chat.effects == [] and chat.state.step == "offer"


async def test_an_unusable_new_code_mid_survey_leaves_the_open_survey_alone(world):
    world.add_invite(OTHER, expired=True)
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("5")
    await chat.send(OTHER)
    assert "đã hết hạn" in chat.text and "vẫn tiếp tục" in chat.text
    assert chat.effects == [] and chat.state.step == "offer"
    await chat.send("ZZZZ2345ZZZZ")  # unknown
    assert "Không tìm thấy mã khảo sát" in chat.text and chat.state.step == "offer"


async def test_a_registration_code_mid_survey_closes_the_survey(world):
    person = fx.PersonInfo(5, "Nguyễn Văn An", "official", 1, "DN.HAICHAU", "Phường Hải Châu")
    world.registrations["REG0REG0REG0"] = person
    chat = Chat(world, channel="telegram")
    await chat.start(CODE)
    await chat.send("REG0REG0REG0")
    assert chat.of(fx.LinkPerson) and chat.of(fx.AbandonResponse)


# --- yes/no and stale buttons --------------------------------------------------------------


@pytest.mark.parametrize(("typed", "step"), [("1", "question"), ("2", "comment")])
async def test_numbers_answer_yes_no(world, typed, step):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("5")
    await chat.send(typed)
    assert chat.state.step == step


@pytest.mark.parametrize("step", ["offer", "fb_reason", "fb_contact", "comment"])
async def test_an_earlier_questions_button_changes_nothing_at_any_step(world, step):
    chat = Chat(world)
    await chat.start(CODE)
    first = chat.replies[-1]
    if step in ("fb_reason", "fb_contact"):
        await chat.send("1")
        if step == "fb_contact":
            await chat.send("Chờ đợi lâu")
    else:
        await chat.send("5")
        if step == "comment":
            await chat.send("không")
    assert chat.state.step == step
    for button in first.buttons:  # every level, "skip": none may touch the answer
        await chat.press(button.payload)
        assert chat.effects == [] and chat.state.step == step
        assert "giữ nguyên" in chat.text


async def test_back_of_an_earlier_question_does_not_move(world):
    chat = Chat(world)
    await chat.start(CODE)
    await chat.send("5")
    await chat.send("có")
    await chat.send("4")
    second = chat.replies[-1]  # question 3 has a Back; pressed after question 3 is answered
    await chat.send("4")
    await chat.press(second.buttons[-1].payload)
    assert chat.state.data["i"] == 3 and "giữ nguyên" in chat.text


# --- what a reply carries for the channels ----------------------------------------------------


async def test_each_reply_after_an_answer_carries_the_recorded_answer(world):
    chat = Chat(world)
    await chat.start(CODE)
    question = chat.replies[-1]
    assert question.progress == (1, 6) and question.ack is None
    assert "“bỏ qua”" in question.typed_hint
    skip = question.buttons[-1]
    assert skip.word == "bỏ qua" and all(b.word is None for b in question.buttons[:5])
    await chat.send("4")
    assert chat.replies[-1].ack == "Hài lòng"
    await chat.send("1")  # yes, continue
    assert chat.replies[-1].ack == "Có, tiếp tục" and chat.replies[-1].progress == (2, 6)
    assert "“quay lại”" in chat.replies[-1].typed_hint
    await chat.send("bỏ qua")
    assert chat.replies[-1].ack == "Bỏ qua"


async def test_the_greeting_keeps_the_citizens_identity_confidential(world):
    chat = Chat(world)
    await chat.start(CODE)
    assert "danh tính của Ông/Bà được giữ kín" in chat.text
    assert "giữ kín danh tính" not in chat.text
    world.add_invite(OTHER)
    web = Chat(world, user="w", channel="web")
    await web.start(OTHER)
    assert "/cancel" not in web.text and "“Hủy”" in web.text
