"""The in-person lines of ``/report``: phiếu per counter tablet (leaders and admins) and
per surveyor (admins only). The figures are ``storage.origins.SourceFigures``."""

from __future__ import annotations

from typing import Any, Protocol

from flows.contract import Context
from flows.i18n import Translator
from flows.privacy import Privacy

SHOWN = 10  # tablets or surveyors listed; the rest summed up


class SourcesContext(Context, Protocol):
    """What these lines need beyond ``Context``."""

    async def device_figures(self, unit_id: int, start, end) -> list[Any]:
        """``SourceFigures`` per tablet of the subtree in the period."""
        ...

    async def surveyor_figures(self, unit_id: int, start, end) -> list[Any]:
        """``SourceFigures`` per surveyor of the subtree in the period."""
        ...


def source_lines(t: Translator, rows: list[Any], title: str, privacy: Privacy) -> list[str]:
    """A heading and one line per source: counted phiếu, % satisfied, flagged."""
    _ = t.gettext
    if not rows:
        return []
    lines = ["", title]
    for row in rows[:SHOWN]:
        text = _("{name}: {n} questionnaires").format(
            name=row.label or f"#{row.source_id}", n=t.number(row.responses)
        )
        if row.percent is not None and privacy.shows(row.responses):
            text += ", " + _("{percent} satisfied").format(percent=t.percent(row.percent))
        if row.flagged and privacy.full:
            text += "; " + _("{n} flagged").format(n=t.number(row.flagged))
        lines.append("• " + text)
    rest = rows[SHOWN:]
    if rest:
        more = _("… and {n} more with {count} questionnaires").format(
            n=t.number(len(rest)), count=t.number(sum(r.responses for r in rest))
        )
        lines.append(more)
    return lines


async def report_lines(
    ctx: SourcesContext, t: Translator, unit_id: int, start, end, privacy: Privacy
) -> str:
    """The in-person part of a /report answer ("" when the period has none)."""
    _ = t.gettext
    lines = source_lines(
        t, await ctx.device_figures(unit_id, start, end), _("Counter tablets:"), privacy
    )
    if privacy.full:  # who entered how many: for admins only
        surveyors = await ctx.surveyor_figures(unit_id, start, end)
        lines += source_lines(t, surveyors, _("Questionnaires per surveyor:"), privacy)
    return "\n".join(lines)
