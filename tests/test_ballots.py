"""Paper ballots end to end, as a clerk does it with the real command line: the workbook
from ``ballots template``, filled in (with bad cells first), ``import ballots``, the same
file again, a CSV, and the printed A4 form."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.core.app import App
from storage.models import Answer, Response, ResponseOrigin
from tests.builders import make_org
from tests.conftest import make_settings


@pytest.fixture
async def clerk(db_url, tmp_path):
    """``sipas-bot`` on the test database (which has a province with two wards)."""
    app = App(make_settings(db_url, tmp_path / "data"))
    await make_org(app)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")},
        "SIPAS_DATABASE_URL": db_url,
        "SIPAS_DATA_DIR": str(tmp_path / "data"),
        "SIPAS_SECRET_KEY": "test-secret-key-not-for-production",
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    run.app = app  # type: ignore[attr-defined]
    yield run
    await app.close()


async def counts(app: App) -> tuple[int, int, int]:
    async with app.db.read() as session:
        responses = (
            await session.exec(
                select(func.count()).select_from(Response).where(Response.channel == "paper")
            )
        ).scalar_one()
        answers = (await session.exec(select(func.count()).select_from(Answer))).scalar_one()
        origins = (
            await session.exec(select(func.count()).select_from(ResponseOrigin))
        ).scalar_one()
    return responses, answers, origins


def fill(path, rows: list[dict]) -> None:
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    keys = [c.value for c in ws[1]]
    for n, row in enumerate(rows, 3):
        for key, value in row.items():
            ws.cell(n, keys.index(key) + 1, value)
    wb.save(path)


def ballot(n: int, level: int, **extra) -> dict:
    row = {"ballot_id": f"B{n}", "date": date(2026, 11, 20), "unit": "P.W1"}
    row.update({f"E{e}.{i}": level for e, i in ((1, 1), (1, 2), (2, 1), (3, 1), (4, 1), (5, 1))})
    row.update(extra)
    return row


async def test_template_bad_cells_then_good_then_again(clerk, tmp_path):
    book = tmp_path / "phieu.xlsx"
    made = clerk(
        "ballots", "template", "--questionnaire", "sipas-2023", "--unit", "P", "--out", str(book)
    )
    assert made.returncode == 0, made.stderr
    wb = load_workbook(book)
    ws = wb.worksheets[0]
    keys = [c.value for c in ws[1]]
    assert keys[:4] == ["ballot_id", "date", "unit", "procedure"] and keys[-1] == "comment"
    assert len(keys) == 4 + 19 + 1 and ws["C3"].value == "P"
    rules = {
        str(dv.sqref): (dv.type, dv.formula1, dv.formula2)
        for dv in ws.data_validations.dataValidation
    }
    assert ("whole", "1", "5") in rules.values()  # a clerk cannot type 7

    fill(
        book,
        [
            ballot(1, 5, procedure="T-HT-01", comment="Rất tốt"),
            ballot(2, 7),  # row 4: a 7
            ballot(3, 4, unit="NOPE"),  # row 5: no such unit
            ballot(4, 3, date="31/02/2026"),  # row 6: not a date
            ballot(1, 4),  # row 7: the ballot number again
            ballot(5, 2, procedure="X-9"),  # row 8: unknown procedure
        ],
    )
    failed = clerk("import", "ballots", str(book))
    assert failed.returncode == 2
    err = failed.stderr
    for expected in (
        "hàng 4, cột E (E1.1)",
        "“7” không phải mức từ 1 đến 5",
        "hàng 5, cột C (unit)",
        "hàng 6, cột B (date)",
        "hàng 7, cột A (ballot_id)",
        "hàng 8, cột D (procedure)",
        "không nạp gì",
    ):
        assert expected in err, err
    assert await counts(clerk.app) == (0, 0, 0)  # nothing loaded from a bad file

    good = tmp_path / "phieu2.xlsx"
    clerk("ballots", "template", "--unit", "P.W1", "--out", str(good))
    fill(
        good,
        [
            ballot(1, 5, procedure="T-HT-01", comment="Rất tốt"),
            ballot(2, 4),
            ballot(3, 2),
            {"ballot_id": None, "date": date(2026, 11, 21), "unit": "P.W1", "E1.1": 3},
        ],
    )
    loaded = clerk("import", "ballots", str(good))
    assert loaded.returncode == 0, loaded.stderr
    assert "đã lưu 4/4 phiếu" in loaded.stderr
    assert "4 phiếu giấy" in loaded.stdout
    assert await counts(clerk.app) == (4, 4 * 19, 4)

    again = clerk("import", "ballots", str(good))
    assert again.returncode == 0 and "0 phiếu giấy" in again.stdout
    assert await counts(clerk.app) == (4, 4 * 19, 4)  # nothing twice, even without an id

    async with clerk.app.db.read() as session:
        rows = (
            await session.exec(
                select(Response.status, Response.comment, Response.procedure_id).order_by(
                    Response.id
                )
            )
        ).all()
    assert [r[0] for r in rows] == ["completed"] * 4
    assert rows[0][1] == "Rất tốt" and rows[0][2] is not None and rows[1][2] is None


async def test_a_csv_file_and_the_printed_form(clerk, tmp_path):
    sheet = tmp_path / "phieu.csv"
    sheet.write_text(
        "ballot_id;date;unit;overall;E1;E2;E3;E4;E5;comment\n"
        "# Mã phiếu;Ngày;;;;;;;;\n"
        "K1;20/11/2026;P.W2;5;4;;4;5;;\n"
        "K2;2026-11-21;p.w2;2;2;3;1;2;;Chờ lâu\n",
        encoding="utf-8-sig",
    )
    loaded = clerk("import", "ballots", str(sheet))
    assert loaded.returncode == 0, loaded.stderr
    assert "2 phiếu giấy (quick)" in loaded.stdout
    assert (await counts(clerk.app))[:2] == (2, 12)

    pdf = tmp_path / "phieu.pdf"
    made = clerk("ballots", "form", "--unit", "P.W1", "--out", str(pdf))
    assert made.returncode == 0, made.stderr
    assert "fontTools" not in made.stderr  # no library chatter on the operator's screen
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"/MediaBox [0 0 595.28 841.89]" in data  # A4
    assert b"DejaVu" in data  # the font with the Vietnamese glyphs is embedded
    bad = clerk("ballots", "form", "--unit", "NOPE", "--out", str(pdf))
    assert bad.returncode == 2 and "NOPE" in bad.stderr
