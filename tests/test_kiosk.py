"""The counter tablet over HTTP: pairing once, revoking, one citizen after another, the
follow-up, double taps, forged posts, bursts flagged per tablet, and page weight."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest
from sqlalchemy import func, select

from bot.core.app import App
from bot.server import create_app
from bot.services import kiosk
from storage.models import Answer, Feedback, Response, ResponseOrigin
from tests.builders import make_org


@pytest.fixture
async def tablet(app):
    """An HTTP client that keeps cookies (the tablet's browser) and a pairing link."""
    org = await make_org(app)
    async with app.db.write() as session:
        device_id, link = await kiosk.register(app, session, org.ward, "Quầy 2", [])
    asgi = create_app(app, run_background=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://sipas.test"
    ) as client:
        client.sipas, client.org, client.device_id = app, org, device_id  # type: ignore[attr-defined]
        client.link = link.split("://", 1)[1].split("/", 1)[1]  # type: ignore[attr-defined]
        yield client


def fields(page) -> dict[str, str]:
    html = page if isinstance(page, str) else page.text
    return {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1),
        "s": unescape(re.search(r'name="s" value="([^"]+)"', html).group(1)),
    }


async def pair(client) -> httpx.Response:
    page = await client.get("/" + client.link)
    assert page.status_code == 200 and "Quầy 2" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    response = await client.post("/" + client.link, data={"csrf": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/kiosk"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/kiosk" in cookie
    return await client.get("/kiosk")


async def tap(client, page, **data) -> httpx.Response:
    response = await client.post("/kiosk", data={**fields(page), **data})
    assert response.status_code == 303, response.text
    return await client.get(response.headers["location"])


async def count(app: App, model, *where) -> int:
    async with app.db.read() as session:
        stmt = select(func.count()).select_from(model).where(*where)
        return (await session.exec(stmt)).scalar_one()


async def test_unpaired_tablets_see_no_survey_and_the_link_pairs_once(tablet):
    page = await tablet.get("/kiosk")
    assert page.status_code == 403 and "chưa được thiết lập" in page.text
    assert 'name="v"' not in page.text
    # Opening the link (a preview does) pairs nothing; the press does, once.
    assert (await tablet.get("/" + tablet.link)).status_code == 200
    start = await pair(tablet)
    assert start.status_code == 200 and "Phường Một" in start.text and 'name="v"' in start.text
    assert start.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in start.text
    assert len(start.content) < 50 * 1024
    again = await tablet.get("/" + tablet.link)
    assert again.status_code == 404 and "không dùng được" in again.text

    # Another browser with a forged or absent cookie is not a tablet.
    tablet.cookies.set("sipas_kiosk", "forged", domain="sipas.test", path="/kiosk")
    assert (await tablet.get("/kiosk")).status_code == 403


async def test_citizens_one_after_another_and_the_follow_up(tablet):
    app = tablet.sipas
    start = await pair(tablet)
    thanks = await tap(tablet, start, v="5")
    assert "Cảm ơn" in thanks.text and 'http-equiv="refresh"' in thanks.text
    assert "url=/kiosk" in thanks.text

    # The next citizen gets a fresh page; a dissatisfied one is asked why.
    second = await tablet.get("/kiosk")
    why = await tap(tablet, second, v="2")
    assert "Chờ đợi lâu" in why.text and 'name="r"' in why.text
    done = await tap(tablet, why, r="wait")
    assert "Cảm ơn" in done.text
    # The back button shows nothing of that citizen: the follow-up is gone.
    back = await tablet.get(why.url.raw_path.decode())
    assert back.status_code == 303 and back.headers["location"] == "/kiosk"

    # A double tap on the same page records one answer, one response.
    third = await tablet.get("/kiosk")
    await tap(tablet, third, v="4")
    late = await tablet.post("/kiosk", data={**fields(third.text), "v": "1"})
    assert late.status_code == 303 and late.headers["location"] == "/kiosk"

    async with app.db.read() as session:
        rows = (
            await session.exec(
                select(Response.channel, Response.status, Response.respondent_hash, Answer.value)
                .join(Answer, Answer.response_id == Response.id)
                .order_by(Response.id)
            )
        ).all()
    assert [(c, s, v) for c, s, _h, v in rows] == [
        ("kiosk", "completed", 5),
        ("kiosk", "completed", 2),
        ("kiosk", "completed", 4),
    ]
    assert len({h for _c, _s, h, _v in rows}) == 3  # each citizen a new respondent
    assert await count(app, Feedback, Feedback.reason == "wait") == 1
    assert await count(app, ResponseOrigin, ResponseOrigin.device_id == tablet.device_id) == 3


async def test_forged_posts_and_revocation(tablet, clock):
    app = tablet.sipas
    start = await pair(tablet)
    bad_csrf = await tablet.post("/kiosk", data={**fields(start.text), "csrf": "x", "v": "5"})
    assert bad_csrf.status_code == 303 and bad_csrf.headers["location"] == "/kiosk"
    bad_step = await tablet.post("/kiosk", data={**fields(start.text), "s": "x.y.z", "v": "5"})
    assert bad_step.headers["location"] == "/kiosk"
    seven = await tablet.post("/kiosk", data={**fields(start.text), "v": "7"})
    assert seven.status_code == 303
    assert await count(app, Response) == 0

    async with app.db.write() as session:
        from storage import kiosks

        assert await kiosks.revoke(session, tablet.device_id, clock.now)
    gone = await tablet.get("/kiosk")
    assert gone.status_code == 403 and 'name="v"' not in gone.text
    refused = await tablet.post("/kiosk", data={**fields(start.text), "v": "5"})
    assert refused.status_code == 403
    assert await count(app, Response) == 0


async def test_a_burst_on_one_tablet_is_flagged(tablet, clock):
    app = tablet.sipas
    await pair(tablet)
    for _ in range(app.settings.stuffing_device_ratings):
        page = await tablet.get("/kiosk")
        await tap(tablet, page, v="5")
        clock.advance(seconds=5)
    flagged = await count(app, Response, Response.flagged_at.is_not(None))
    assert flagged == app.settings.stuffing_device_ratings
    async with app.db.read() as session:
        reason = (await session.exec(select(Response.flag_reason))).scalars().first()
    assert reason.startswith(f"stuffing device:{tablet.device_id}")


async def test_spread_out_ratings_are_not_flagged(tablet, clock):
    app = tablet.sipas
    await pair(tablet)
    for _ in range(app.settings.stuffing_device_ratings + 2):
        page = await tablet.get("/kiosk")
        await tap(tablet, page, v="4")
        clock.advance(seconds=app.settings.stuffing_device_seconds)
    assert await count(app, Response, Response.flagged_at.is_not(None)) == 0
    assert await count(app, Response, Response.status == "completed") == 7


async def test_an_expired_pairing_link_pairs_nothing(tablet, clock):
    """After ``SIPAS_KIOSK_PAIRING_HOURS`` the link is refused with the same clear page,
    and pressing it anyway gives the tablet no cookie."""
    clock.advance(hours=tablet.sipas.settings.kiosk_pairing_hours, minutes=1)
    page = await tablet.get("/" + tablet.link)
    assert page.status_code == 404 and "không dùng được" in page.text
    pressed = await tablet.post("/" + tablet.link, data={"csrf": "x"})
    assert pressed.status_code in (403, 404) and "set-cookie" not in pressed.headers
    assert (await tablet.get("/kiosk")).status_code == 403
