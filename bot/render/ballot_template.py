"""The data-entry workbook for paper ballots (``sipas-bot ballots template``), openpyxl.

One row per ballot. Row 1 holds the column keys the importer reads (``ballot_id``,
``date``, ``unit``, ``procedure``, one per item code, ``comment``); row 2 is a note for
the clerk (its first cell starts with ``#``, so the importer skips it). Excel's data
validation keeps each item cell to a whole number from 1 to 5 or empty (skipped), the
date to a date, unit and procedure to the lists on the second sheet.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from flows import questionnaire as qn
from flows.i18n import Translator
from flows.survey.base import SATISFACTION_LABELS

FIXED = ("ballot_id", "date", "unit", "procedure")
COMMENT = "comment"
ROWS = 1000  # rows with validation (Excel extends nothing by itself)
FIRST_DATA_ROW = 3


def columns(q: qn.Questionnaire) -> list[str]:
    """The column keys of a ballot workbook for ``q``, in order."""
    return [*FIXED, *(item.code for item in q.items), COMMENT]


def build(
    t: Translator,
    q: qn.Questionnaire,
    units: list[tuple[str, str]],
    procedures: list[tuple[str, str]],
    prefill_unit: str | None = None,
) -> bytes:
    """The workbook as XLSX bytes; ``units``/``procedures`` are (code, name) pairs."""
    _ = t.gettext
    wb = Workbook()
    ws = wb.active
    ws.title = _("Ballots")[:31]
    keys = columns(q)
    labels = {
        "ballot_id": _("# Ballot number (optional)"),
        "date": _("Date (dd/mm/yyyy)"),
        "unit": _("Unit code"),
        "procedure": _("Procedure code (optional)"),
        COMMENT: _("Comment (optional)"),
    }
    for item in q.items:
        labels[item.code] = f"{item.code}. {item.text.get(t.locale)}"
    grey = PatternFill("solid", fgColor="DDE3EA")
    for col, key in enumerate(keys, 1):
        ws.cell(1, col, key).font = Font(bold=True, color="4A5A6A")
        note = ws.cell(2, col, labels[key])
        note.alignment = Alignment(wrap_text=True, vertical="top")
        note.fill = grey
        ws.column_dimensions[get_column_letter(col)].width = 14 if key in keys[4:-1] else 20
    ws.column_dimensions[get_column_letter(len(keys))].width = 40
    ws.row_dimensions[2].height = 120
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 1)
    last = FIRST_DATA_ROW + ROWS - 1

    def span(key: str) -> str:
        letter = get_column_letter(keys.index(key) + 1)
        return f"{letter}{FIRST_DATA_ROW}:{letter}{last}"

    levels = DataValidation(
        type="whole", operator="between", formula1="1", formula2="5", allow_blank=True
    )
    levels.error = _("Type a level from 1 to 5, or leave the cell empty if it was not answered.")
    levels.errorTitle = _("Not a level")
    levels.showErrorMessage = True
    first_item = get_column_letter(len(FIXED) + 1)
    last_item = get_column_letter(len(keys) - 1)
    levels.add(f"{first_item}{FIRST_DATA_ROW}:{last_item}{last}")
    dates = DataValidation(type="date", operator="greaterThan", formula1="36526", allow_blank=True)
    dates.error = _("Type the date of the ballot, e.g. 20/11/2026.")
    dates.showErrorMessage = True
    dates.add(span("date"))
    for row in range(FIRST_DATA_ROW, last + 1):
        ws.cell(row, keys.index("date") + 1).number_format = "DD/MM/YYYY"

    lists = wb.create_sheet(_("Lists")[:31])
    lists.append([_("Unit code"), _("Unit"), _("Procedure code"), _("Procedure")])
    for n in range(max(len(units), len(procedures))):
        unit = units[n] if n < len(units) else ("", "")
        proc = procedures[n] if n < len(procedures) else ("", "")
        lists.append([*unit, *proc])
    title = lists.title.replace("'", "''")
    for key, col, count in (("unit", "A", len(units)), ("procedure", "C", len(procedures))):
        if count:
            choice = DataValidation(
                type="list", formula1=f"='{title}'!${col}$2:${col}${count + 1}", allow_blank=True
            )
            choice.error = _("Choose a code from the list.")
            choice.showErrorMessage = True
            choice.add(span(key))
            ws.add_data_validation(choice)
    ws.add_data_validation(levels)
    ws.add_data_validation(dates)
    if prefill_unit:
        for row in range(FIRST_DATA_ROW, FIRST_DATA_ROW + ROWS):
            ws.cell(row, keys.index("unit") + 1, prefill_unit)

    guide = wb.create_sheet(_("Questions")[:31])
    guide.append([_("Column"), _("Question")])
    for item in q.items:
        guide.append([item.code, item.text.get(t.locale)])
    guide.append([])
    scale = " · ".join(f"{v} {_(label)}" for v, label in SATISFACTION_LABELS.items())
    guide.append([_("Levels"), scale])
    guide.column_dimensions["B"].width = 100
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
