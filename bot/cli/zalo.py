"""``sipas-bot zalo connect|status``: the first token pair, and how the tokens stand.

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

from bot.cli.common import UsageError, _, run_async

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
