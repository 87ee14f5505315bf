"""The XLSX workbook of ``/export`` and ``report … --format xlsx`` (openpyxl).

Sheets: summary per unit, per element, per item, quotas, anonymised answers (one row
per response, no pseudonym), feedback. Percentages are numbers formatted as % (the
cell holds 0.8394, Excel and LibreOffice show 83,9 %), times are local, text that looks
like a formula is stored as text. A leader's workbook follows the small-number rule
and its answers carry neither time, channel nor procedure.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.render.charts import filename
from flows import questionnaire as qn
from flows.contract import Attachment
from flows.i18n import Translator, translator
from flows.office_hours import working_days_left, working_hours_between
from flows.periods import Period, describe
from flows.privacy import Privacy
from flows.report_text import element_basis, element_names, headline, item_texts, reason_labels
from storage import admin, reports
from storage import feedback as feedback_store
from storage.models import Unit

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERCENT = "0.0%"
CHAT_ROWS_LIMIT = 3000  # answers in a workbook sent by chat (the command line has no limit)
_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


@dataclass
class ExportData:
    """Everything a workbook shows, fetched in one go."""

    unit_code: str
    unit_name: str
    period: Period
    report: Any  # SatisfactionReport
    quotas: list[Any]  # QuotaProgress
    responses: list[Any]  # RawResponse, oldest first
    feedback: list[Any]  # FeedbackRow
    truncated: int = 0  # answers left out by a row limit


async def gather(
    session: AsyncSession,
    unit: Unit,
    period: Period,
    tz,
    privacy: Privacy,
    row_limit: int | None = None,
) -> ExportData:
    """Fetch the figures (storage.reports) and the rows of a workbook."""
    report = await reports.satisfaction(session, unit, period.start, period.end, tz)
    quotas = await reports.quota_progress(session, unit, period.start, period.end, tz)
    lo, hi = reports.utc_bounds(period.start, period.end, tz)
    responses = await admin.raw_responses(session, unit.path, lo, hi, include_flagged=privacy.full)
    feedback = await feedback_store.feedback_created_between(session, unit.path, lo, hi)
    truncated = 0
    if row_limit is not None and len(responses) > row_limit:
        truncated = len(responses) - row_limit
        responses = responses[-row_limit:]
    return ExportData(unit.code, unit.name, period, report, quotas, responses, feedback, truncated)


class _Sheet:
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
            return self.cell(t.gettext("not enough responses"), bold)
        return self.cell(value, bold, fmt=PERCENT)


def build(
    data: ExportData,
    t: Translator,
    privacy: Privacy,
    generated_at: datetime,
    target_hours: int,
) -> bytes:
    """The workbook as XLSX bytes."""
    _ = t.gettext
    wb = Workbook(write_only=True)
    names = element_names(t.locale)
    report = data.report
    elements = sorted({c for s in [report.total, *report.units] for c in s.elements})
    local = generated_at.astimezone(t.tz)

    summary = _Sheet(
        wb,
        _("Summary"),
        [
            _("Unit code"),
            _("Unit"),
            _("Respondents"),
            _("Answers given"),
            _("SIPAS"),
            _("Overall question"),
            _("Mean score"),
        ]
        + [names.get(c, c) for c in elements],
        [18, 40, 12, 10, 10, 12, 10] + [14] * len(elements),
        [
            _("Satisfaction – {unit}").format(unit=data.unit_name),
            _("Period: {period}").format(period=describe(data.period, t)),
            _("Made on {date}").format(date=t.datetime(generated_at)),
            _(
                "Item % = answers at 4–5 ÷ valid answers; element % = mean of its items; "
                "SIPAS % = mean of the elements. Flagged responses are not counted."
            ),
        ],
    )
    for s, bold in [(report.total, True), *((u, False) for u in report.units)]:
        shown = privacy.shows(s.respondents)
        summary.row(
            [
                summary.cell(s.unit_code, bold),
                summary.cell(s.unit_name, bold),
                summary.cell(s.respondents, bold),
                summary.cell(s.answers, bold),
                summary.pct(headline(s), shown, t=t, bold=bold),
                summary.pct(s.overall_question, shown, t=t, bold=bold),
                summary.cell(round(s.mean, 3), bold)
                if s.mean is not None and shown
                else summary.pct(s.mean, shown, t=t, bold=bold),
            ]
            + [
                summary.pct(s.elements.get(c), shown and privacy.shows(element_basis(s, c)), t=t)
                for c in elements
            ]
        )
    summary.finish()

    total = report.total
    by_element = _Sheet(
        wb,
        _("Elements"),
        [_("Code"), _("Element"), _("Satisfied"), _("Valid answers"), _("Answers at 4–5")],
        [8, 45, 12, 14, 14],
    )
    for code, value in total.elements.items():
        items = [i for i in total.items.values() if i.element_code == code]
        by_element.row(
            [
                code,
                names.get(code, code),
                by_element.pct(value, privacy.shows(element_basis(total, code)), t=t),
                sum(i.valid for i in items),
                sum(i.satisfied for i in items),
            ]
        )
    by_element.finish()

    texts = item_texts(t.locale)
    levels = [str(v) for v in reports.LEVELS]
    by_item = _Sheet(
        wb,
        _("Items"),
        [
            _("Code"),
            _("Element"),
            _("Question"),
            _("Valid answers"),
            _("Skipped"),
            *levels,
            _("Answers at 4–5"),
            _("Satisfied"),
            _("Mean score"),
        ],
        [9, 8, 60, 10, 10, 6, 6, 6, 6, 6, 12, 10, 10],
    )
    for code, item in sorted(total.items.items()):
        shown = privacy.shows(item.valid)
        by_item.row(
            [
                code,
                item.element_code,
                by_item.cell(texts.get(code, ""), wrap=True),
                item.valid,
                item.skipped,
                *(item.counts[v] for v in reports.LEVELS),
                item.satisfied,
                by_item.pct(item.percent, shown, t=t),
                round(item.mean, 3) if item.mean is not None and shown else None,
            ]
        )
    by_item.finish()

    today = local.date()
    quotas = _Sheet(
        wb,
        _("Quotas"),
        [
            _("Unit code"),
            _("Unit"),
            _("Label"),
            _("Fields"),
            _("From"),
            _("To"),
            _("Target"),
            _("Collected"),
            _("Reached"),
            _("Still needed"),
            _("Working days left"),
            _("Needed per working day"),
            _("Completed dossiers"),
            _("Dossiers surveyed"),
            _("Target share of dossiers"),
        ],
        [16, 36, 30, 30, 12, 12, 9, 10, 10, 10, 12, 12, 12, 12, 12],
    )
    for q in data.quotas:
        days = working_days_left(max(today, q.period_start), q.period_end)
        quotas.row(
            [
                q.unit_code,
                q.unit_name,
                q.label or "",
                ", ".join(q.fields),
                q.period_start,
                q.period_end,
                q.target_count,
                q.collected,
                quotas.cell(q.percent, fmt=PERCENT),
                q.remaining,
                days,
                -(-q.remaining // days) if days and q.remaining else None,
                q.dossiers,
                quotas.pct(q.surveyed_share, t=t),
                quotas.pct(q.target_ratio, t=t),
            ]
        )
    quotas.finish()

    _answers_sheet(wb, data, t, privacy)
    _feedback_sheet(wb, data, t, privacy, generated_at, target_hours)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _answers_sheet(wb: Workbook, data: ExportData, t: Translator, privacy: Privacy) -> None:
    _ = t.gettext
    order = [item.code for q in qn.catalogue().values() for item in q.items]
    seen = {code for r in data.responses for code in r.answers}
    items = [c for c in dict.fromkeys(order) if c in seen] + sorted(seen - set(order))
    rows = data.responses
    if not privacy.full:
        per_unit: dict[str, int] = {}
        for r in rows:
            per_unit[r.unit_code] = per_unit.get(r.unit_code, 0) + 1
        rows = [r for r in rows if privacy.shows(per_unit[r.unit_code])]
    extra = [_("Procedure"), _("Channel"), _("Flagged")] if privacy.full else []
    notes = [_("Anonymised answers: 1 = very dissatisfied … 5 = very satisfied; empty = skipped.")]
    if data.truncated:
        notes.append(
            _("Only the latest {n} responses; the command line exports all of them.").format(
                n=t.number(len(data.responses))
            )
        )
    sheet = _Sheet(
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
        values = [n, r.unit_code, r.unit_name, when, r.questionnaire]
        values += [r.answers.get(code) for code in items]
        values.append(sheet.cell(comment, wrap=True) if comment else None)
        if privacy.full:
            values += [r.procedure_name or "", r.channel, r.flag_reason or ""]
        sheet.row(values)
    sheet.finish()


def _feedback_sheet(
    wb: Workbook,
    data: ExportData,
    t: Translator,
    privacy: Privacy,
    generated_at: datetime,
    target_hours: int,
) -> None:
    _ = t.gettext
    reasons = reason_labels(t.locale)
    sheet = _Sheet(
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
        hours = working_hours_between(f.created_at, f.handled_at or generated_at, t.tz)
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


async def workbook_attachment(
    app: App, session: AsyncSession, unit: Unit, period: Period, locale: str, min_responses: int
) -> Attachment:
    """The workbook as a reply attachment (answers capped for chat), built off the loop."""
    privacy = Privacy(min_responses)
    data = await gather(session, unit, period, app.tz, privacy, row_limit=CHAT_ROWS_LIMIT)
    t = translator(locale, app.settings.timezone)
    xlsx = await asyncio.to_thread(
        build, data, t, privacy, app.now(), app.settings.feedback_target_hours
    )
    return Attachment(filename(unit.code, period, "xlsx"), XLSX_MIME, xlsx)
