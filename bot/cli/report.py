"""``report satisfaction`` and ``report quota``: tables, CSV, JSON, XLSX and charts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import (
    UsageError,
    _,
    date_arg,
    emit,
    format_args,
    need_out,
    resolve_period,
    resolve_unit,
    run_async,
    write_workbook,
)

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help=_("satisfaction and quota reports"))
    rsub = p.add_subparsers(dest="report_command", required=True, metavar=_("REPORT"))
    c = rsub.add_parser("satisfaction", help=_("percentages per unit and element"))
    c.add_argument("--unit", help=_("unit code or name (default: the top unit)"))
    c.add_argument(
        "--from",
        dest="date_from",
        type=date_arg,
        help=_("first day (dd/mm/yyyy or yyyy-mm-dd)"),
    )
    c.add_argument("--to", dest="date_to", type=date_arg, help=_("last day"))
    c.add_argument(
        "--period", help=_("10/2023, Q4/2023, 2023, 'tháng này'… (instead of --from/--to)")
    )
    format_args(c)
    c.add_argument("--chart", type=Path, help=_("also draw the chart as a PNG to this file"))
    c.add_argument(
        "--as-leader",
        action="store_true",
        help=_("figures as a leader sees them (small-number rule; what the API returns)"),
    )
    c.set_defaults(func=_report_satisfaction)
    c = rsub.add_parser("quota", help=_("questionnaires collected against targets"))
    c.add_argument("--unit", help=_("unit code or name (default: the top unit)"))
    c.add_argument("--period", help=_("10/2023, Q4/2023, 2023… (default: this quarter)"))
    format_args(c)
    c.set_defaults(func=_report_quota)


def _report_satisfaction(settings: Settings, args) -> int:
    import asyncio

    from bot.render import report_text as reporting
    from flows.i18n import Problem, translator
    from flows.privacy import Privacy
    from storage import reports

    need_out(args)

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        today = app.now().astimezone(app.tz).date()
        try:
            period = reporting.choose_period(args.period, args.date_from, args.date_to, today)
        except Problem as exc:
            raise UsageError(exc.text(t)) from None
        async with app.db.read() as session:
            unit = await resolve_unit(app, session, args.unit)
            report = await reports.satisfaction(session, unit, period.start, period.end, app.tz)
            if args.format == "xlsx":
                await write_workbook(app, session, unit, period, args.out)
        privacy = Privacy(settings.privacy_min_responses if args.as_leader else 0)
        if args.chart:
            from bot.render.charts import satisfaction_png

            target = settings.satisfaction_target
            png = await asyncio.to_thread(satisfaction_png, report, t, period, privacy, target)
            await asyncio.to_thread(args.chart.write_bytes, png)
        render = {
            "json": lambda: reporting.satisfaction_json(report, privacy),
            "csv": lambda: reporting.satisfaction_csv(report, privacy),
            "table": lambda: reporting.satisfaction_table(report, t, period, privacy),
        }.get(args.format)
        if render:
            emit(render(), args.out)
        return 0

    return run_async(settings, body)


def _report_quota(settings: Settings, args) -> int:
    from bot.render import report_text as reporting
    from flows.i18n import translator
    from storage import quotas as quota_store

    need_out(args)

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        today = app.now().astimezone(app.tz).date()
        period = resolve_period(app, args.period)
        async with app.db.read() as session:
            unit = await resolve_unit(app, session, args.unit)
            rows = await quota_store.quota_progress(session, unit, period.start, period.end, app.tz)
            if args.format == "xlsx":
                await write_workbook(app, session, unit, period, args.out)
        render = {
            "json": lambda: reporting.quota_json(rows),
            "csv": lambda: reporting.quota_csv(rows),
            "table": lambda: reporting.quota_table(rows, t, unit.name, period, today),
        }.get(args.format)
        if render:
            emit(render(), args.out)
        return 0

    return run_async(settings, body)
