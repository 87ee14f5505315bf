"""The workbook read back with openpyxl cell by cell, and the chart decoded with Pillow,
against figures computed by hand (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import os
import shutil
import subprocess
from datetime import datetime

import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.render import charts
from bot.render import workbook as export
from flows.i18n import translator
from flows.periods import month
from flows.privacy import Privacy
from storage import reports
from storage.models import Quota
from tests.admin_builders import make_tree, rate, staff
from tests.builders import new_code

NOVEMBER = month(2026, 11)


@pytest.fixture
async def rated(app, clock):
    """Four citizens under the district (the figures of tests/test_reports.py)."""
    tree = await make_tree(app)
    async with app.db.write() as session:
        session.add(
            Quota(
                unit_id=tree.w1.id,
                period_start=NOVEMBER.start,
                period_end=NOVEMBER.end,
                target_count=10,
                label="Tháng 11",
            )
        )
    code = await new_code(app, tree.w1, procedure=tree.procedure)
    await rate(
        app, tree.w1, "c1", 5, elements=[4, 2, 5, None, 3], comment="=1+1 quá tốt", code=code
    )
    clock.advance(minutes=10)
    await rate(app, tree.w1, "c2", 4)
    clock.advance(minutes=10)
    await rate(app, tree.w1, "c3", 1, elements=[5, 5, 1, 4, None], comment="Gọi 0905123456")
    clock.advance(minutes=10)
    await rate(app, tree.w2, "c4", 3, elements=[3, 4, 4, 5, 5])
    return tree


async def workbook(app, unit, privacy: Privacy):
    async with app.db.read() as session:
        data = await export.gather(session, unit, NOVEMBER, app.tz, privacy)
    xlsx = export.build(data, translator("vi"), privacy, app.now(), 48)
    return load_workbook(io.BytesIO(xlsx))


def row(ws, n: int) -> list:
    return [c.value for c in ws[n]]


async def test_workbook_cell_by_cell(app, rated):
    wb = await workbook(app, rated.district, Privacy())
    assert wb.sheetnames == ["Tổng hợp", "Theo yếu tố", "Theo tiêu chí", "Chỉ tiêu",
                             "Phiếu trả lời", "Phản ánh"]  # fmt: skip

    ws = wb["Tổng hợp"]
    assert ws["A1"].value == "Mức độ hài lòng – Huyện Đông" and ws["A1"].font.bold
    assert ws["A2"].value == "Kỳ: tháng 11/2026"
    assert row(ws, 6) == [
        "Mã đơn vị", "Đơn vị", "Người trả lời", "Số câu trả lời", "SIPAS",
        "Câu hỏi tổng quát", "Điểm bình quân", "Tiếp cận dịch vụ", "Thủ tục hành chính",
        "Công chức trực tiếp giải quyết công việc", "Kết quả",
        "Tiếp nhận, xử lý phản ánh, kiến nghị", "Dựa trên", "test",
    ]  # fmt: skip
    assert ws.freeze_panes == "A7" and ws.auto_filter.ref == "A6:N9"
    total, w1, w2 = row(ws, 7), row(ws, 8), row(ws, 9)
    # By hand: E1 4,5,3 → 2/3; E2 2,5,4 → 2/3; E3 5,1,4 → 2/3; E4 4,5 → 1; E5 3,5 → 1/2.
    assert total[:4] == ["P.D", "Huyện Đông", 4, 17]
    assert total[4] == pytest.approx(0.7) and total[5] == pytest.approx(0.5)
    assert total[6] == pytest.approx(round(63 / 17, 3))
    assert total[7:12] == pytest.approx([2 / 3, 2 / 3, 2 / 3, 1.0, 0.5])
    assert total[12] == "dựa trên 5/5 yếu tố" and total[13] == 4  # 4 responses by "test"
    assert ws["E7"].number_format == "0.0%" and ws["A7"].font.bold
    assert w1[:4] == ["P.D.W1", "Phường Một", 3, 11]  # 5 + 1 + 5 answers (two skips)
    assert w1[4:6] == pytest.approx([0.6, 2 / 3])
    assert w1[7:12] == pytest.approx([1.0, 0.5, 0.5, 1.0, 0.0])
    assert w2[:4] == ["P.D.W2", "Phường Hai", 1, 6]
    assert w2[4:6] == pytest.approx([0.8, 0.0])
    assert ws.max_row == 9

    ws = wb["Theo yếu tố"]
    assert row(ws, 1) == ["Mã", "Yếu tố", "Hài lòng", "Số câu hợp lệ", "Số câu mức 4–5"]
    assert row(ws, 2)[:2] == ["E1", "Tiếp cận dịch vụ"]
    assert [row(ws, n)[3:] for n in range(2, 7)] == [[3, 2], [3, 2], [3, 2], [2, 2], [2, 1]]
    assert [row(ws, n)[2] for n in range(2, 7)] == pytest.approx([2 / 3] * 3 + [1.0, 0.5])

    ws = wb["Theo tiêu chí"]
    items = {row(ws, n)[0]: row(ws, n) for n in range(2, ws.max_row + 1)}
    assert list(items) == ["E1", "E2", "E3", "E4", "E5", "overall"]
    # E4: c1 skipped, c3 4, c4 5. Overall: 5, 4, 1, 3.
    assert items["E4"][3:11] == [2, 1, 0, 0, 0, 1, 1, 2]
    assert items["E4"][11:] == pytest.approx([1.0, 4.5])
    assert items["overall"][3:11] == [4, 0, 1, 0, 1, 1, 1, 2]
    assert items["overall"][11:] == pytest.approx([0.5, 3.25])
    assert items["E1"][2].startswith("Ông/Bà đánh giá thế nào về việc tiếp cận dịch vụ")

    ws = wb["Chỉ tiêu"]
    quota = row(ws, 2)
    # 3 of 10; 7 to go over 4 working days (Wed 25/11 … Mon 30/11: Tue 24/11 is Ngày Văn
    # hóa Việt Nam, a day off on the reminders' calendar) → 2 a day.
    assert quota[:4] == ["P.D.W1", "Phường Một", "Tháng 11", None]
    assert quota[4:6] == [datetime(2026, 11, 1), datetime(2026, 11, 30)]
    assert ws["E2"].number_format == "dd/mm/yyyy"
    assert quota[6:12] == [10, 3, pytest.approx(0.3), 7, 4, 2]

    ws = wb["Phiếu trả lời"]
    assert ws["A1"].value.startswith("Câu trả lời đã ẩn danh")
    header = row(ws, 3)
    assert header == ["#", "Mã đơn vị", "Đơn vị", "Thời điểm hoàn thành", "Mẫu phiếu",
                      "overall", "E1", "E2", "E3", "E4", "E5", "Góp ý", "Thủ tục", "Kênh",
                      "Gắn cờ"]  # fmt: skip
    answers = [row(ws, n) for n in range(4, ws.max_row + 1)]
    # 09:00 local on 24/11, then every ten minutes; no seconds, no pseudonym anywhere.
    assert [a[:5] for a in answers] == [
        [1, "P.D.W1", "Phường Một", datetime(2026, 11, 24, 9, 0), "quick"],
        [2, "P.D.W1", "Phường Một", datetime(2026, 11, 24, 9, 10), "quick"],
        [3, "P.D.W1", "Phường Một", datetime(2026, 11, 24, 9, 20), "quick"],
        [4, "P.D.W2", "Phường Hai", datetime(2026, 11, 24, 9, 30), "quick"],
    ]
    assert [a[5:11] for a in answers] == [
        [5, 4, 2, 5, None, 3],
        [4, None, None, None, None, None],
        [1, 5, 5, 1, 4, None],
        [3, 3, 4, 4, 5, 5],
    ]
    assert answers[0][11] == "=1+1 quá tốt" and ws["L4"].data_type == "s"  # text, not formula
    assert answers[2][11] == "Gọi 0905123456"  # an admin's workbook is complete
    assert answers[0][12:] == ["Đăng ký khai sinh", "test", None]

    ws = wb["Phản ánh"]
    feedback = [row(ws, n) for n in range(2, ws.max_row + 1)]
    assert [(f[1], f[3], f[5], f[6]) for f in feedback] == [
        ("Phường Một", "Chờ đợi lâu", "không", "chưa xử lý"),
        ("Phường Một", "Chờ đợi lâu", "không", "chưa xử lý"),
    ]


async def test_a_leaders_workbook_follows_the_small_number_rule(app, rated):
    wb = await workbook(app, rated.district, Privacy(3))
    ws = wb["Tổng hợp"]
    assert ws["A5"].value.startswith("Các tiêu chí có dưới 3 câu trả lời hợp lệ")
    total, w1, w2 = row(ws, 8), row(ws, 9), row(ws, 10)
    # E4 and E5 have two valid answers each in the district: withheld, and the SIPAS
    # figure is the mean of the three elements left (each 2/3), saying so.
    assert total[:4] == ["P.D", "Huyện Đông", 4, 13]  # the answers to the items shown
    assert total[4] == pytest.approx(2 / 3)
    assert total[7:12] == [pytest.approx(2 / 3)] * 3 + ["chưa đủ số phiếu"] * 2
    assert total[12].startswith("dựa trên 3/5 yếu tố; chưa đủ số phiếu: Kết quả, Tiếp nhận")
    # W2 has one response; the district minus W1 would give it, so W1 is withheld too.
    assert w2[2] == 1 and w2[4:12] == ["chưa đủ số phiếu"] * 8
    assert w1[2] == 3 and w1[4] == "chưa đủ số phiếu" and w1[7:12] == ["chưa đủ số phiếu"] * 5
    ws = wb["Theo tiêu chí"]
    items = {row(ws, n)[0]: row(ws, n) for n in range(2, ws.max_row + 1)}
    assert items["E4"][3:11] == [None] * 8 and items["E4"][11] == "chưa đủ số phiếu"
    assert items["E1"][3] == 3  # shown: three valid answers
    ws = wb["Phiếu trả lời"]
    assert row(ws, 3)[:5] == ["#", "Mã đơn vị", "Đơn vị", "Ngày", "Mẫu phiếu"]
    assert row(ws, 3)[-1] == "Góp ý"  # no procedure, channel or flag columns
    assert "E4" not in row(ws, 3) and "E5" not in row(ws, 3)  # withheld in the total
    answers = [row(ws, n) for n in range(4, ws.max_row + 1)]
    assert [a[1] for a in answers] == ["P.D.W1"] * 3  # W2's single response is left out
    assert answers[0][3] == datetime(2026, 11, 24)  # the day only
    assert answers[0][5:9] == [None] * 4  # everything W1 withholds is blank
    assert answers[2][-1] == "Gọi […]"


async def test_export_command_sends_the_same_workbook(app, rated):
    admin = await staff(app, rated.province, "admin", "adm")
    (reply,) = await admin.say("/export Huyện Đông tháng 11/2026")
    attachment = reply["attachment"]
    assert attachment["filename"] == "sipas-P.D-20261101-20261130.xlsx"
    wb = load_workbook(io.BytesIO(base64.b64decode(attachment["data"])))
    assert [c.value for c in wb["Tổng hợp"][7]][:4] == ["P.D", "Huyện Đông", 4, 17]


def colour_count(img: Image.Image, hex_colour: str, tolerance: int = 24) -> int:
    """Pixels close to a colour (lines are anti-aliased)."""
    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(
        n
        for n, rgb in img.getcolors(1 << 20)
        if all(abs(a - b) <= tolerance for a, b in zip(rgb[:3], target, strict=True))
    )


async def test_chart_is_a_real_png_with_bars_and_target(app, rated):
    async with app.db.read() as session:
        report = await reports.satisfaction(
            session, rated.district, NOVEMBER.start, NOVEMBER.end, app.tz
        )
    t = translator("vi")
    png = charts.satisfaction_png(report, t, NOVEMBER, Privacy(), 0.7)
    img = Image.open(io.BytesIO(png))
    img.load()
    assert img.format == "PNG" and img.width >= 600 and img.height >= 250
    rgb = img.convert("RGB")
    assert len(rgb.getcolors(1 << 20)) > 50  # text, bars, axes: not a blank canvas
    # W2 (80 %) is above the 70 % target: green; W1 (60 %) below: orange; the target red.
    assert colour_count(rgb, charts._GOOD) > 2000 and colour_count(rgb, charts._SHORT) > 2000
    assert colour_count(rgb, charts._TARGET) > 50

    kind, rows = charts.bars(report, t, Privacy())
    assert kind == "units" and rows == [("Phường Hai", pytest.approx(0.8)),
                                        ("Phường Một", pytest.approx(0.6))]  # fmt: skip
    kind, rows = charts.bars(report, t, Privacy(3))  # a leader: W2 has one response
    # With two parts, the district's figure minus W1's would be W2's: both are withheld.
    assert rows == [("Phường Một", None), ("Phường Hai", None)]
    async with app.db.read() as session:
        leaf = await reports.satisfaction(session, rated.w1, NOVEMBER.start, NOVEMBER.end, app.tz)
    kind, rows = charts.bars(leaf, t, Privacy())
    assert kind == "elements" and [v for _n, v in rows] == pytest.approx([1, 1, 0.5, 0.5, 0])
    leaf_png = Image.open(io.BytesIO(charts.satisfaction_png(leaf, t, NOVEMBER, Privacy(), 0.9)))
    assert leaf_png.size[1] >= 250


# Comma, double quote, UTF-8, from row 1; "-1": every sheet to its own file.
CSV_OPTIONS = "44,34,76,1,,0,false,true,false,false,false,-1"


# CI (.ci/run) installs LibreOffice Calc and sets this, so there a missing soffice fails.
LIBREOFFICE_REQUIRED = os.environ.get("SIPAS_TEST_REQUIRE_LIBREOFFICE") == "1"


@pytest.mark.skipif(
    not LIBREOFFICE_REQUIRED and shutil.which("soffice") is None,
    reason="LibreOffice (soffice) is not installed (apt-get install libreoffice-calc-nogui)",
)
async def test_libreoffice_opens_the_workbook(app, rated, tmp_path):
    async with app.db.read() as session:
        data = await export.gather(session, rated.district, NOVEMBER, app.tz, Privacy())
    (tmp_path / "w.xlsx").write_bytes(
        export.build(data, translator("vi"), Privacy(), app.now(), 48)
    )
    # Every sheet to CSV (UTF-8, comma), with a private profile so parallel runs do not clash.
    command = [
        "soffice", "--headless", "--norestore",
        f"-env:UserInstallation=file://{tmp_path / 'profile'}",
        "--convert-to", "csv:Text - txt - csv (StarCalc):" + CSV_OPTIONS,
        "--outdir", str(tmp_path), str(tmp_path / "w.xlsx"),
    ]  # fmt: skip
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    sheets = sorted(p.name for p in tmp_path.glob("w-*.csv"))
    assert len(sheets) == 6
    summary = list(csv.reader((tmp_path / "w-Tổng hợp.csv").open(encoding="utf-8")))
    assert summary[0][0] == "Mức độ hài lòng – Huyện Đông"
    assert summary[6][:4] == ["P.D", "Huyện Đông", "4", "17"]
    assert float(summary[6][4].rstrip("%")) == pytest.approx(70.0)
    answers = list(csv.reader((tmp_path / "w-Phiếu trả lời.csv").open(encoding="utf-8")))
    assert answers[3][11] == "=1+1 quá tốt"  # still text in LibreOffice, not evaluated to 2
