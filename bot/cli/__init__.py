"""``sipas-bot`` (same as ``python -m bot``): the command line of CONTRACT.md.

Exit codes: 0 success, 1 runtime error, 2 bad usage or bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from bot.core.app import App
from bot.core.settings import Settings
from flows.i18n import LOCALES, translator
from flows.periods import Period, PeriodError, quarter_of
from flows.periods import parse as parse_period

log = logging.getLogger("sipas")


class UsageError(Exception):
    """Bad usage or bad input: reported on one line, exit code 2."""


# Other modules add their subcommands here: fn(subparsers) -> None.
EXTENSIONS: list[Callable[[argparse._SubParsersAction], None]] = []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sipas-bot",
        description="SIPAS survey and reminder bot for Zalo OA, Telegram and the web.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="HTTP server, scheduler, outbox senders, Telegram polling")
    p.set_defaults(func=_serve)

    p = sub.add_parser("chat", help="talk to the bot on the console (stdin/stdout)")
    p.add_argument(
        "--user", default="console-user", help="the chat user id (default: console-user)"
    )
    p.add_argument("--locale", choices=LOCALES, help="language of a new conversation")
    p.set_defaults(func=_chat)

    p = sub.add_parser("db", help="database")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbsub.add_parser("upgrade", help="apply migrations").set_defaults(func=_db_upgrade)
    dbsub.add_parser(
        "rebuild-rollups", help="recompute the report rollups from the raw answers"
    ).set_defaults(func=_db_rebuild_rollups)

    p = sub.add_parser("demo", help="load demo units, procedures, quotas, officials and responses")
    p.add_argument(
        "--responses",
        type=_non_negative,
        default=200,
        help="recent synthetic responses (default 200)",
    )
    p.add_argument("--if-empty", action="store_true", help="do nothing when the database has data")
    p.set_defaults(func=_demo)

    p = sub.add_parser("invite", help="survey codes")
    isub = p.add_subparsers(dest="invite_command", required=True, metavar="ACTION")
    c = isub.add_parser("create", help="create a one-time survey code")
    c.add_argument("--unit", required=True, help="unit code")
    c.add_argument("--dossier", help="receipt code of a completed dossier")
    c.add_argument("--procedure", help="procedure code")
    c.add_argument("--counter", action="store_true", help="a reusable counter code instead")
    c.add_argument("--qr", type=Path, help="write a QR code PNG of the survey link here")
    c.add_argument(
        "--poster", type=Path, help="with --counter: write an A4 counter poster (.png or .pdf)"
    )
    c.set_defaults(func=_invite_create)

    p = sub.add_parser("person", help="officials, leaders and admins")
    psub = p.add_subparsers(dest="person_command", required=True, metavar="ACTION")
    c = psub.add_parser("add", help="add a person; prints their registration code")
    c.add_argument("--name", required=True)
    c.add_argument("--unit", required=True, help="unit code")
    c.add_argument("--role", required=True, choices=("official", "leader", "admin"))
    c.add_argument("--locale", choices=LOCALES, default=None)
    c.set_defaults(func=_person_add)

    p = sub.add_parser("report", help="satisfaction and quota reports")
    rsub = p.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    c = rsub.add_parser("satisfaction", help="percentages per unit and element")
    c.add_argument("--unit", help="unit code (default: the top unit)")
    c.add_argument(
        "--from", dest="date_from", type=_date_arg, help="first day (dd/mm/yyyy or yyyy-mm-dd)"
    )
    c.add_argument("--to", dest="date_to", type=_date_arg, help="last day")
    c.add_argument("--period", help="10/2023, Q4/2023, 2023, 'tháng này'… (instead of --from/--to)")
    _format_args(c)
    c.add_argument("--chart", type=Path, help="also draw the chart as a PNG to this file")
    c.set_defaults(func=_report_satisfaction)
    c = rsub.add_parser("quota", help="questionnaires collected against targets")
    c.add_argument("--unit", help="unit code (default: the top unit)")
    c.add_argument("--period", help="10/2023, Q4/2023, 2023… (default: this quarter)")
    _format_args(c)
    c.set_defaults(func=_report_quota)

    from bot.services.imports import IMPORTERS

    p = sub.add_parser("import", help="bulk load from CSV (a bad file loads nothing)")
    p.add_argument("kind", choices=sorted(IMPORTERS))
    p.add_argument("file", type=Path)
    p.set_defaults(func=_import)

    for extend in EXTENSIONS:
        extend(sub)
    return parser


def _format_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=("table", "csv", "json", "xlsx"),
        default="table",
        help="xlsx: the whole workbook (figures, quotas, answers, feedback); needs --out",
    )
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SIPAS_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        print(f"sipas-bot: {name}: {first['msg']}", file=sys.stderr)
        return 2
    try:
        return args.func(settings, args) or 0
    except UsageError as exc:
        print(f"sipas-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.debug("command failed", exc_info=True)
        print(f"sipas-bot: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def run_async(settings: Settings, body) -> int:
    """Build the app, run ``body(app)``, close the app."""

    async def go() -> int:
        app = App(settings)
        try:
            return await body(app) or 0
        finally:
            await app.close()

    return asyncio.run(go())


# --- argument types -------------------------------------------------------------------


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _date_arg(text: str) -> date:
    try:
        period = parse_period(text, date.today())
    except PeriodError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (use dd/mm/yyyy or yyyy-mm-dd)"
        ) from None
    if period.kind != "day":
        raise argparse.ArgumentTypeError(f"not a single day: {text!r}")
    return period.start


def resolve_period(app: App, text: str | None, default: Period | None = None) -> Period:
    today = app.now().astimezone(app.tz).date()
    if not text:
        return default or quarter_of(today)
    try:
        return parse_period(text, today)
    except PeriodError:
        raise UsageError(
            f"unknown period {text!r}: try 10/2023, Q4/2023, 2023 or 01/10/2023-31/10/2023"
        ) from None


async def resolve_unit(app: App, session, code: str | None):
    from storage import units

    if code:
        unit = await units.by_code(session, code)
        if unit is None:
            raise UsageError(f"unknown unit {code!r}")
        return unit
    roots = await units.roots(session)
    if not roots:
        raise UsageError(
            "the database has no units yet: run 'sipas-bot demo' or 'sipas-bot import units'"
        )
    return roots[0]


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text, encoding="utf-8")


# --- commands ------------------------------------------------------------------------------


def _serve(settings: Settings, args) -> int:
    from bot.server import serve

    return serve(settings)


def _chat(settings: Settings, args) -> int:
    from bot.channels import console

    console.run(App(settings), args.user, args.locale)
    return 0


def _db_upgrade(settings: Settings, args) -> int:
    from storage import rollups
    from storage.migrate import current_revision, upgrade

    async def body(app: App) -> int:
        await upgrade(app.db)
        print(f"database at revision {await current_revision(app.db)} ({app.db.dialect})")
        async with app.db.write() as session:
            if await rollups.missing(session):  # data from before the rollups existed
                answers, responses = await rollups.rebuild(session, app.tz)
                print(f"report rollups rebuilt: {answers} answer rows, {responses} response rows")
        return 0

    return run_async(settings, body)


def _db_rebuild_rollups(settings: Settings, args) -> int:
    from storage import rollups

    async def body(app: App) -> int:
        async with app.db.write() as session:
            answers, responses = await rollups.rebuild(session, app.tz)
        print(f"report rollups rebuilt: {answers} answer rows, {responses} response rows")
        return 0

    return run_async(settings, body)


def _demo(settings: Settings, args) -> int:
    from bot.services import demo
    from bot.services.invites import web_link
    from flows.text import format_code

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        _ = t.gettext
        async with app.db.write() as session:
            if not await demo.is_empty(session):
                if args.if_empty:
                    print(_("The database already has data; demo data not loaded."))
                    fresh = await demo.fresh_code(app, session)
                    if fresh is not None:
                        print(
                            _(
                                "A fresh demo survey code: {code}. Try it in the browser: {link}"
                            ).format(code=fresh.printable, link=web_link(app, fresh.code))
                        )
                    return 0
                raise UsageError(
                    _("the database already has data; demo data goes into an empty database")
                )
            summary = await demo.load(app, session, responses=args.responses)
        print(
            _("Demo data loaded: {units} units, {responses} responses.").format(
                units=summary.units, responses=summary.responses
            )
        )
        print(_("Counter codes (reusable, one rating per person per day):"))
        for inv in summary.counter_codes:
            print(f"  {format_code(inv.code)}  {inv.unit_name}")
        print(_("Single-use dossier codes:"))
        for inv in summary.dossier_codes:
            print(f"  {format_code(inv.code)}  {inv.unit_name}")
        print(_("Registration codes for staff (send to the bot within 14 days):"))
        for name, role, unit_code, code in summary.registrations:
            print(f"  {format_code(code)}  {name} ({role}, {unit_code})")
        if summary.dossier_codes:
            link = web_link(app, summary.dossier_codes[0].code)
            print(_("Try a survey in the browser: {link}").format(link=link))
        return 0

    return run_async(settings, body)


def _invite_create(settings: Settings, args) -> int:
    from sqlalchemy import select

    from bot.services import invites
    from storage.models import Dossier, Procedure

    if args.counter and args.dossier:
        raise UsageError("--counter and --dossier exclude each other")
    if args.poster and not args.counter:
        raise UsageError("--poster is for counter codes: add --counter")
    if args.poster and args.poster.suffix.lower() not in (".png", ".pdf"):
        raise UsageError("--poster must end in .png or .pdf")

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        _ = t.gettext
        async with app.db.write() as session:
            unit = await resolve_unit(app, session, args.unit)
            procedure = dossier = None
            if args.procedure:
                procedure = (
                    (await session.exec(select(Procedure).where(Procedure.code == args.procedure)))
                    .scalars()
                    .first()
                )
                if procedure is None:
                    raise UsageError(f"unknown procedure {args.procedure!r}")
            if args.dossier:
                dossier = (
                    (
                        await session.exec(
                            select(Dossier).where(Dossier.receipt_code == args.dossier)
                        )
                    )
                    .scalars()
                    .first()
                )
                if dossier is None:
                    raise UsageError(f"unknown dossier {args.dossier!r}")
                if dossier.unit_id != unit.id:
                    raise UsageError(f"dossier {args.dossier!r} belongs to another unit")
            issued = await invites.issue_invite(
                app,
                session,
                unit,
                kind="counter" if args.counter else "dossier",
                dossier=dossier,
                procedure=procedure,
            )
        code = issued.code
        print(_("Survey code: {code}").format(code=issued.printable))
        print(_("Unit: {unit}").format(unit=unit.name))
        if issued.expires_at_iso:
            from datetime import datetime

            print(
                _("Valid until: {date}").format(
                    date=t.date(datetime.fromisoformat(issued.expires_at_iso))
                )
            )
        tg = invites.telegram_link(app, code)
        print(
            _("Telegram: {link}").format(
                link=tg or _("send /start {code} to the bot").format(code=code)
            )
        )
        print(_("Zalo: {instruction}").format(instruction=invites.zalo_instruction(code)))
        print(_("Web: {link}").format(link=invites.web_link(app, code)))
        if args.qr:
            args.qr.write_bytes(invites.qr_png(invites.survey_link(app, code)))
            print(_("QR code written to {path}").format(path=args.qr))
        if args.poster:
            from bot.render.poster import counter_poster

            fmt = args.poster.suffix.lower().lstrip(".")
            link = invites.survey_link(app, code)
            args.poster.write_bytes(counter_poster(unit.name, link, code, t, fmt))
            print(_("Poster written to {path}").format(path=args.poster))
        return 0

    return run_async(settings, body)


def _person_add(settings: Settings, args) -> int:
    from bot.services import invites
    from flows.text import format_code

    if not args.name.strip():
        raise UsageError("--name must not be empty")

    async def body(app: App) -> int:
        _ = translator(settings.default_locale, settings.timezone).gettext
        async with app.db.write() as session:
            unit = await resolve_unit(app, session, args.unit)
            _pid, code = await invites.issue_registration(
                app,
                session,
                name=args.name.strip(),
                role=args.role,
                unit=unit,
                locale=args.locale or settings.default_locale,
            )
        print(
            _("Added {name} ({role}) to {unit}.").format(
                name=args.name.strip(), role=args.role, unit=unit.name
            )
        )
        print(_("Registration code: {code}").format(code=format_code(code)))
        print(
            _(
                "They send /start {code} (or just the code) to the bot on Telegram or Zalo "
                "within 14 days."
            ).format(code=code)
        )
        return 0

    return run_async(settings, body)


def _report_satisfaction(settings: Settings, args) -> int:
    from bot.render import report_text as reporting
    from storage import reports

    _need_out(args)

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        today = app.now().astimezone(app.tz).date()
        try:
            period = reporting.choose_period(args.period, args.date_from, args.date_to, today)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        async with app.db.read() as session:
            unit = await resolve_unit(app, session, args.unit)
            report = await reports.satisfaction(session, unit, period.start, period.end, app.tz)
            if args.format == "xlsx":
                await _write_workbook(app, session, unit, period, args.out)
        if args.chart:
            from bot.render.charts import satisfaction_png
            from flows.privacy import Privacy

            target = settings.satisfaction_target
            png = await asyncio.to_thread(satisfaction_png, report, t, period, Privacy(), target)
            await asyncio.to_thread(args.chart.write_bytes, png)
        render = {
            "json": lambda: reporting.satisfaction_json(report),
            "csv": lambda: reporting.satisfaction_csv(report),
            "table": lambda: reporting.satisfaction_table(report, t, period),
        }.get(args.format)
        if render:
            _emit(render(), args.out)
        return 0

    return run_async(settings, body)


def _report_quota(settings: Settings, args) -> int:
    from bot.render import report_text as reporting
    from storage import reports

    _need_out(args)

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        today = app.now().astimezone(app.tz).date()
        period = resolve_period(app, args.period)
        async with app.db.read() as session:
            unit = await resolve_unit(app, session, args.unit)
            rows = await reports.quota_progress(session, unit, period.start, period.end, app.tz)
            if args.format == "xlsx":
                await _write_workbook(app, session, unit, period, args.out)
        render = {
            "json": lambda: reporting.quota_json(rows),
            "csv": lambda: reporting.quota_csv(rows),
            "table": lambda: reporting.quota_table(rows, t, unit.name, period, today),
        }.get(args.format)
        if render:
            _emit(render(), args.out)
        return 0

    return run_async(settings, body)


def _need_out(args) -> None:
    if args.format == "xlsx" and args.out is None:
        raise UsageError("--format xlsx writes a binary workbook: give --out FILE.xlsx")


async def _write_workbook(app: App, session, unit, period: Period, out: Path) -> None:
    from bot.render import workbook as export
    from flows.privacy import Privacy

    t = translator(app.settings.default_locale, app.settings.timezone)
    data = await export.gather(session, unit, period, app.tz, Privacy())
    hours = app.settings.feedback_target_hours
    xlsx = await asyncio.to_thread(export.build, data, t, Privacy(), app.now(), hours)
    await asyncio.to_thread(out.write_bytes, xlsx)


def _import(settings: Settings, args) -> int:
    from bot.services.imports import cli_import

    if not args.file.is_file():
        raise UsageError(f"no such file: {args.file}")
    return run_async(settings, lambda app: cli_import(app, args.kind, args.file))


# Subcommands of other modules register themselves in EXTENSIONS when imported.
from bot.cli import deadline as _deadlines  # noqa: E402, F401
from bot.cli import zalo as zalo_cli  # noqa: E402, F401
