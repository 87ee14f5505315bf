"""Texts about ZNS (Zalo's paid template messages) shown to leaders and admins."""

from __future__ import annotations

from dataclasses import dataclass

from flows.i18n import Translator


@dataclass(frozen=True)
class ZnsStatus:
    """Today's ZNS sending against the daily cap, and what waits or was not matched."""

    cap: int
    sent_today: int
    held_today: int  # messages the cap held back today
    waiting: int  # messages waiting as dead letters for another day
    unmatched: int  # ratings that could not be counted


def zns_footer(status: ZnsStatus | None, t: Translator) -> str | None:
    """The ``/quota`` footer about ZNS (None when there is nothing to say)."""
    if status is None:
        return None
    _ = t.gettext
    lines = [
        _("ZNS today: {sent} of {cap} messages.").format(
            sent=t.number(status.sent_today), cap=t.number(status.cap)
        )
    ]
    if status.held_today or status.sent_today >= status.cap:
        lines.append(
            _(
                "The daily ZNS cap is reached: further invitations wait until tomorrow "
                "(SIPAS_ZNS_DAILY_CAP)."
            )
        )
    if status.waiting:
        lines.append(
            t.ngettext(
                "{n} ZNS message waits to be sent on another day.",
                "{n} ZNS messages wait to be sent on another day.",
                status.waiting,
            ).format(n=t.number(status.waiting))
        )
    if status.unmatched:
        lines.append(
            t.ngettext(
                "{n} ZNS rating could not be matched to a dossier "
                "(sipas-bot zalo ratings unmatched).",
                "{n} ZNS ratings could not be matched to a dossier "
                "(sipas-bot zalo ratings unmatched).",
                status.unmatched,
            ).format(n=t.number(status.unmatched))
        )
    return "\n".join(lines)
