"""Quota progress: questionnaires collected against the targets of a period (249/300), per
unit, field and channel, from the day, month and year rollups."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, bindparam, func, literal, select, union_all
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    ProcedureField,
    Quota,
    QuotaField,
    Unit,
)
from storage.rollup_periods import channel_rollup_parts, dossier_rollup_parts
from storage.sql import built_once, planning_later_queries_for_their_values


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
    times slower.) Both statements are built once per shape and run on the connection:
    building them and the ORM's result handling cost more than the sums.
    """
    conn = await session.connection()
    prefix = {"prefix": root.path + "%"}
    quotas: list[tuple] = []  # (id, start, end, label, target, ratio, code, name, path)
    fields: dict[int, list[tuple[int, str]]] = {}
    # The counts below are planned for their values (storage.sql.plan_for_these_values),
    # set by this first statement: one round trip fewer.
    found = await conn.execute(_quota_list(session), {**prefix, "start": start, "end": end})
    for *quota, field_id, field_name in found.all():  # plain tuples: rows' names cost more
        if not quotas or quotas[-1][0] != quota[0]:
            quotas.append(tuple(quota))
        if field_id is not None:
            fields.setdefault(quota[0], []).append((field_id, field_name))
    if not quotas:
        return []

    # usually one or two distinct periods
    periods = list(dict.fromkeys((q_start, q_end) for _id, q_start, q_end, *_rest in quotas))
    by_field = bool(fields)  # group by field only when some quota is limited to fields
    paths = {quota[8] for quota in quotas}
    counts = await _period_counts(conn, prefix, periods, paths, by_field)
    index_of = {period: index for index, period in enumerate(periods)}
    progress = []
    for quota_id, q_start, q_end, label, target, ratio, code, name, path in quotas:
        index = index_of[(q_start, q_end)]
        limited = fields.get(quota_id, [])
        allowed = {field_id for field_id, _name in limited} or None
        channels = _per_channel(counts.get((index, "r"), {}).get(path, {}), allowed)
        progress.append(
            QuotaProgress(
                quota_id=quota_id,
                unit_code=code,
                unit_name=name,
                period_start=q_start,
                period_end=q_end,
                label=label,
                fields=[field_name for _id, field_name in limited],
                target_count=target,
                collected=sum(channels.values()),
                target_ratio=ratio,
                dossiers=_in_scope(counts.get((index, "d"), {}).get(path, {}), allowed),
                channels=channels,
            )
        )
    return progress


@built_once
def _quota_list(session: AsyncSession):
    """The quotas of a subtree (``prefix``: its path and ``%``) overlapping ``start``–
    ``end``, a row per quota and field (plain columns: ORM objects cost more than the sums)."""
    unit, quota = Unit.__table__, Quota.__table__
    quota_field, field_ = QuotaField.__table__, ProcedureField.__table__
    stmt = (
        select(
            quota.c.id,
            quota.c.period_start,
            quota.c.period_end,
            quota.c.label,
            quota.c.target_count,
            quota.c.target_ratio,
            unit.c.code.label("unit_code"),
            unit.c.name.label("unit_name"),
            unit.c.path.label("unit_path"),
            field_.c.id.label("field_id"),
            field_.c.name.label("field_name"),
        )
        .join(unit, unit.c.id == quota.c.unit_id)
        .outerjoin(quota_field, quota_field.c.quota_id == quota.c.id)
        .outerjoin(field_, field_.c.id == quota_field.c.field_id)
        .where(
            unit.c.path.like(bindparam("prefix")),
            quota.c.period_start <= bindparam("end"),
            quota.c.period_end >= bindparam("start"),
        )
        .order_by(unit.c.path, quota.c.period_start, quota.c.id, field_.c.name)
    )
    return planning_later_queries_for_their_values(session, stmt)


async def _period_counts(
    conn,
    prefix: dict,
    periods: list[tuple[date, date]],
    paths: set[str],
    by_field: bool,
) -> dict[tuple[int, str], dict[str, dict[tuple, int]]]:
    """Responses (kind ``r``, per channel) and completed dossiers (kind ``d``) in each of
    ``periods``, per unit and (when ``by_field``) field, summed for each of ``paths``
    over its subtree: one statement for them all (a UNION ALL), since the round trips
    cost more than the sums.

    Both come from rollups (responses per channel, dossiers): over whole calendar years
    from the year rollups, over whole months from the month rollups, the days before and
    after them from the day rollups. (Dossiers were counted from their own table until
    0015: after three years of a province's dossiers that took seconds.)"""
    params = dict(prefix)
    shape = []
    for index, (first, last) in enumerate(periods):
        kinds = []
        for kind, parts in (
            ("r", channel_rollup_parts(first, last)),
            ("d", dossier_rollup_parts(first, last)),
        ):
            tables = []
            for part, (table, column, a, b) in enumerate(parts):
                tables.append((table.__table__, column.key))
                params[f"{kind}a{index}_{part}"], params[f"{kind}b{index}_{part}"] = a, b
            kinds.append(tuple(tables))
        shape.append(tuple(kinds))
    grouped: dict[tuple[int, str], dict[str, dict[tuple, int]]] = {}
    ancestors: dict[str, list[str]] = {}
    result = await conn.execute(_counts_statement(tuple(shape), by_field), params)
    for index, kind, path, field_id, channel, n in result.all():
        within = ancestors.get(path)
        if within is None:
            within = ancestors[path] = _paths_above(path, paths)
        key = (field_id, channel) if kind == "r" else (field_id,)
        by_path = grouped.setdefault((index, kind), {})
        for p in within:
            sums = by_path.setdefault(p, {})
            sums[key] = sums.get(key, 0) + int(n or 0)
    return grouped


@lru_cache(maxsize=64)
def _counts_statement(shape: tuple[tuple, ...], by_field: bool):
    """The UNION ALL behind ``_period_counts`` for periods read from ``shape`` (each
    period's response and dossier rollup tables and period columns, in
    ``channel_rollup_parts`` and ``dossier_rollup_parts`` order), with bound dates."""
    unit = Unit.__table__
    in_subtree = unit.c.path.like(bindparam("prefix"))
    parts = []
    for index, kinds in enumerate(shape):
        for kind, tables in zip(("r", "d"), kinds, strict=True):
            for part, (table, period_column) in enumerate(tables):
                period = table.c[period_column]
                field_col = table.c.field_id if by_field else literal(0, Integer)
                keys = [unit.c.path, table.c.field_id] if by_field else [unit.c.path]
                if kind == "r":
                    channel, counted = table.c.channel, table.c.responses
                    keys.append(table.c.channel)
                else:
                    channel, counted = literal("", String), table.c.dossiers
                lo, hi = bindparam(f"{kind}a{index}_{part}"), bindparam(f"{kind}b{index}_{part}")
                parts.append(
                    select(
                        literal(index, Integer).label("period"),
                        literal(kind, String).label("kind"),
                        unit.c.path.label("path"),
                        field_col.label("field"),
                        channel.label("channel"),
                        func.sum(counted).label("n"),
                    )
                    .join(unit, unit.c.id == table.c.unit_id)
                    .where(in_subtree, period.between(lo, hi))
                    .group_by(*keys)
                )
    return union_all(*parts)


def _paths_above(path: str, paths: set[str]) -> list[str]:
    """Those of ``paths`` at or above the unit at ``path`` (its ancestors and itself)."""
    steps = path.strip("/").split("/")
    above = ("/" + "/".join(steps[:depth]) + "/" for depth in range(1, len(steps) + 1))
    return [p for p in above if p in paths]


def _in_scope(sums: dict[tuple, int], allowed: set[int] | None) -> int:
    return sum(n for key, n in sums.items() if allowed is None or key[0] in allowed)


def _per_channel(sums: dict[tuple, int], allowed: set[int] | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (field_id, channel), n in sums.items():
        if n and (allowed is None or field_id in allowed):
            counts[channel] = counts.get(channel, 0) + n
    return counts
