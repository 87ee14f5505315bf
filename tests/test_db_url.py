"""Every database URL a deployment may write runs on the driver the code speaks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.app import App
from storage.db import async_url
from storage.models import Response
from tests.builders import Citizen, make_org, new_code
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///./data/sipas.db", "sqlite+aiosqlite:///./data/sipas.db"),
        ("postgresql://u:pw@db:5432/sipas", "postgresql+asyncpg://u:pw@db:5432/sipas"),
        ("postgres://u@db/sipas", "postgresql+asyncpg://u@db/sipas"),
        ("postgresql+asyncpg://u@db/sipas", "postgresql+asyncpg://u@db/sipas"),
        # psycopg would not run the chat step's asyncpg statements: same server, asyncpg.
        ("postgresql+psycopg://u:pw@db/sipas", "postgresql+asyncpg://u:pw@db/sipas"),
        ("postgresql+psycopg2://u@db/sipas", "postgresql+asyncpg://u@db/sipas"),
    ],
)
def test_urls_map_to_the_async_driver(url, expected):
    assert async_url(url) == expected


@pytest.fixture
async def psycopg_app(db_url, tmp_path, clock):
    if not db_url.startswith("postgresql+asyncpg://"):
        pytest.skip("PostgreSQL only")
    url = db_url.replace("postgresql+asyncpg://", "postgresql+psycopg://", 1)
    application = App(make_settings(url, tmp_path / "data"), clock=clock)
    yield application
    await application.close()


async def test_a_psycopg_url_completes_a_survey(psycopg_app):
    """A whole survey through the engine on a ``postgresql+psycopg://`` URL: before the
    URL was mapped it failed at the chat step's first statement."""
    app = psycopg_app
    assert app.db.engine.dialect.driver == "asyncpg"
    org = await make_org(app)
    citizen = Citizen(app)
    await citizen.say(f"/start {await new_code(app, org.ward, procedure=org.procedure)}")
    await citizen.say("5")
    await citizen.press_label("Có, tiếp tục")
    for value in ("4", "4", "3", "5", "4"):
        await citizen.say(value)
    (thanks,) = await citizen.say("Cảm ơn.")
    assert "Xin cảm ơn Ông/Bà" in thanks["text"]
    async with app.db.read() as session:
        status = (await session.exec(select(Response.status))).scalar_one()
    assert status == "completed"
