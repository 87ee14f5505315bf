"""``deadline add|list|disable|enable``: deadlines staff are reminded of."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import UsageError, _, cli_translator, day_arg, local_today, run_async

if TYPE_CHECKING:
    from bot.core.app import App
    from scheduler.recurrence import Schedule

# The defaults of bot.services.deadlines (DEFAULT_OFFSETS, DEFAULT_ESCALATE_AFTER), which
# ``--help`` shows without importing the services; a test keeps them the same.
OFFSETS_DEFAULT = (10, 5, 1, 0)
ESCALATE_DEFAULT = 2
TEMPLATE_NAMES = ("cchc-quarterly",)  # scheduler.recurrence.TEMPLATES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deadline", help=_("deadlines staff are reminded of"))
    dsub = p.add_subparsers(dest="deadline_command", required=True, metavar=_("ACTION"))
    c = dsub.add_parser("add", help=_("add a deadline, or a template's deadlines"))
    c.add_argument(
        "--code", help=_("short unique code (with --template: the prefix, default CCHC)")
    )
    c.add_argument("--title", help=_("what is due, as the reminders say it"))
    c.add_argument(
        "--schedule",
        type=_schedule_arg,
        help=_("20/12/2026 (once), 'monthly 20', 'quarterly 20', 'yearly 20/12' or an RRULE"),
    )
    c.add_argument(
        "--template",
        choices=TEMPLATE_NAMES,
        help=_(
            "cchc-quarterly: the CCHC reports (Quý I 20/3, 6 tháng 20/6, Quý III 20/9, Năm 20/12)"
        ),
    )
    c.add_argument(
        "--shift-days", type=int, default=0, help=_("with --template: move every due date (-5)")
    )
    c.add_argument("--units", help=_("unit codes: their officials and those of units below"))
    c.add_argument("--people", help=_("person ids or names (Name@UNIT when names repeat)"))
    c.add_argument(
        "--offsets",
        type=_offsets_arg,
        default=OFFSETS_DEFAULT,
        help=_("working days before the due date to remind (default 10,5,1,0)"),
    )
    c.add_argument("--no-overdue", action="store_true", help=_("no daily reminders when overdue"))
    c.add_argument(
        "--escalate-after",
        type=int,
        default=ESCALATE_DEFAULT,
        help=_("tell the unit's leader after N working days overdue (default 2; 0: never)"),
    )
    c.add_argument("--note", help=_("a line shown in every reminder"))
    c.add_argument(
        "--starts", type=day_arg, help=_("first day occurrences count from (default today)")
    )
    c.set_defaults(func=_add)
    c = dsub.add_parser("list", help=_("deadlines, their schedule, targets and next due date"))
    c.add_argument("--all", action="store_true", help=_("include disabled deadlines"))
    c.set_defaults(func=_list)
    c = dsub.add_parser("disable", help=_("stop a deadline's reminders"))
    c.add_argument("code", metavar=_("CODE"), help=_("the deadline's code"))
    c.set_defaults(func=_set_active, active=False)
    c = dsub.add_parser("enable", help=_("start a deadline's reminders again"))
    c.add_argument("code", metavar=_("CODE"), help=_("the deadline's code"))
    c.set_defaults(func=_set_active, active=True)


def _schedule_arg(text: str) -> Schedule:
    from scheduler.recurrence import ScheduleError, parse_schedule

    try:
        return parse_schedule(text)
    except ScheduleError as exc:
        raise argparse.ArgumentTypeError(exc.text(cli_translator())) from None


def _offsets_arg(text: str) -> tuple[int, ...]:
    from bot.services.deadlines import parse_offsets
    from flows.i18n import Problem

    try:
        return parse_offsets(text)
    except Problem as exc:
        raise argparse.ArgumentTypeError(exc.text(cli_translator())) from None


def _add(settings, args) -> int:
    from bot.services.deadlines import (
        DeadlineSpec,
        create,
        describe_schedule,
        split_list,
        template_specs,
    )
    from flows.i18n import translator
    from scheduler.recurrence import Schedule, ScheduleError

    if args.template and (args.title or args.schedule):
        raise UsageError(
            _("--template makes its own titles and schedules: leave out --title/--schedule")
        )
    if not args.template and not (args.code and args.title and args.schedule):
        raise UsageError(_("give --code, --title and --schedule (or --template)"))
    if args.shift_days and not args.template:
        raise UsageError(_("--shift-days goes with --template"))
    if args.escalate_after < 0:
        raise UsageError(_("--escalate-after must be 0 (never) or more"))
    base = DeadlineSpec(
        code=args.code or "CCHC",
        title=args.title or "",
        schedule=args.schedule or Schedule("once"),
        unit_codes=split_list(args.units),
        people=split_list(args.people, spaces=False),
        offsets=args.offsets,
        overdue_daily=not args.no_overdue,
        escalate_after=args.escalate_after,
        note=args.note,
        starts_on=args.starts,
    )
    if args.template:
        try:
            specs = template_specs(args.template, base.code, args.shift_days, base)
        except ScheduleError as exc:
            raise UsageError(exc.text(cli_translator())) from None
    else:
        specs = [base]

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        today = local_today(app)
        async with app.db.write() as session:
            created = []
            for spec in specs:
                deadline, errors = await create(session, spec, today, t)
                if errors:
                    raise UsageError(f"{spec.code}: " + "; ".join(errors))
                created.append((deadline, spec))
        for deadline, spec in created:
            next_due = spec.schedule.next_due(deadline.starts_on, today)
            print(
                _("Added {code}: {title}").format(code=deadline.code, title=deadline.title)
                + f" – {describe_schedule(t, spec.schedule)}"
                + ("; " + _("next due {date}").format(date=t.date(next_due)) if next_due else "")
            )
        from bot.services.reminders import PLAN_EVERY_MINUTES

        print(
            _(
                "The running server plans their reminders within {minutes} minutes "
                "('sipas-bot reminders run-due' does it now)."
            ).format(minutes=PLAN_EVERY_MINUTES)
        )
        return 0

    return run_async(settings, body)


def _list(settings, args) -> int:
    from bot.services.deadlines import describe_offsets, describe_schedule
    from flows.i18n import translator
    from scheduler.recurrence import parse_schedule
    from storage import deadlines as store

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        today = local_today(app)
        async with app.db.read() as session:
            found = await store.all_deadlines(session, active_only=not args.all)
            targets = await store.targets(session, [d.id for d in found])
        if not found:
            print(_("No deadlines yet. Add one with 'sipas-bot deadline add'."))
            return 0
        for d in found:
            schedule = parse_schedule(d.schedule)
            next_due = schedule.next_due(d.starts_on, today)
            who = ", ".join(
                r.unit_code or f"{r.person_name} (#{r.person_id})" for r in targets.get(d.id, [])
            )
            status = "" if d.active else " [" + _("disabled") + "]"
            print(f"{d.code}{status}  {d.title}")
            print("  " + _("When: {schedule}").format(schedule=describe_schedule(t, schedule)))
            if next_due:
                print("  " + _("Next due: {date}").format(date=t.date(next_due)))
            print(
                "  "
                + _("Reminders: {offsets}").format(
                    offsets=describe_offsets(t, d.offsets, d.overdue_daily)
                )
            )
            if d.escalate_after:
                print(
                    "  "
                    + _("Leader told after {n} working days overdue").format(n=d.escalate_after)
                )
            print("  " + _("For: {who}").format(who=who or "–"))
        return 0

    return run_async(settings, body)


def _set_active(settings, args) -> int:
    from storage import deadlines as store

    async def body(app: App) -> int:
        async with app.db.write() as session:
            deadline = await store.by_code(session, args.code)
            if deadline is None:
                raise UsageError(_("unknown deadline {code}").format(code=repr(args.code)))
            cancelled = await store.set_active(session, deadline.id, args.active, app.now())
        if args.active:
            print(_("{code} is enabled again.").format(code=deadline.code))
        else:
            print(
                _("{code} is disabled; {n} pending reminders cancelled.").format(
                    code=deadline.code, n=cancelled
                )
            )
        return 0

    return run_async(settings, body)
