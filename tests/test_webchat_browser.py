"""A whole survey in the web chat, as a citizen does it: a real headless Chromium.

Debian's ``chromium`` (``.ci/run`` installs it) driven by Playwright, which is pointed at
that browser: no browser is ever downloaded. The test skips, saying why, only when no
Chromium is installed, and never in CI. Screenshots go to ``test-artifacts/`` (not
committed).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Answer, Response, SurveyInvite
from tests.builders import make_org, new_code
from tests.live import LiveServer

CHROMIUM = os.environ.get("SIPAS_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# The machine has no network: nothing in the browser may try to reach out.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# CI (.ci/run) installs Chromium and sets this, so there a missing browser fails the run.
REQUIRED = os.environ.get("SIPAS_TEST_REQUIRE_BROWSER") == "1"
pytestmark = [
    pytest.mark.skipif(
        not REQUIRED and not Path(CHROMIUM).exists(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
    # One browser at a time (make test runs two workers with --dist loadgroup): two
    # Chromiums starting together on two busy cores once took longer than the launch
    # timeout.
    pytest.mark.xdist_group("browser"),
]
# A first start on a fresh machine builds its font caches: seconds, not milliseconds.
LAUNCH_TIMEOUT_MS = 120_000


def test_a_citizen_completes_a_survey_in_the_browser(sqlite_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with LiveServer(sqlite_url, tmp_path / "data") as live:

        async def setup(app):
            org = await make_org(app)
            return await new_code(app, org.ward, procedure=org.procedure)

        code = live.run(setup)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=FLAGS, timeout=LAUNCH_TIMEOUT_MS
            )
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-US")
                page.set_default_timeout(10_000)
                page.goto(f"{live.base}/chat?code={code}")
                # Opening the link fills the code in and uses nothing up.
                expect(page.locator("#code")).to_have_value(re.compile(code[:4] + "-"))
                assert live.run(_claimed) is None
                page.get_by_role("button", name="Bắt đầu đánh giá").click()
                expect(page.locator("main")).to_contain_text("Phường Một")
                expect(page.locator("main")).to_contain_text("Câu 1/6")
                page.screenshot(path=str(ARTIFACTS / "webchat-question.png"), full_page=True)

                # What the page shows: a progress bar, a "Hủy" button, no "/cancel".
                expect(page.locator(".progress")).to_have_text(re.compile("Câu 1/6"))
                expect(page.locator("progress")).to_have_attribute("value", "1")
                expect(page.get_by_role("button", name="Hủy")).to_be_visible()
                expect(page.locator("main")).not_to_contain_text("/cancel")
                first_question = page.locator("#latest").inner_text().splitlines()[-1]
                formatted = f"{code[:4]}-{code[4:8]}-{code[8:]}"
                expect(page.locator(".mine").first).to_have_text(formatted)

                page.get_by_role("button", name="Hài lòng", exact=True).click()
                # The citizen's own answer is their bubble; the question folds away.
                expect(page.locator(".mine").last).to_have_text("Hài lòng")
                expect(page.get_by_text(first_question)).to_be_hidden()
                expect(page.locator("details.msg summary")).to_have_text(["Câu 1/6"])
                page.get_by_role("button", name="Có, tiếp tục").click()
                expect(page.locator(".mine").last).to_have_text("Có, tiếp tục")
                for n, answer in enumerate(
                    ["Rất hài lòng", "Hài lòng", "Bình thường", "Bỏ qua", "Rất hài lòng"], 2
                ):
                    expect(page.locator("#latest")).to_contain_text(f"Câu {n}/6")
                    expect(page.locator(".progress")).to_have_text(re.compile(f"Câu {n}/6"))
                    page.get_by_role("button", name=answer, exact=True).click()
                    expect(page.locator(".mine").last).to_have_text(answer)
                # Every answered question is folded: one line each, none open.
                expect(page.locator("details.msg:not([open])")).to_have_count(6)
                # The comment is typed; the page must show it back safely escaped.
                page.get_by_role("textbox").fill("Cán bộ nhiệt tình <b>chu đáo</b>")
                page.get_by_role("button", name="Gửi").click()
                expect(page.locator(".mine").last).to_have_text("Cán bộ nhiệt tình <b>chu đáo</b>")
                expect(page.locator("#latest")).to_contain_text("Xin cảm ơn Ông/Bà")
                expect(page.locator("#latest")).to_contain_text("5/6 câu hỏi")
                expect(page.get_by_role("button", name="Hủy")).to_have_count(0)
                page.screenshot(path=str(ARTIFACTS / "webchat-survey.png"), full_page=True)
                height = page.evaluate("document.documentElement.scrollHeight")
                # Short on a phone: answered questions take a line each.
                assert height < 4 * 844, height
            finally:
                browser.close()

        response, answers, used = live.run(_stored)
    assert response.status == "completed" and response.channel == "web"
    assert response.comment == "Cán bộ nhiệt tình <b>chu đáo</b>"
    assert sorted(v for v in answers if v is not None) == [3, 4, 4, 5, 5]
    assert len(answers) == 6 and used is not None


def test_english_keeps_the_code_and_cancel_is_a_button(sqlite_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with LiveServer(sqlite_url, tmp_path / "data") as live:

        async def setup(app):
            org = await make_org(app)
            return await new_code(app, org.ward, procedure=org.procedure)

        code = live.run(setup)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=FLAGS, timeout=LAUNCH_TIMEOUT_MS
            )
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                page.set_default_timeout(10_000)
                page.goto(f"{live.base}/chat?code={code}")
                page.get_by_role("button", name="English").click()
                expect(page.locator("html")).to_have_attribute("lang", "en")
                expect(page.locator("#code")).to_have_value(re.compile(code[:4] + "-"))
                page.get_by_role("button", name="Start the survey").click()
                expect(page.locator(".progress")).to_have_text(re.compile("Question 1/6"))
                page.get_by_role("button", name="Cancel").click()
                expect(page.locator(".mine").last).to_have_text("Cancel")
                expect(page.locator("#latest")).to_contain_text("Cancelled")
                expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
            finally:
                browser.close()
        assert live.run(_status) == "abandoned"


async def _status(app):
    async with app.db.read() as session:
        return (await session.exec(select(Response.status))).scalars().one()


async def _claimed(app):
    async with app.db.read() as session:
        return (await session.exec(select(SurveyInvite.claimed_by))).scalars().one()


async def _stored(app):
    async with app.db.read() as session:
        response = (await session.exec(select(Response))).scalars().one()
        answers = (
            (await session.exec(select(Answer.value).where(Answer.response_id == response.id)))
            .scalars()
            .all()
        )
        used = (await session.exec(select(SurveyInvite.used_at))).scalars().one()
    return response, list(answers), used
