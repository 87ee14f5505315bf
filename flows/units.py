"""Which unit and which period an admin means: ``/quota Hải Châu quý này``.

Units are found by code or by a forgiving name match (case, diacritics, the kind word
in front — "Phường", "Quận"… — and a remark in brackets may be left out). The period
is the part of the text that reads as one (``flows.periods``); when the words could be
split more than one way, the split whose unit matches best wins, so "Quận 1 2023" is
Quận 1 in 2023, not "Quận" in January 2023.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from flows.contract import UnitInfo
from flows.periods import Period, PeriodError
from flows.periods import parse as parse_period
from flows.text import fold

# Words that name a unit's kind, folded, longest first so "thanh pho" beats "pho".
_KIND_WORDS = sorted(
    [
        "thanh pho",
        "tinh",
        "quan",
        "huyen",
        "thi xa",
        "thi tran",
        "phuong",
        "xa",
        "dac khu",
        "so",
        "phong",
        "bo phan",
        "trung tam",
        "uy ban nhan dan",
        "ubnd",
        "city",
        "province",
        "district",
        "ward",
        "commune",
    ],
    key=len,
    reverse=True,
)
_BRACKETS = re.compile(r"\s*\([^)]*\)")

# How well a text names a unit; 0 is not at all.
EXACT_CODE, SAME_NAME, NAME_STARTS, WORDS_IN_NAME, NONE = 5, 4, 3, 2, 0


def _core(name: str) -> str:
    """The folded name without brackets and without the kind word in front."""
    folded = _BRACKETS.sub("", fold(name)).strip()
    for word in _KIND_WORDS:
        if folded.startswith(word + " "):
            return folded[len(word) + 1 :]
    return folded


def match_quality(text: str, unit: UnitInfo) -> int:
    """How well ``text`` names ``unit`` (``EXACT_CODE`` … ``NONE``)."""
    query = fold(text)
    if not query:
        return NONE
    if query == unit.code.lower():
        return EXACT_CODE
    full = fold(unit.name)
    bare = _BRACKETS.sub("", full).strip()
    core = _core(unit.name)
    if query in (full, bare, core) or unit.code.lower().endswith("." + query):
        return SAME_NAME  # the code's last parts alone ("SONTRA.MC") count as a name
    if core.startswith(query + " ") or bare.startswith(query + " "):
        return NAME_STARTS
    words = bare.split()
    if all(any(w.startswith(q) for w in words) for q in query.split()):
        return WORDS_IN_NAME
    return NONE


def find_units(text: str, units: Iterable[UnitInfo]) -> tuple[int, list[UnitInfo]]:
    """The best quality any unit reaches for ``text``, and the units that reach it."""
    best, found = NONE, []
    for unit in units:
        quality = match_quality(text, unit)
        if quality > best:
            best, found = quality, [unit]
        elif quality == best and quality > NONE:
            found.append(unit)
    return best, found


@dataclass(frozen=True)
class Target:
    """What a command's arguments name: candidate units (empty text: none) and a period."""

    unit_text: str
    units: list[UnitInfo]
    period: Period | None  # None: the command's default


class TargetError(ValueError):
    """Arguments that name no unit we know (``unit_text``), or no period."""

    def __init__(self, unit_text: str) -> None:
        super().__init__(unit_text)
        self.unit_text = unit_text


def parse_target(text: str, units: list[UnitInfo], today: date) -> Target:
    """Split ``text`` into a unit and a period, either in front or behind.

    Raises ``TargetError`` when no split names a known unit (with the text taken for
    the unit, so the reply can quote it).
    """
    words = text.split()
    if not words:
        return Target("", [], None)
    best: tuple[int, int] | None = None
    chosen: Target | None = None
    fallback = text.strip()
    for k in range(len(words) + 1):  # k words for the period, in front or behind
        splits = {(" ".join(words[: len(words) - k]), " ".join(words[len(words) - k :]))}
        splits.add((" ".join(words[k:]), " ".join(words[:k])))
        for unit_text, period_text in splits:
            period = None
            if period_text:
                try:
                    period = parse_period(period_text, today)
                except PeriodError:
                    continue
            if unit_text:
                quality, found = find_units(unit_text, units)
            else:
                quality, found = SAME_NAME, []  # the caller's own unit
            if quality == NONE:
                if period is not None and len(unit_text) < len(fallback):
                    fallback = unit_text  # the part that is not a period: quote that
                continue
            score = (quality, len(period_text))
            if best is None or score > best:
                best, chosen = score, Target(unit_text, found, period)
    if chosen is None:
        raise TargetError(fallback)
    return chosen
