"""The row sheets of the workbook (answers, feedback) and the streamed sheet they and
the figure sheets (bot/render/workbook.py) are written with."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from flows import questionnaire as qn
from flows.i18n import Translator
from flows.office_hours import working_hours_between
from flows.privacy import Privacy
from flows.report_text import not_enough_short, reason_labels

PERCENT = "0.0%"
_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


class Sheet:
    """A write-only sheet: optional lines above, a bold header row (frozen, filtered),
    column widths. Write-only sheets are streamed, so all of this is set up first."""

    def __init__(
        self,
        wb: Workbook,
        title: str,
        headers: list[str],
        widths: list[int],
        preamble: list[str] = (),  # type: ignore[assignment]
    ) -> None:
        self.ws = wb.create_sheet(title[:31])
        for i, width in enumerate(widths, 1):
            self.ws.column_dimensions[get_column_letter(i)].width = width
        self.headers = headers
        self.first = len(preamble) + (2 if preamble else 1)  # the header's row number
        self.ws.freeze_panes = f"A{self.first + 1}"
        for n, line in enumerate(preamble):
            self.ws.append([self.cell(line, bold=n == 0)])
        if preamble:
            self.ws.append([])
        self.ws.append([self.cell(h, bold=True, wrap=True) for h in headers])
        self.rows = self.first

    def row(self, values: list[Any], *, bold: bool = False) -> None:
        self.ws.append([v if isinstance(v, Cell) else self.cell(v, bold) for v in values])
        self.rows += 1

    def finish(self) -> None:
        last = get_column_letter(len(self.headers))
        self.ws.auto_filter.ref = f"A{self.first}:{last}{self.rows}"

    def cell(self, value: Any, bold: bool = False, *, wrap: bool = False, fmt: str | None = None):
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        c = WriteOnlyCell(self.ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"  # "=…" from a citizen stays text, never a formula
        if bold:
            c.font = _BOLD
        if wrap:
            c.alignment = _WRAP
        if fmt:
            c.number_format = fmt
        elif isinstance(value, datetime):
            c.number_format = "dd/mm/yyyy hh:mm"
        elif isinstance(value, date):
            c.number_format = "dd/mm/yyyy"
        return c

    def pct(self, value: float | None, shown: bool = True, *, t: Translator, bold: bool = False):
        """A percentage cell, or the small-number note, or empty for no data."""
        if value is None:
            return self.cell(None)
        if not shown:
            return self.cell(not_enough_short(t), bold)
        return self.cell(value, bold, fmt=PERCENT)


def answers_sheet(wb: Workbook, data: Any, report: Any, t: Translator, privacy: Privacy) -> None:
    """One row per response. A leader's rows are by listed unit (the part of the report
    the response lies in), without the items withheld there or in the total, and none
    for a part with too few responses: the rows then add up to the shown figures only."""
    _ = t.gettext
    order = [item.code for q in qn.catalogue().values() for item in (*q.items, *q.retired)]
    seen = {code for r in data.responses for code in r.answers}
    items = [c for c in dict.fromkeys(order) if c in seen] + sorted(seen - set(order))
    rows = data.responses
    where: dict[int, Any] = {}  # response id → the listed unit it is shown under
    if not privacy.full:
        parts = {u.unit_id: u for u in report.units}
        for r in rows:
            part = parts.get(report.members.get(r.unit_code, -1))
            if part is not None and privacy.shows(part.respondents):
                where[r.response_id] = part
        rows = [r for r in rows if r.response_id in where]
        items = [c for c in items if c not in report.total.withheld]
    extra = [_("Procedure"), _("Channel"), _("Flagged")] if privacy.full else []
    notes = [_("Anonymised answers: 1 = very dissatisfied … 5 = very satisfied; empty = skipped.")]
    if data.truncated:
        notes.append(
            _("Only the latest {n} responses; the command line exports all of them.").format(
                n=t.number(len(data.responses))
            )
        )
    sheet = Sheet(
        wb,
        _("Answers"),
        [
            "#",
            _("Unit code"),
            _("Unit"),
            _("Completed") if privacy.full else _("Date"),
            _("Questionnaire"),
            *items,
            _("Comment"),
            *extra,
        ],
        [7, 16, 32, 16, 12] + [7] * len(items) + [50] + ([30, 10, 30] if extra else []),
        notes,
    )
    for n, r in enumerate(rows, 1):
        local = r.completed_at.astimezone(t.tz).replace(tzinfo=None)
        when = local if privacy.full else local.date()
        comment = privacy.comment(r.comment) if r.comment else None
        part = where.get(r.response_id)
        code, name = (part.unit_code, part.unit_name) if part else (r.unit_code, r.unit_name)
        values = [n, code, name, when, r.questionnaire]
        values += [None if part and c in part.withheld else r.answers.get(c) for c in items]
        values.append(sheet.cell(comment, wrap=True) if comment else None)
        if privacy.full:
            values += [r.procedure_name or "", r.channel, r.flag_reason or ""]
        sheet.row(values)
    sheet.finish()


def feedback_sheet(
    wb: Workbook,
    data: Any,
    t: Translator,
    privacy: Privacy,
    generated_at: datetime,
    target_hours: int,
) -> None:
    _ = t.gettext
    reasons = reason_labels(t.locale)
    sheet = Sheet(
        wb,
        _("Feedback"),
        [
            "#",
            _("Unit"),
            _("Opened"),
            _("Reason"),
            _("Text"),
            _("Asks to be contacted"),
            _("Status"),
            _("Handled"),
            _("Handled by"),
            _("Note"),
            _("Working hours"),
            _("Within target"),
        ],
        [7, 32, 16, 24, 50, 10, 10, 16, 20, 40, 10, 10],
    )
    yes, no = _("yes"), _("no")
    for f in data.feedback:
        end = f.handled_at or generated_at
        hours = working_hours_between(f.created_at, end, t.tz, data.calendar)
        sheet.row(
            [
                f.id,
                f.unit_name,
                f.created_at.astimezone(t.tz).replace(tzinfo=None),
                reasons.get(f.reason or "", f.reason or ""),
                sheet.cell(privacy.comment(f.text) if f.text else None, wrap=True),
                yes if f.wants_contact else no,
                _("open") if f.status == "open" else _("handled"),
                f.handled_at.astimezone(t.tz).replace(tzinfo=None) if f.handled_at else None,
                f.handled_by_name or "",
                sheet.cell(f.handled_note, wrap=True) if f.handled_note else None,
                round(hours, 1),
                yes if hours <= target_hours else no,
            ]
        )
    sheet.finish()
