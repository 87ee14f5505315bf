"""Every database URL a deployment may write runs on the driver the code speaks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.app import App
from storage.db import async_url
from storage.models import Response
from tests.admin_builders import rate
from tests.builders import make_org
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
    await rate(app, org.ward, "citizen-1", 5, elements=[4, 4, 3, 5, 4], comment="Cảm ơn.")
    async with app.db.read() as session:
        status = (await session.exec(select(Response.status))).scalar_one()
    assert status == "completed"
