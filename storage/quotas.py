"""Quota progress: questionnaires collected against the targets of a period (249/300), per
unit, field and channel, from the day and month rollups."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, func, literal, select, union_all
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Dossier,
    Procedure,
    ProcedureField,
    Quota,
    QuotaField,
    Unit,
)
from storage.reports import utc_bounds
from storage.rollup_periods import channel_rollup_parts
from storage.sql import plan_for_these_values


@dataclass
class QuotaProgress:
    quota_id: int
    unit_code: str
    unit_name: str
    period_start: date
    period_end: date
    label: str | None
    fields: list[str]  # field names the quota is restricted to (empty: all)
    target_count: int
    collected: int
    target_ratio: float | None = None
    dossiers: int = 0  # completed dossiers in the period (same scope), when known
    channels: dict[str, int] = field(default_factory=dict)  # ``collected`` per channel

    @property
    def percent(self) -> float:
        """Collected ÷ target."""
        return self.collected / self.target_count if self.target_count else 0.0

    @property
    def remaining(self) -> int:
        """Questionnaires still to collect (never below zero)."""
        return max(self.target_count - self.collected, 0)

    @property
    def surveyed_share(self) -> float | None:
        """Responses ÷ completed dossiers, when dossiers are recorded."""
        return self.collected / self.dossiers if self.dossiers else None


async def quota_progress(
    session: AsyncSession, root: Unit, start: date, end: date, tz: ZoneInfo
) -> list[QuotaProgress]:
    """Every quota of ``root``'s subtree whose period overlaps ``start``–``end``.

    One grouped statement for every distinct quota period (responses from the rollups,
    completed dossiers), returning a row per unit (and field, when a quota is limited to
    fields), summed up the unit tree here: a province's hundred wards answer as fast as
    one. (A join per quota made PostgreSQL walk the day rollups once per ward, several
    times slower.)
    """
    await plan_for_these_values(session)
    # Plain columns, not ORM objects: loading 200 objects cost more than the sums. The
    # quota's fields come in the same statement (a row per quota and field).
    stmt = (
        select(
            Quota.id,
            Quota.period_start,
            Quota.period_end,
            Quota.label,
            Quota.target_count,
            Quota.target_ratio,
            Unit.code.label("unit_code"),
            Unit.name.label("unit_name"),
            Unit.path.label("unit_path"),
            ProcedureField.id.label("field_id"),
            ProcedureField.name.label("field_name"),
        )
        .join(Unit, Unit.id == Quota.unit_id)
        .outerjoin(QuotaField, QuotaField.quota_id == Quota.id)
        .outerjoin(ProcedureField, ProcedureField.id == QuotaField.field_id)
        .where(
            Unit.path.startswith(root.path),
            Quota.period_start <= end,
            Quota.period_end >= start,
        )
        .order_by(Unit.path, Quota.period_start, Quota.id, ProcedureField.name)
    )
    quotas = []
    fields: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for row in (await session.exec(stmt)).all():
        if not quotas or quotas[-1].id != row.id:
            quotas.append(row)
        if row.field_id is not None:
            fields[row.id].append((row.field_id, row.field_name))
    if not quotas:
        return []

    by_period: dict[tuple[date, date], list] = defaultdict(list)
    for quota in quotas:
        by_period[(quota.period_start, quota.period_end)].append(quota)
    periods = list(by_period)  # usually one or two
    by_field = bool(fields)  # group by field only when some quota is limited to fields
    counts = await _period_counts(session, root, periods, tz, by_field)
    collected: dict[int, int] = {}
    channels: dict[int, dict[str, int]] = {}
    dossiers: dict[int, int] = {}
    for index, period in enumerate(periods):
        responses = counts.get((index, "r"), {})
        completed = counts.get((index, "d"), {})
        for quota in by_period[period]:
            allowed = {field_id for field_id, _name in fields[quota.id]} or None
            channels[quota.id] = _per_channel(responses, quota.unit_path, allowed)
            collected[quota.id] = sum(channels[quota.id].values())
            dossiers[quota.id] = _in_scope(completed, quota.unit_path, allowed)

    return [
        QuotaProgress(
            quota_id=quota.id,
            unit_code=quota.unit_code,
            unit_name=quota.unit_name,
            period_start=quota.period_start,
            period_end=quota.period_end,
            label=quota.label,
            fields=[name for _id, name in fields[quota.id]],
            target_count=quota.target_count,
            collected=collected.get(quota.id, 0),
            target_ratio=quota.target_ratio,
            dossiers=dossiers.get(quota.id, 0),
            channels=channels.get(quota.id, {}),
        )
        for quota in quotas
    ]


async def _period_counts(
    session, root: Unit, periods: list[tuple[date, date]], tz: ZoneInfo, by_field: bool
) -> dict[tuple[int, str], dict[str, dict[tuple, int]]]:
    """Responses (kind ``r``, per channel) and completed dossiers (kind ``d``) in each of
    ``periods``, per unit and (when ``by_field``) field, rolled up the unit tree: one
    statement for them all (a UNION ALL), since the round trips cost more than the sums.

    Responses over whole calendar years come from the year rollups, over whole months
    from the month rollups, the days before and after them from the day rollups."""
    parts = []
    for index, (first, last) in enumerate(periods):
        for table, period, a, b in channel_rollup_parts(first, last):
            field_col = table.field_id if by_field else literal(0, Integer)
            parts.append(
                select(
                    literal(index, Integer).label("period"),
                    literal("r", String).label("kind"),
                    Unit.path.label("path"),
                    field_col.label("field"),
                    table.channel.label("channel"),
                    func.sum(table.responses).label("n"),
                )
                .join(Unit, Unit.id == table.unit_id)
                .where(Unit.path.startswith(root.path), period.between(a, b))
                .group_by(
                    *(
                        [Unit.path, table.field_id, table.channel]
                        if by_field
                        else [Unit.path, table.channel]
                    )
                )
            )
        lo, hi = utc_bounds(first, last, tz)
        field_col = Procedure.field_id if by_field else literal(0, Integer)
        dossiers = (
            select(
                literal(index, Integer).label("period"),
                literal("d", String).label("kind"),
                Unit.path.label("path"),
                field_col.label("field"),
                literal("", String).label("channel"),
                func.count(Dossier.id).label("n"),
            )
            .join(Unit, Unit.id == Dossier.unit_id)
            .where(
                Unit.path.startswith(root.path),
                Dossier.completed_at >= lo,
                Dossier.completed_at < hi,
            )
        )
        if by_field:
            dossiers = dossiers.outerjoin(Procedure, Procedure.id == Dossier.procedure_id)
        parts.append(
            dossiers.group_by(*([Unit.path, Procedure.field_id] if by_field else [Unit.path]))
        )
    grouped: dict[tuple[int, str], list] = defaultdict(list)
    for index, kind, path, field_id, channel, n in (await session.exec(union_all(*parts))).all():
        key = (field_id, channel) if kind == "r" else (field_id,)
        grouped[(index, kind)].append((path, *key, n))
    return {group: _subtree_sums(rows) for group, rows in grouped.items()}


def _subtree_sums(rows) -> dict[str, dict[tuple, int]]:
    """Counts per (unit path, field[, channel]) rolled up to every ancestor path."""
    sums: dict[str, dict[tuple, int]] = defaultdict(lambda: defaultdict(int))
    for path, *key, n in rows:
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            sums["/" + "/".join(parts[:depth]) + "/"][tuple(key)] += int(n or 0)
    return sums


def _in_scope(sums: dict[str, dict[tuple, int]], path: str, allowed: set[int] | None) -> int:
    by_key = sums.get(path, {})
    return sum(n for key, n in by_key.items() if allowed is None or key[0] in allowed)


def _per_channel(
    sums: dict[str, dict[tuple, int]], path: str, allowed: set[int] | None
) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for (field_id, channel), n in sums.get(path, {}).items():
        if n and (allowed is None or field_id in allowed):
            counts[channel] += n
    return dict(counts)
