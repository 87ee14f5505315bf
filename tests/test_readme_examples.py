"""The README's integration API examples, as written there, against the demo data on a
server with default settings (no Zalo, no Telegram): issue 16, item 19."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from pathlib import Path

import httpx

from bot.core.app import App
from bot.server import create_app
from tests.test_api_reports import KEY, demo_db  # noqa: F401  (fixture)

README = Path(__file__).resolve().parent.parent / "README.md"


def curl_examples() -> list[list[str]]:
    """Each ``curl`` command of the README, in order, split as a shell would split it."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    commands = []
    for block in blocks:
        for command in re.split(r"\n(?=curl )", block.replace("\\\n", " ")):
            if command.strip().startswith("curl "):
                commands.append(shlex.split(command.strip()))
    return commands


def call(settings, args: list[str], body_change=None) -> httpx.Response:
    """Run one README curl command (its method, path, headers and body) in process."""
    method = args[args.index("-X") + 1] if "-X" in args else "GET"
    url = next(a for a in args if a.startswith("http://"))
    path = url.removeprefix("http://127.0.0.1:8080")
    headers = {}
    for i, a in enumerate(args):
        if a == "-H":
            name, _sep, value = args[i + 1].partition(":")
            headers[name.strip()] = value.strip().replace("$KEY", KEY)
    body = json.loads(args[args.index("-d") + 1]) if "-d" in args else None
    if body is not None and body_change:
        body = body_change(body)

    async def go() -> httpx.Response:
        app = App(settings)
        try:
            transport = httpx.ASGITransport(app=create_app(app, run_background=False))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.request(method, path, headers=headers, json=body)
        finally:
            await app.close()

    return asyncio.run(go())


def test_the_readme_curl_examples_work_on_the_demo_data(demo_db):  # noqa: F811
    dossier, quotas = curl_examples()
    first = call(demo_db, dossier)
    assert first.status_code == 201, first.text
    assert first.json()["code_display"] and first.json()["unit_code"] == "DN.HAICHAU"
    again = call(demo_db, dossier)
    assert again.status_code == 200 and again.json()["code"] == first.json()["code"]
    # As the README says: naming a Zalo chat on a server without Zalo is a 422.
    zalo = call(
        demo_db,
        dossier,
        lambda b: {
            **b,
            "receipt_code": b["receipt_code"] + "9",
            "citizen": {"channel": "zalo", "user_id": "8123456789012345678"},
        },
    )
    assert zalo.status_code == 422 and zalo.json()["detail"][0]["type"] == "channel_off"
    found = call(demo_db, quotas)
    assert found.status_code == 200, found.text
    assert [q["unit_code"] for q in found.json()][:2] == ["DN.SONTRA", "DN.SONTRA.MC"]
