"""The counter tablet in a real headless Chromium at a tablet's viewport: pairing, the
procedure picker, faces, the follow-up, "Cảm ơn" and back to the start by itself, and a
second citizen who sees nothing of the first. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Feedback, Response
from tests.builders import make_org
from tests.live import LiveServer
from tests.test_webchat_browser import (  # noqa: F401  (pytestmark: the same skip and group)
    ARTIFACTS,
    CHROMIUM,
    FLAGS,
    LAUNCH_TIMEOUT_MS,
    pytestmark,
)

TABLET = {"width": 1280, "height": 800}  # a 10-inch Android tablet, landscape


def test_two_citizens_rate_on_a_paired_tablet(sqlite_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from bot.services import kiosk

    ARTIFACTS.mkdir(exist_ok=True)
    with LiveServer(sqlite_url, tmp_path / "data", kiosk_thanks_seconds=1) as live:

        async def setup(app):
            org = await make_org(app)
            async with app.db.write() as session:
                _id, link = await kiosk.register(
                    app, session, org.ward, "Quầy 1", [org.procedure.code]
                )
            return link

        link = live.run(setup)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=FLAGS, timeout=LAUNCH_TIMEOUT_MS
            )
            try:
                page = browser.new_page(viewport=TABLET, locale="vi-VN", has_touch=True)
                page.set_default_timeout(10_000)
                sizes: list[int] = []
                page.on(
                    "response",
                    lambda r: sizes.append(len(r.body())) if r.status == 200 else None,
                )
                not_paired = page.goto(f"{live.base}/kiosk")
                assert not_paired is not None and not_paired.status == 403
                expect(page.locator("main")).to_contain_text("chưa được thiết lập")
                expect(page.get_by_role("button")).to_have_count(0)

                page.goto(link)
                page.get_by_role("button", name="Ghép nối máy này").click()
                expect(page.locator("header")).to_contain_text("Phường Một")
                expect(page.locator("header")).to_contain_text("Quầy 1")
                page.get_by_role("button", name="Đăng ký khai sinh").click()
                expect(page.locator("h2")).to_contain_text("Nhìn chung")
                for label in (
                    "Rất không hài lòng",
                    "Không hài lòng",
                    "Bình thường",
                    "Hài lòng",
                    "Rất hài lòng",
                ):
                    expect(page.get_by_role("button", name=label, exact=True)).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / "kiosk-question.png"))

                page.get_by_role("button", name="Không hài lòng", exact=True).click()
                expect(page.locator("h2")).to_contain_text("chưa hài lòng điều gì")
                page.screenshot(path=str(ARTIFACTS / "kiosk-follow-up.png"))
                page.get_by_role("button", name="Chờ đợi lâu").click()
                expect(page.locator("main")).to_contain_text("Cảm ơn Ông/Bà")
                page.screenshot(path=str(ARTIFACTS / "kiosk-thanks.png"))

                # Back to the start by itself (a meta refresh): the next citizen.
                expect(page.get_by_role("button", name="Thủ tục khác")).to_be_visible()
                expect(page.locator("main")).not_to_contain_text("Cảm ơn")
                page.screenshot(path=str(ARTIFACTS / "kiosk-next-citizen.png"))
                page.get_by_role("button", name="Thủ tục khác").click()
                page.get_by_role("button", name="Rất hài lòng", exact=True).click()
                expect(page.locator("main")).to_contain_text("Cảm ơn Ông/Bà")
                expect(page.get_by_role("button", name="Thủ tục khác")).to_be_visible()
            finally:
                browser.close()
        print(f"kiosk screenshots in {ARTIFACTS}")

        rows, reasons = live.run(_stored)
    assert [(r.channel, r.status) for r in rows] == [("kiosk", "completed")] * 2
    assert rows[0].procedure_id is not None and rows[1].procedure_id is None
    assert rows[0].respondent_hash != rows[1].respondent_hash
    assert reasons == ["wait"]
    assert sizes and max(sizes) < 50 * 1024, sizes  # every page, for a cheap tablet


async def _stored(app):
    async with app.db.read() as session:
        rows = (await session.exec(select(Response).order_by(Response.id))).scalars().all()
        reasons = (await session.exec(select(Feedback.reason))).scalars().all()
    return list(rows), list(reasons)
