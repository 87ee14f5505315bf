"""QR codes and counter posters decode back to the survey link; the QR route is no oracle."""

from __future__ import annotations

import io
import re

import httpx
import pytest
import zxingcpp
from PIL import Image

from bot.cli import main
from bot.core.app import App
from bot.render.poster import counter_poster
from bot.server import create_app
from flows.i18n import translator
from tests.builders import make_org, new_code
from tests.conftest import make_settings


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


@pytest.fixture
async def client(sqlite_url, tmp_path):
    settings = make_settings(sqlite_url, tmp_path / "data", public_url="https://sipas.example.vn/")
    app = App(settings)
    asgi = create_app(app, run_background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://t") as c:
        c.sipas = app  # type: ignore[attr-defined]
        yield c
    await app.close()


async def test_the_qr_route_draws_the_web_chat_link(client):
    org = await make_org(client.sipas)
    code = await new_code(client.sipas, org.ward)
    response = await client.get(f"/qr/{code}.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert decode(response.content) == [f"https://sipas.example.vn/chat?code={code}"]
    # As printed or typed: hyphens, lower case, O for 0 all give the same picture.
    printed = f"{code[:4]}-{code[4:8]}-{code[8:]}".lower()
    assert (await client.get(f"/qr/{printed}.png")).content == response.content


async def test_the_qr_route_tells_nobody_whether_a_code_exists(client):
    org = await make_org(client.sipas)
    real = await new_code(client.sipas, org.ward)
    fake = "".join(reversed(real))
    a, b = await client.get(f"/qr/{real}.png"), await client.get(f"/qr/{fake}.png")
    assert a.status_code == b.status_code == 200
    assert dict(a.headers) | {"content-length": ""} == dict(b.headers) | {"content-length": ""}
    assert decode(b.content) == [f"https://sipas.example.vn/chat?code={fake}"]
    for bad in ("short", "K7QM2XWD9RT!", "x" * 100, "%3Cscript%3E"):
        response = await client.get(f"/qr/{bad}.png")
        assert response.status_code == 404 and "<script" not in response.text


def test_the_poster_carries_a_readable_qr_code():
    t = translator("vi")
    link = "https://sipas.example.vn/chat?code=K7QM2XWD9RTE"
    png = counter_poster("Phường Hải Châu", link, "K7QM2XWD9RTE", t, "png")
    image = Image.open(io.BytesIO(png))
    assert image.size == (1654, 2339)  # A4 at 200 dpi
    assert decode(png) == [link]
    pdf = counter_poster("Phường Hải Châu", link, "K7QM2XWD9RTE", t, "pdf")
    assert pdf.startswith(b"%PDF")
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box and abs(float(box.group(1)) - 595.4) < 1 and abs(float(box.group(2)) - 842) < 1


def test_posters_and_qr_files_from_the_command_line(tmp_path, monkeypatch, capsys):
    # In process (the same code as the installed command, without a second start-up).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIPAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SIPAS_PUBLIC_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    (tmp_path / "units.csv").write_text("code,name,kind,parent_code\nW,Phường Hải Châu,ward,\n")
    assert main(["import", "units", "units.csv"]) == 0
    capsys.readouterr()

    assert (
        main(["invite", "create", "--unit", "W", "--counter", "--poster", "p.pdf", "--qr", "q.png"])
        == 0
    )
    out = capsys.readouterr().out
    code = re.search(r"Mã khảo sát: ([0-9A-Z-]{14})", out).group(1).replace("-", "")
    assert "Đã ghi áp phích vào p.pdf" in out
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")
    assert decode((tmp_path / "q.png").read_bytes()) == [f"http://127.0.0.1:8080/chat?code={code}"]

    assert main(["invite", "create", "--unit", "W", "--poster", "p.png"]) == 2
    assert "--counter" in capsys.readouterr().err
    assert main(["invite", "create", "--unit", "W", "--counter", "--poster", "p.jpg"]) == 2
    assert ".png hoặc .pdf" in capsys.readouterr().err
