"""The XLSX workbook of ``/export`` and ``report … --format xlsx`` (openpyxl).

Sheets: summary per unit (with responses per channel), per element, per item, quotas
(with questionnaires per channel), anonymised answers (one row per response, no
pseudonym), feedback. Percentages are numbers formatted as % (the cell holds 0.8394,
Excel and LibreOffice show 83,9 %), times are local, text that looks like a formula is
stored as text. A leader's workbook shows the figures of ``flows.privacy.restrict``
(withheld items left out of every figure, so none can be worked out), and its answers
carry neither time, channel nor procedure, by listed unit, without withheld items.
Working days and hours follow the reminders' calendar.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.render.charts import filename
from bot.render.sheets import PERCENT, Sheet, answers_sheet, feedback_sheet
from flows.contract import Attachment
from flows.i18n import Translator, translator
from flows.office_hours import Calendar, working_days_left
from flows.periods import Period, describe
from flows.privacy import Privacy, restrict
from flows.report_text import (
    basis,
    channel_label,
    channel_order,
    element_names,
    element_rows,
    headline,
    item_texts,
)
from scheduler.calendar import load_calendar
from storage import admin, reports
from storage import feedback as feedback_store
from storage import quotas as quota_store
from storage.models import Unit

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHAT_ROWS_LIMIT = 3000  # answers in a workbook sent by chat (the command line has no limit)


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
    calendar: Calendar | None = None  # working days (public holidays, swaps, overrides)


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
    quotas = await quota_store.quota_progress(session, unit, period.start, period.end, tz)
    lo, hi = reports.utc_bounds(period.start, period.end, tz)
    responses = await admin.raw_responses(session, unit.path, lo, hi, include_flagged=privacy.full)
    feedback = await feedback_store.feedback_created_between(session, unit.path, lo, hi)
    truncated = 0
    if row_limit is not None and len(responses) > row_limit:
        truncated = len(responses) - row_limit
        responses = responses[-row_limit:]
    calendar = await load_calendar(session)
    return ExportData(
        unit.code, unit.name, period, report, quotas, responses, feedback, truncated, calendar
    )


def build(
    data: ExportData,
    t: Translator,
    privacy: Privacy,
    generated_at,
    target_hours: int,
) -> bytes:
    """The workbook as XLSX bytes."""
    wb = Workbook(write_only=True)
    report = restrict(data.report, privacy)
    _summary_sheet(wb, data, report, t, privacy, generated_at)
    _element_sheet(wb, report.total, t)
    _item_sheet(wb, report.total, t)
    _quota_sheet(wb, data, t, generated_at.astimezone(t.tz).date())
    answers_sheet(wb, data, report, t, privacy)
    feedback_sheet(wb, data, t, privacy, generated_at, target_hours)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _summary_sheet(wb, data: ExportData, report, t: Translator, privacy, generated_at) -> None:
    _ = t.gettext
    names = element_names(t.locale)
    entities = [report.total, *report.units]
    elements = sorted({c for s in entities for c, _v in element_rows(s)})
    channels = [c for c, _n in channel_order(report.total.channels)]
    summary = Sheet(
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
        + [names.get(c, c) for c in elements]
        + [_("Based on"), *(channel_label(c, t) for c in channels)],
        [18, 40, 12, 10, 10, 12, 10] + [14] * len(elements) + [40] + [10] * len(channels),
        [
            _("Satisfaction – {unit}").format(unit=data.unit_name),
            _("Period: {period}").format(period=describe(data.period, t)),
            _("Made on {date}").format(date=t.datetime(generated_at)),
            _(
                "Item % = answers at 4–5 ÷ valid answers; element % = mean of its items; "
                "SIPAS % = mean of the elements with answers. Flagged responses are not "
                "counted."
            ),
            *(
                []
                if privacy.full
                else [
                    _(
                        "Items with fewer than {n} valid answers, and any that would let one "
                        "be worked out, are left out of every figure."
                    ).format(n=privacy.min_responses)
                ]
            ),
        ],
    )
    for s, bold in [(report.total, True), *((u, False) for u in report.units)]:
        shown = privacy.shows(s.respondents)
        values = dict(element_rows(s))
        asked = s.overall_question is not None or "overall" in s.withheld.values()

        def figure(value, asked: bool = bool(s.respondents), bold=bold, shown=shown):
            # A figure, "chưa đủ số phiếu" where one exists but is withheld, or empty.
            if not asked:
                return summary.cell(None)
            return summary.pct(value or 0.0, shown and value is not None, t=t, bold=bold)

        summary.row(
            [
                summary.cell(s.unit_code, bold),
                summary.cell(s.unit_name, bold),
                summary.cell(s.respondents, bold),
                summary.cell(s.answers, bold),
                figure(headline(s)),
                figure(s.overall_question, asked),
                summary.cell(round(s.mean, 3), bold)
                if s.mean is not None and shown
                else figure(None),
            ]
            + [
                summary.pct(values[c] or 0.0, shown and values[c] is not None, t=t)
                if c in values
                else summary.cell(None)
                for c in elements
            ]
            + [summary.cell(basis(s, t) if shown else None, wrap=True)]
            + [summary.cell(s.channels.get(c, 0), bold) for c in channels]
        )
    summary.finish()


def _element_sheet(wb, total, t: Translator) -> None:
    _ = t.gettext
    names = element_names(t.locale)
    sheet = Sheet(
        wb,
        _("Elements"),
        [_("Code"), _("Element"), _("Satisfied"), _("Valid answers"), _("Answers at 4–5")],
        [8, 45, 12, 14, 14],
    )
    for code, value in element_rows(total):
        items = [i for i in total.items.values() if i.element_code == code]
        sheet.row(
            [
                code,
                names.get(code, code),
                sheet.pct(value if value is not None else 0.0, value is not None, t=t),
                sum(i.valid for i in items) if value is not None else None,
                sum(i.satisfied for i in items) if value is not None else None,
            ]
        )
    sheet.finish()


def _item_sheet(wb, total, t: Translator) -> None:
    _ = t.gettext
    texts = item_texts(t.locale)
    levels = [str(v) for v in reports.LEVELS]
    sheet = Sheet(
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
    codes = sorted({*total.items, *total.withheld})
    for code in codes:
        item = total.items.get(code)
        if item is None:  # withheld: nothing of its answers is shown
            blank = [None] * (len(levels) + 3)
            note = sheet.pct(0.0, False, t=t)
            row = [code, total.withheld[code], sheet.cell(texts.get(code, ""), wrap=True)]
            sheet.row([*row, *blank, note, None])
            continue
        sheet.row(
            [
                code,
                item.element_code,
                sheet.cell(texts.get(code, ""), wrap=True),
                item.valid,
                item.skipped,
                *(item.counts[v] for v in reports.LEVELS),
                item.satisfied,
                sheet.pct(item.percent, t=t),
                round(item.mean, 3) if item.mean is not None else None,
            ]
        )
    sheet.finish()


def _quota_sheet(wb, data: ExportData, t: Translator, today) -> None:
    _ = t.gettext
    channels = [c for c, _n in channel_order({c: 1 for q in data.quotas for c in q.channels})]
    quotas = Sheet(
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
            *(channel_label(c, t) for c in channels),
        ],
        [16, 36, 30, 30, 12, 12, 9, 10, 10, 10, 12, 12, 12, 12, 12] + [10] * len(channels),
    )
    for q in data.quotas:
        days = working_days_left(max(today, q.period_start), q.period_end, data.calendar)
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
                *(q.channels.get(c, 0) for c in channels),
            ]
        )
    quotas.finish()


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
