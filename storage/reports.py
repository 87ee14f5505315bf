"""Satisfaction and quota figures, computed from raw answers.

- item % = answers at 4 or 5 ÷ valid (not skipped) answers to that item
- element % = mean of its items' % (items with valid answers); overall SIPAS % = mean of
  the elements' % (elements with valid answers: ``elements`` says which)
- also: respondents, mean score, the distribution per level, and the overall question

Only completed, unflagged responses count; only answers on the satisfaction scale.
Periods are local calendar days [start, end]. The figures are read from the rollups
(storage.rollups), which hold exactly these counts per unit and local day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, union_all
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Unit
from storage.rollup_periods import answer_rollup_parts, channel_rollup_parts
from storage.rollups import LEVEL_COLUMNS
from storage.sql import plan_for_these_values

SATISFIED = (4, 5)
LEVELS = (1, 2, 3, 4, 5)
OVERALL_ELEMENT = "overall"


def utc_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants that enclose local days ``start`` to ``end`` inclusive."""
    lo = datetime.combine(start, time.min, tz)
    hi = datetime.combine(end + timedelta(days=1), time.min, tz)
    return lo.astimezone(ZoneInfo("UTC")), hi.astimezone(ZoneInfo("UTC"))


@dataclass
class ItemFigures:
    item_code: str
    element_code: str
    counts: Counter = field(default_factory=Counter)  # value → answers
    skipped: int = 0

    @property
    def valid(self) -> int:
        """Answers that were not skipped."""
        return sum(self.counts[v] for v in LEVELS)

    @property
    def satisfied(self) -> int:
        """Answers at 4 or 5."""
        return sum(self.counts[v] for v in SATISFIED)

    @property
    def percent(self) -> float | None:
        """Satisfied ÷ valid answers (None without valid answers)."""
        return self.satisfied / self.valid if self.valid else None

    @property
    def mean(self) -> float | None:
        """Mean score of the valid answers."""
        return sum(v * self.counts[v] for v in LEVELS) / self.valid if self.valid else None


@dataclass
class Satisfaction:
    """The figures of one unit (its whole subtree) over a period."""

    unit_id: int
    unit_code: str
    unit_name: str
    respondents: int = 0
    items: dict[str, ItemFigures] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)  # completed responses per channel
    # Items left out for a viewer below the small-number threshold (flows.privacy.restrict):
    # every figure here is then computed from the remaining items.
    withheld: dict[str, str] = field(default_factory=dict)  # item code → element code

    def add(self, item: str, element: str, value: int | None, n: int) -> None:
        """Count ``n`` answers of ``value`` (None: skipped) to ``item``."""
        figures = self.items.setdefault(item, ItemFigures(item, element))
        if value is None:
            figures.skipped += n
        else:
            figures.counts[value] += n

    @property
    def elements(self) -> dict[str, float]:
        """Element code → mean of its items' percentages (elements with data only)."""
        by_element: dict[str, list[float]] = defaultdict(list)
        for item in self.items.values():
            if item.element_code != OVERALL_ELEMENT and item.percent is not None:
                by_element[item.element_code].append(item.percent)
        return {code: fmean(values) for code, values in sorted(by_element.items())}

    @property
    def percent(self) -> float | None:
        """Overall SIPAS %: the mean of the elements' percentages."""
        elements = self.elements
        return fmean(elements.values()) if elements else None

    @property
    def overall_question(self) -> float | None:
        """Share of answers at 4–5 to the overall-satisfaction question, if asked."""
        item = next((i for i in self.items.values() if i.element_code == OVERALL_ELEMENT), None)
        return item.percent if item else None

    @property
    def distribution(self) -> dict[int, int]:
        """Answers per level over every satisfaction item."""
        total: Counter = Counter()
        for item in self.items.values():
            total.update(item.counts)
        return {v: total[v] for v in LEVELS}

    @property
    def answers(self) -> int:
        """Valid answers over every satisfaction item."""
        return sum(self.distribution.values())

    @property
    def mean(self) -> float | None:
        """Mean score over every valid satisfaction answer."""
        dist = self.distribution
        valid = sum(dist.values())
        return sum(v * n for v, n in dist.items()) / valid if valid else None

    def weakest_items(self, n: int = 3) -> list[ItemFigures]:
        """The items with the lowest percentage (those with answers), weakest first."""
        rated = [i for i in self.items.values() if i.percent is not None]
        return sorted(rated, key=lambda i: (i.percent, i.item_code))[:n]


@dataclass
class SatisfactionReport:
    start: date
    end: date
    total: Satisfaction  # the requested unit's whole subtree
    units: list[Satisfaction]  # each direct child's subtree (and the unit's own responses)
    members: dict[str, int] = field(default_factory=dict)  # unit code → its part's unit id


async def satisfaction(
    session: AsyncSession, root: Unit, start: date, end: date, tz: ZoneInfo
) -> SatisfactionReport:
    """Satisfaction of ``root``'s subtree over local days ``start``–``end``, and per child.

    Read from the rollups (``storage.rollups``), which count exactly what a scan of the
    raw answers would; ``tz`` is the zone the rollups' days are in.
    """
    await plan_for_these_values(session)
    units = {
        u.id: u
        for u in (await session.exec(select(Unit).where(Unit.path.startswith(root.path)))).scalars()
    }
    # Each unit counts towards the direct child of root that it lies under (or root itself).
    group_of = {uid: _child_of(root, u) for uid, u in units.items()}
    total = Satisfaction(root.id, root.code, root.name)  # type: ignore[arg-type]
    groups: dict[int, Satisfaction] = {}

    def group(uid: int) -> Satisfaction:
        gid = group_of[uid]
        if gid not in groups:
            g = units[gid]
            groups[gid] = Satisfaction(gid, g.code, g.name)
        return groups[gid]

    # Answers and respondents (per channel: their sum is the respondents) from the
    # coarsest rollups that fit: whole years or months, and the days around them.
    answer_parts = [
        select(
            table.unit_id,
            table.item_code,
            table.element_code,
            *(func.sum(getattr(table, c)) for c in (*LEVEL_COLUMNS, "skipped")),
        )
        .join(Unit, Unit.id == table.unit_id)
        .where(Unit.path.startswith(root.path), period.between(a, b))
        .group_by(table.unit_id, table.item_code, table.element_code)
        for table, period, a, b in answer_rollup_parts(start, end)
    ]
    answers = answer_parts[0] if len(answer_parts) == 1 else union_all(*answer_parts)
    for uid, item, element, *counts in (await session.exec(answers)).all():
        for value, n in zip((*LEVELS, None), counts, strict=True):
            if n:
                total.add(item, element, value, int(n))
                group(uid).add(item, element, value, int(n))

    parts = [
        select(table.unit_id, table.channel, func.sum(table.responses))
        .join(Unit, Unit.id == table.unit_id)
        .where(Unit.path.startswith(root.path), period.between(a, b))
        .group_by(table.unit_id, table.channel)
        for table, period, a, b in channel_rollup_parts(start, end)
    ]
    respondents = parts[0] if len(parts) == 1 else union_all(*parts)
    for uid, channel, n in (await session.exec(respondents)).all():
        if n:
            for s in (total, group(uid)):
                s.respondents += int(n)
                s.channels[channel] = s.channels.get(channel, 0) + int(n)

    ordered = sorted(groups.values(), key=lambda s: units[s.unit_id].path)
    members = {u.code: group_of[uid] for uid, u in units.items()}
    return SatisfactionReport(start, end, total, ordered, members)


def _child_of(root: Unit, unit: Unit) -> int:
    rest = unit.path[len(root.path) :].strip("/")
    return int(rest.split("/")[0]) if rest else root.id  # type: ignore[return-value]
