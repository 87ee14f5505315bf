"""Satisfaction charts as PNG (matplotlib's Agg backend: no display needed).

Per unit when the unit has parts with responses, per element otherwise; bars ranked,
the figure written at the end of each bar in the reader's format, and the target as a
dashed line. Units below a leader's small-number threshold get no bar, only a note.
"""

from __future__ import annotations

import asyncio
import io
import textwrap
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.core.app import App
from flows.contract import Attachment
from flows.i18n import Translator, translator
from flows.periods import Period, describe
from flows.privacy import Privacy, restrict
from flows.report_text import basis, element_names, element_rows, headline, not_enough_short

BARS_LIMIT = 40  # more units than this: the best and the weakest 20
_GOOD, _SHORT, _TARGET = "#2e7d32", "#ef6c00", "#c62828"


def bars(
    report: Any, t: Translator, privacy: Privacy
) -> tuple[str, list[tuple[str, float | None]]]:
    """What the chart shows: ``"units"`` or ``"elements"``, and (label, ratio or None)
    pairs, best first; None marks a figure withheld below the small-number threshold.
    The figures are the viewer's (``flows.privacy.restrict``)."""
    report = restrict(report, privacy)
    total = report.total
    parts = [u for u in report.units if u.respondents]
    if len(parts) > 1 or (parts and parts[0].unit_id != total.unit_id):
        visible = [u for u in parts if privacy.shows(u.respondents) and headline(u) is not None]
        shown = sorted(visible, key=lambda u: (-(headline(u) or 0), u.unit_name))
        rows: list[tuple[str, float | None]] = [(u.unit_name, headline(u)) for u in shown]
        if len(rows) > BARS_LIMIT:
            half = BARS_LIMIT // 2
            rows = [*rows[:half], ("…", None), *rows[-half:]]
        rows += [(u.unit_name, None) for u in parts if u not in visible]
        return "units", rows
    names = element_names(t.locale)
    rated = sorted(element_rows(total), key=lambda kv: (kv[1] is None, -(kv[1] or 0)))
    rows = [(names.get(code, code), value) for code, value in rated]
    if not rows and total.overall_question is not None:
        rows = [(t.gettext("Satisfied overall (overall question)"), total.overall_question)]
    return "elements", rows


def satisfaction_png(
    report: Any, t: Translator, period: Period, privacy: Privacy, target: float
) -> bytes:
    """The chart of a ``SatisfactionReport`` as PNG bytes."""
    _ = t.gettext
    kind, rows = bars(report, t, privacy)
    labels = [textwrap.shorten(label, 60, placeholder="…") for label, _v in rows]
    labels = ["\n".join(textwrap.wrap(label, 30)) or label for label in labels]
    values = [0.0 if v is None else v * 100 for _label, v in rows]
    height = 1.8 + 0.42 * max(len(rows), 2) * (1.25 if any("\n" in x for x in labels) else 1)
    fig = Figure(figsize=(8, height), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = [_GOOD if v >= target * 100 else _SHORT for v in values]
    ax.barh(range(len(rows)), values, color=colours, height=0.65)
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    ax.invert_yaxis()  # best on top
    ax.set_xlim(0, 112)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: t.percent(x / 100, 0)))
    for y, (label, value) in enumerate(rows):
        if value is None and label != "…":
            note = not_enough_short(t)
            ax.text(1, y, note, va="center", fontsize=8, color="#555555", style="italic")
        elif value is not None:
            ax.text(
                value * 100 + 1,
                y,
                t.percent(value),
                va="center",
                fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
    ax.axvline(
        target * 100,
        color=_TARGET,
        linestyle="--",
        linewidth=1.2,
        label=_("target {percent}").format(percent=t.percent(target, 0)),
    )
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    title = _("Satisfaction – {unit}").format(unit=report.total.unit_name)
    total = restrict(report, privacy).total
    overall = headline(total)
    subtitle = " · ".join(
        [
            describe(period, t),
            _("{n} respondents").format(n=t.number(total.respondents)),
            _("overall {percent}").format(percent=t.percent(overall))
            if overall is not None
            else not_enough_short(t),
        ]
    )
    note = basis(total, t)
    if note:
        subtitle += "\n" + textwrap.shorten(note, 110, placeholder="…")
    ax.set_title(f"{title}\n{subtitle}", fontsize=11)
    ax.set_xlabel(
        _("share of answers at level 4–5, by unit")
        if kind == "units"
        else _("share of answers at level 4–5, by element")
    )
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def filename(code: str, period: Period, ext: str) -> str:
    """``sipas-DN.HAICHAU-20231001-20231031.png``: ASCII only, safe for every channel."""
    safe = "".join(ch if ch.isalnum() or ch in ".-_" else "-" for ch in code)
    return f"sipas-{safe}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{ext}"


async def chart_attachment(
    app: App, report: Any, period: Period, locale: str, min_responses: int
) -> Attachment:
    """The chart as a reply attachment, drawn off the event loop."""
    t = translator(locale, app.settings.timezone)
    png = await asyncio.to_thread(
        satisfaction_png,
        report,
        t,
        period,
        Privacy(min_responses),
        app.settings.satisfaction_target,
    )
    return Attachment(filename(report.total.unit_code, period, "png"), "image/png", png)
