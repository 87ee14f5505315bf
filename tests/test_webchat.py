"""The web chat over HTTP: sessions, CSRF, escaping, the outbox, and GET changing nothing."""

from __future__ import annotations

import re
from html import unescape
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels import web
from bot.core.app import App
from bot.core.keys import Keyring
from bot.server import create_app
from storage.models import Conversation, InboundEvent, Outbox, Response, SurveyInvite
from tests.builders import make_org, new_code


@pytest.fixture
async def browser(app):
    """An HTTP client that keeps cookies, like a browser, over an app with one ward."""
    org = await make_org(app)
    asgi = create_app(app, run_background=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://sipas.test"
    ) as client:
        client.sipas = app  # type: ignore[attr-defined]
        client.org = org  # type: ignore[attr-defined]
        yield client


def form_fields(html: str) -> dict[str, str]:
    return {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1),
        "n": re.search(r'name="n" value="([^"]+)"', html).group(1),
    }


def bubbles(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<div class="msg"[^>]*>(.*?)</div>', html, re.S)]


async def count(app: App, model) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).scalar_one()


async def send(client, page: str, **data) -> httpx.Response:
    """Post a form of ``page`` and follow the redirect, as a browser does."""
    response = await client.post("/chat", data={**form_fields(page), **data})
    assert response.status_code == 303, response.text
    return await client.get(response.headers["location"])


async def test_a_link_fills_the_code_in_and_changes_nothing(browser):
    code = await new_code(browser.sipas, browser.org.ward)
    page = await browser.get(f"/chat?code={code.lower()}")
    assert page.status_code == 200
    assert f'value="{code[:4]}-{code[4:8]}-{code[8:]}"' in page.text
    assert "Bắt đầu đánh giá" in page.text and 'lang="vi"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/chat" in cookie
    # A link preview fetching the page binds no code and leaves no trace.
    assert await count(browser.sipas, Conversation) == 0
    assert await count(browser.sipas, InboundEvent) == 0
    async with browser.sipas.db.read() as session:
        assert (await session.exec(select(SurveyInvite.claimed_by))).scalar_one() is None


async def test_a_survey_runs_through_the_engine_and_the_outbox(browser):
    app = browser.sipas
    code = await new_code(app, browser.org.ward, procedure=browser.org.procedure)
    page = await browser.get(f"/chat?code={code}")
    page = await send(browser, page.text, code=code, start="1")
    assert "Phường Một" in bubbles(page.text)[0]
    assert "Câu 1/6" in bubbles(page.text)[-1]
    assert 'id="latest"' in page.text and 'value="a:0:4"' in page.text

    # Replies are outbox rows of channel "web", marked sent when a page shows them.
    response = await browser.post("/chat", data={**form_fields(page.text), "p": "a:0:5"})
    async with app.db.read() as session:
        rows = (await session.exec(select(Outbox.channel, Outbox.status))).all()
    assert {r.channel for r in rows} == {"web"} and rows[-1].status == "pending"
    page = await browser.get(response.headers["location"])
    async with app.db.read() as session:
        statuses = (await session.exec(select(Outbox.status))).scalars().all()
    assert set(statuses) == {"sent"}
    assert "dành thêm khoảng một phút" in bubbles(page.text)[-1]

    page = await send(browser, page.text, p="o:n")
    page = await send(browser, page.text, text="Rất tốt")
    assert "Xin cảm ơn Ông/Bà" in bubbles(page.text)[-1]
    async with app.db.read() as session:
        response_row = (await session.exec(select(Response))).scalars().one()
    assert (response_row.status, response_row.channel, response_row.comment) == (
        "completed",
        "web",
        "Rất tốt",
    )


async def test_a_double_tap_is_one_answer(browser):
    app = browser.sipas
    code = await new_code(app, browser.org.ward)
    page = await browser.get(f"/chat?code={code}")
    page = await send(browser, page.text, code=code, start="1")
    fields = {**form_fields(page.text), "p": "a:0:5"}
    for _ in range(2):  # the same page's form, posted twice
        assert (await browser.post("/chat", data=fields)).status_code == 303
    assert await count(app, InboundEvent) == 2  # the start, and the answer once
    page = await browser.get("/chat")
    assert sum("dành thêm khoảng một phút" in b for b in bubbles(page.text)) == 1


async def test_everything_shown_is_escaped(browser):
    page = await browser.get("/chat?code=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>" not in page.text and "alert(1)" not in page.text
    page = await send(browser, page.text, start="1", code="")
    # The bot repeats an unknown command back: it must arrive as text, not markup.
    page = await send(browser, page.text, text='/x<b>"bold"</b>')
    assert "<b>" not in page.text
    assert "/x&lt;b&gt;&quot;bold&quot;&lt;/b&gt;" in page.text
    assert any('/x<b>"bold"</b>' in b for b in bubbles(page.text))


async def test_posts_need_the_session_and_its_token(browser):
    app = browser.sipas
    page = await browser.get("/chat")
    fields = form_fields(page.text)
    forged = await browser.post("/chat", data={**fields, "csrf": "0" * 64, "text": "/help"})
    assert forged.status_code == 403 and "Quay lại trang trò chuyện" in forged.text

    stranger = httpx.AsyncClient(transport=browser._transport, base_url="http://sipas.test")
    async with stranger:
        # No cookie (expired, or cookies off): back to the page, with a word why.
        lost = await stranger.post("/chat", data={**fields, "text": "/help"})
        assert lost.status_code == 303 and lost.headers["location"] == "/chat?e=session"
        again = await stranger.get(lost.headers["location"])
        assert "Phiên làm việc đã hết hạn" in again.text
        # A cookie signed with another key is no session either.
        other = SimpleNamespace(keys=Keyring(b"another-key"))
        cookie = web.signer(other).dumps("A" * 24)
        stranger.cookies.set(web.COOKIE, cookie, domain="sipas.test", path="/chat")
        assert web.session_id(app, cookie) is None
        lost = await stranger.post("/chat", data={"csrf": web.csrf_token(other, "A" * 24)})
        assert lost.status_code == 303

    huge = await browser.post("/chat", data={**fields, "text": "x" * (web.MAX_POST + 1)})
    assert huge.status_code == 413
    assert await count(app, InboundEvent) == 0


async def test_control_characters_never_reach_the_flows(browser):
    page = await browser.get("/chat")
    page = await send(browser, page.text, text="\x00/help\x07")
    assert "/start" in bubbles(page.text)[-1]  # the help text, so "/help" was understood


async def test_the_language_can_be_switched(browser):
    page = await browser.get("/chat")
    assert "English" in page.text
    page = await send(browser, page.text, p="l:en")
    assert 'lang="en"' in page.text and "Satisfaction survey" in page.text
    assert "The language is now English." in bubbles(page.text)[-1]
    assert "Tiếng Việt" in page.text


def mine(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<div class="msg mine">(.*?)</div>', html, re.S)]


async def test_the_page_shows_both_sides_the_progress_and_folds_answered_questions(browser):
    app = browser.sipas
    code = await new_code(app, browser.org.ward, procedure=browser.org.procedure)
    page = await browser.get(f"/chat?code={code}")
    formatted = f"{code[:4]}-{code[4:8]}-{code[8:]}"
    page = await send(browser, page.text, code=formatted, start="1")  # as the form has it
    assert mine(page.text) == [formatted]
    assert '<progress value="1" max="6">' in page.text and "Câu 1/6" in page.text
    assert "/cancel" not in page.text and 'name="cancel"' in page.text  # a "Hủy" button
    assert ">Hủy</button>" in page.text
    page = await send(browser, page.text, p="a:0:4")
    page = await send(browser, page.text, p="o:y")
    page = await send(browser, page.text, text="5")
    assert mine(page.text)[1:] == ["Hài lòng", "Có, tiếp tục", "5"]
    assert '<progress value="3" max="6">' in page.text
    # Questions 1 and 2 are answered: folded to one line each; question 3 is open.
    folded = re.findall(r"<details class=\"msg\"><summary>(.*?)</summary>", page.text)
    assert folded == ["Câu 1/6", "Câu 2/6"]
    assert "Câu 3/6" in bubbles(page.text)[-1]
    # "Hủy" cancels, and the button goes away with the survey.
    page = await send(browser, page.text, cancel="1")
    assert mine(page.text)[-1] == "Hủy" and "Đã hủy" in bubbles(page.text)[-1]
    assert 'name="cancel"' not in page.text
    async with app.db.read() as session:
        assert (await session.exec(select(Response.status))).scalar_one() == "abandoned"


async def test_switching_the_language_keeps_a_prefilled_code(browser):
    code = await new_code(browser.sipas, browser.org.ward)
    page = await browser.get(f"/chat?code={code}")
    lang_form = re.search(r'<form[^>]*class="lang">(.*?)</form>', page.text, re.S).group(1)
    assert f'name="code" value="{code}"' in lang_form  # the code goes with the switch
    response = await browser.post(
        "/chat", data={**form_fields(page.text), "p": "l:en", "code": code}
    )
    assert response.status_code == 303
    page = await browser.get(response.headers["location"])
    assert 'lang="en"' in page.text and "Start the survey" in page.text
    assert f'value="{code[:4]}-{code[4:8]}-{code[8:]}"' in page.text
    assert mine(page.text) == []  # a language switch is no message of the citizen's
