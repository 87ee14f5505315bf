"""``sipas-bot zalo connect|status|ratings|zns``: the first token pair, how the tokens
stand, ZNS ratings read back (``ratings sync|unmatched``) and ZNS sending (``zns spend``
for a day's messages and their cost, ``zns requeue`` for messages that wait).

``connect`` runs Zalo's permission flow with PKCE: it prints the approval address for
an admin of the Official Account, reads back the address Zalo redirected to (or just
its ``code``), exchanges the code for a token pair and stores the pair (encrypted) in
the database, where the running bot finds and refreshes it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from bot.cli.common import UsageError, _, date_arg, run_async

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zalo", help=_("Zalo OA: connect the app, show the tokens' state"))
    zsub = p.add_subparsers(dest="zalo_command", required=True, metavar=_("ACTION"))
    c = zsub.add_parser(
        "connect", help=_("get the first token pair through an OA admin's approval")
    )
    c.add_argument(
        "--redirect-uri",
        help=_("the callback URL registered for the Zalo app (default: SIPAS_PUBLIC_URL)"),
    )
    c.set_defaults(func=_connect)
    s = zsub.add_parser("status", help=_("whether tokens are stored and how long they are valid"))
    s.set_defaults(func=_status)
    r = zsub.add_parser("ratings", help=_("ratings given in Zalo on the ZNS rating template"))
    rsub = r.add_subparsers(dest="ratings_command", required=True, metavar=_("ACTION"))
    c = rsub.add_parser("sync", help=_("read the rating list now and count what is new"))
    c.add_argument(
        "--since",
        type=date_arg,
        help=_("from this local day (default: where the last read ended)"),
    )
    c.set_defaults(func=_ratings_sync)
    c = rsub.add_parser("unmatched", help=_("ratings that could not be counted, latest first"))
    c.set_defaults(func=_ratings_unmatched)
    z = zsub.add_parser("zns", help=_("ZNS messages: a day's spend, messages that wait"))
    zns_sub = z.add_subparsers(dest="zns_command", required=True, metavar=_("ACTION"))
    c = zns_sub.add_parser("spend", help=_("ZNS messages sent on a day and their estimated cost"))
    c.add_argument("--day", type=date_arg, help=_("local day (default: today)"))
    c.set_defaults(func=_zns_spend)
    c = zns_sub.add_parser("requeue", help=_("queue again every ZNS message that waits"))
    c.set_defaults(func=_zns_requeue)


def code_from(line: str, state: str) -> str:
    """The authorization code in what the operator pasted: the redirect address or the
    code alone. A pasted address must carry our ``state`` (it is from this attempt)."""
    text = line.strip()
    if not text:
        raise UsageError(_("nothing pasted: run 'sipas-bot zalo connect' again"))
    if "://" not in text and "code=" not in text:
        return text
    query = parse_qs(urlsplit(text).query or text.split("?", 1)[-1])
    code = (query.get("code") or [""])[0]
    if not code:
        raise UsageError(_("the pasted address has no code=…: copy the whole address again"))
    if (query.get("state") or [state])[0] != state:
        raise UsageError(_("the pasted address belongs to another attempt: use the new link"))
    return code


def _connect(settings: Settings, args) -> int:
    import asyncio
    import secrets

    from bot.channels.zalo import adapter as zalo
    from bot.channels.zalo.client import ZaloAuthError, new_pkce
    from flows.i18n import translator

    if not settings.zalo_sends:
        raise UsageError(_("set SIPAS_ZALO_APP_ID and SIPAS_ZALO_APP_SECRET first"))
    redirect = args.redirect_uri or settings.public_url
    if not redirect:
        raise UsageError(
            _(
                "--redirect-uri is needed (the callback URL registered for the Zalo app), "
                "or set SIPAS_PUBLIC_URL"
            )
        )

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        verifier, challenge = new_pkce()
        state = secrets.token_urlsafe(12)
        async with zalo.open_channel(app) as channel:
            print(_("1. As an admin of the Official Account, open this address and approve:"))
            print("   " + channel.oauth.permission_url(redirect, challenge, state))
            print(
                _(
                    "2. Zalo then opens {address}?code=…; paste that whole address "
                    "(or only the code) here and press Enter:"
                ).format(address=redirect)
            )
            sys.stdout.flush()
            code = code_from(await asyncio.to_thread(sys.stdin.readline), state)
            try:
                grant = await channel.oauth.exchange_code(code, verifier)
            except ZaloAuthError as exc:
                raise UsageError(_("Zalo refused the code: {error}").format(error=exc)) from None
            pair = await channel.tokens.store_grant(grant)
        until = t.datetime(pair.expires_at) if pair.expires_at else "?"
        print(
            _(
                "Connected. The access token is valid until {time}; the bot refreshes it "
                "by itself from now on."
            ).format(time=until)
        )
        return 0

    return run_async(settings, body)


def _status(settings: Settings, args) -> int:
    from bot.channels.zalo import adapter as zalo
    from flows.i18n import translator

    async def body(app: App) -> int:
        t = translator(settings.default_locale, settings.timezone)
        async with zalo.open_channel(app) as channel:
            pair = await channel.tokens.stored()
        if pair is None:
            print(_("No Zalo tokens are stored yet (run 'sipas-bot zalo connect')."))
            return 0
        if pair.expires_at is None:
            print(_("Zalo tokens are stored; their age is unknown until the first refresh."))
        elif pair.expires_at <= app.now():
            print(
                _("The Zalo access token expired at {time}; it is refreshed on next use.").format(
                    time=t.datetime(pair.expires_at)
                )
            )
        else:
            print(
                _("The Zalo access token is valid until {time}.").format(
                    time=t.datetime(pair.expires_at)
                )
            )
        if not pair.refresh_token:
            print(_("There is no refresh token: run 'sipas-bot zalo connect' before it expires."))
        return 0

    return run_async(settings, body)


def _need_zns(settings: Settings) -> None:
    if not settings.zns_sends:
        raise UsageError(
            "ZNS is off: set SIPAS_ZNS_ENABLED=true and the Zalo app (SIPAS_ZALO_APP_ID, "
            "SIPAS_ZALO_APP_SECRET)"
        )


def _ratings_sync(settings: Settings, args) -> int:
    from bot.channels.zalo.client import ZaloError
    from flows.i18n import translator

    _need_zns(settings)
    if not settings.zns_rating_template:
        raise UsageError(_("set SIPAS_ZNS_RATING_TEMPLATE_ID (or SIPAS_ZNS_INVITE_TEMPLATE_ID)"))

    async def body(app: App) -> int:
        from datetime import datetime, time

        from bot.channels.zalo import zns_service

        _ = translator(settings.default_locale, settings.timezone).gettext
        since = datetime.combine(args.since, time(0), tzinfo=app.tz) if args.since else None
        async with zns_service.open_zns(app) as zns:
            try:
                result = await zns_service.sync_ratings(app, zns.client, since)
            except ZaloError as exc:
                raise UsageError(
                    _("Zalo refused the rating list: {error}").format(error=exc)
                ) from None
        print(
            _(
                "Ratings read: {counted} counted, {duplicates} known already, {kept} not matched."
            ).format(counted=result.counted, duplicates=result.duplicates, kept=result.kept)
        )
        return 0

    return run_async(settings, body)


def _ratings_unmatched(settings: Settings, args) -> int:
    from flows.i18n import translator

    async def body(app: App) -> int:
        from storage import zns

        t = translator(settings.default_locale, settings.timezone)
        _ = t.gettext
        async with app.db.read() as session:
            rows = await zns.unmatched(session)
        if not rows:
            print(_("Every ZNS rating was matched to a dossier."))
            return 0
        for row in rows:
            when = t.datetime(row.submitted_at or row.received_at)
            stars = row.stars if row.stars is not None else "?"
            note = f"  “{row.note}”" if row.note else ""
            print(f"{when}  {row.status:<9}  {stars}★  {row.tracking_id or '-'}{note}")
        return 0

    return run_async(settings, body)


def _zns_spend(settings: Settings, args) -> int:
    from flows.i18n import translator

    async def body(app: App) -> int:
        from storage import zns

        t = translator(settings.default_locale, settings.timezone)
        _ = t.gettext
        day = args.day or app.now().astimezone(app.tz).date()
        async with app.db.read() as session:
            sent, held = await zns.day_counts(session, day)
            waiting = await zns.waiting_count(session)
        print(
            _("ZNS on {day}: {sent} messages sent (cap {cap}), about {cost} VND.").format(
                day=t.date(day),
                sent=t.number(sent),
                cap=t.number(settings.zns_daily_cap),
                cost=t.number(sent * settings.zns_price_vnd),
            )
        )
        if held:
            print(_("{n} messages were held back by the daily cap.").format(n=t.number(held)))
        if waiting:
            print(_("{n} messages wait to be sent on another day.").format(n=t.number(waiting)))
        return 0

    return run_async(settings, body)


def _zns_requeue(settings: Settings, args) -> int:
    from flows.i18n import translator

    async def body(app: App) -> int:
        from bot.services.intake import next_send_time
        from storage import zns

        _ = translator(settings.default_locale, settings.timezone).gettext
        now = app.now()
        async with app.db.write() as session:
            n = await zns.requeue_waiting(
                session,
                now.astimezone(app.tz).date(),
                next_send_time(now, app.tz, settings.invite_window),
                all_days=True,
            )
        print(_("{n} ZNS messages are queued again.").format(n=n))
        return 0

    return run_async(settings, body)
