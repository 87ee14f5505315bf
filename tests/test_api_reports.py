"""GET /api/v1/satisfaction and /api/v1/quotas return what the command line prints
(``report … --format json``), on the demo data, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.cli import main
from bot.core.app import App
from bot.server import create_app
from bot.services import demo
from tests.conftest import make_settings

KEY = "test-api-key"


@pytest.fixture
def demo_db(db_url, tmp_path, monkeypatch):
    """The demo data (with 40 recent responses) and the CLI's environment pointing at it."""
    settings = make_settings(db_url, tmp_path / "data", api_keys=KEY)

    async def load() -> None:
        app = App(settings)
        async with app.db.write() as session:
            await demo.load(app, session, responses=40)
        await app.close()

    asyncio.run(load())
    monkeypatch.setenv("SIPAS_DATABASE_URL", db_url)
    monkeypatch.setenv("SIPAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SIPAS_SECRET_KEY", "test-secret-key-not-for-production")
    return settings


def cli_json(capsys, *args: str):
    capsys.readouterr()
    assert main(["report", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def api_get(settings, path: str, params: dict, key: str | None = KEY) -> httpx.Response:
    async def call() -> httpx.Response:
        app = App(settings)
        try:
            transport = httpx.ASGITransport(app=create_app(app, run_background=False))
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get(path, params=params, headers=headers)
        finally:
            await app.close()

    return asyncio.run(call())


def test_api_equals_the_command_line(demo_db, capsys):
    cases = [
        (
            ["satisfaction", "--unit", "DN.SONTRA", "--period", "10/2023"],
            "/api/v1/satisfaction",
            {"unit": "DN.SONTRA", "period": "10/2023"},
        ),
        (
            ["satisfaction", "--from", "01/10/2023", "--to", "2023-10-15"],
            "/api/v1/satisfaction",
            {"from": "01/10/2023", "to": "2023-10-15"},
        ),
        (["satisfaction", "--period", "quý này"], "/api/v1/satisfaction", {"period": "quý này"}),
        (
            ["quota", "--unit", "DN.SONTRA", "--period", "Q4/2023"],
            "/api/v1/quotas",
            {"unit": "DN.SONTRA", "period": "quý 4/2023"},
        ),
        (["quota"], "/api/v1/quotas", {}),
    ]
    for cli_args, path, params in cases:
        # The API follows the leaders' small-number rule: the command line prints the
        # same with --as-leader.
        leader = ["--as-leader"] if cli_args[0] == "satisfaction" else []
        from_cli = cli_json(capsys, *cli_args, *leader)
        response = api_get(demo_db, path, params)
        assert response.status_code == 200, (path, params, response.text)
        assert response.json() == from_cli, (cli_args, params)

    # The figures themselves, as the demo data promises them.
    sontra = api_get(demo_db, "/api/v1/quotas", {"unit": "DN.SONTRA", "period": "10/2023"})
    counts = sorted((q["collected"], q["target"]) for q in sontra.json())
    assert counts == [(249, 300), (370, 370)]
    recent = api_get(demo_db, "/api/v1/satisfaction", {"period": "quý này"}).json()
    assert recent["total"]["respondents"] == 40
    assert sum(u["respondents"] for u in recent["units"]) == 40


def test_api_refuses_without_a_key_and_explains_bad_input(demo_db):
    path = "/api/v1/satisfaction"
    assert api_get(demo_db, path, {}, key=None).status_code == 401
    assert api_get(demo_db, path, {}, key="wrong").status_code == 401
    for params, field in [
        ({"unit": "NOPE"}, "unit"),
        ({"period": "quý 5/2023"}, "period"),
        ({"period": "10/2023", "from": "01/10/2023"}, "period"),
        ({"from": "32/10/2023"}, "from"),
        ({"from": "10/2023"}, "from"),  # a month is not a day
        ({"from": "15/10/2023", "to": "01/10/2023"}, "period"),
    ]:
        response = api_get(demo_db, path, params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == ["query", field], params
    assert api_get(demo_db, "/api/v1/quotas", {"unit": "NOPE"}).status_code == 422


def test_cli_workbook_and_chart_match_the_json(demo_db, tmp_path, capsys):
    out, chart = tmp_path / "r.xlsx", tmp_path / "r.png"
    args = ["satisfaction", "--unit", "DN.SONTRA", "--period", "10/2023"]
    data = cli_json(capsys, *args)
    files = ["--format", "xlsx", "--out", str(out), "--chart", str(chart)]
    assert main(["report", *args, *files]) == 0
    ws = load_workbook(out)["Tổng hợp"]
    total = [c.value for c in ws[7]]
    assert total[:3] == ["DN.SONTRA", data["total"]["unit_name"], data["total"]["respondents"]]
    assert round(total[4] * 100, 2) == data["total"]["percent"]
    units = {ws.cell(r, 1).value: ws.cell(r, 5).value for r in range(8, ws.max_row + 1)}
    assert {code: round(v * 100, 2) for code, v in units.items()} == {
        u["unit_code"]: u["percent"] for u in data["units"]
    }
    with Image.open(chart) as img:
        assert img.format == "PNG" and img.width > 500
    assert main(["report", "quota", "--format", "xlsx"]) == 2  # a workbook needs --out
    assert "--out" in capsys.readouterr().err
