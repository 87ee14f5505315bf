"""Derived tables, rebuilt from the raw answers (storage.rollups.rebuild), and live alerts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class RollupAnswer(SQLModel, table=True):
    """Satisfaction answers of completed, unflagged responses per unit, local day and item."""

    __tablename__ = "rollup_answer"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    day: date = Field(primary_key=True)
    item_code: str = Field(max_length=32, primary_key=True)
    element_code: str = Field(max_length=32)
    n1: int = Field(default=0)
    n2: int = Field(default=0)
    n3: int = Field(default=0)
    n4: int = Field(default=0)
    n5: int = Field(default=0)
    skipped: int = Field(default=0)


class RollupAnswerMonth(SQLModel, table=True):
    """The same answer counts per local calendar month (``month``: its first day), so a
    report over a year sums 12 rows per unit and item instead of 365."""

    __tablename__ = "rollup_answer_month"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    month: date = Field(primary_key=True)
    item_code: str = Field(max_length=32, primary_key=True)
    element_code: str = Field(max_length=32)
    n1: int = Field(default=0)
    n2: int = Field(default=0)
    n3: int = Field(default=0)
    n4: int = Field(default=0)
    n5: int = Field(default=0)
    skipped: int = Field(default=0)


class RollupResponse(SQLModel, table=True):
    """Completed, unflagged responses per unit, local day and field (0: no field known)."""

    __tablename__ = "rollup_response"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    day: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    responses: int = Field(default=0)


class RollupResponseMonth(SQLModel, table=True):
    """The same counts per local calendar month (``month``: its first day), so a quota
    over a year sums 12 rows per unit instead of 365."""

    __tablename__ = "rollup_response_month"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    month: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    responses: int = Field(default=0)


class RollupChannel(SQLModel, table=True):
    """Completed, unflagged responses per unit, local day, field (0: none) and channel
    (telegram, zalo, zns, web, kiosk, assisted, paper…): what quotas count, per channel."""

    __tablename__ = "rollup_channel"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    day: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    channel: str = Field(max_length=16, primary_key=True)
    responses: int = Field(default=0)


class RollupChannelMonth(SQLModel, table=True):
    """The same counts per local calendar month (``month``: its first day)."""

    __tablename__ = "rollup_channel_month"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    month: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    channel: str = Field(max_length=16, primary_key=True)
    responses: int = Field(default=0)


class RollupChannelYear(SQLModel, table=True):
    """The same counts per local calendar year (``year``: its 1 January): a year's quota
    or report reads one row per unit, field and channel instead of twelve."""

    __tablename__ = "rollup_channel_year"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    year: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    channel: str = Field(max_length=16, primary_key=True)
    responses: int = Field(default=0)


class RollupDossier(SQLModel, table=True):
    """Completed dossiers per unit, local day (of ``completed_at``) and field (0: none
    known): the denominator of a quota's surveyed share, without reading years of raw
    dossiers. Dossiers are only ever added, so these only grow (``storage.rollups``)."""

    __tablename__ = "rollup_dossier"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    day: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    dossiers: int = Field(default=0)


class RollupDossierMonth(SQLModel, table=True):
    """The same counts per local calendar month (``month``: its first day)."""

    __tablename__ = "rollup_dossier_month"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    month: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    dossiers: int = Field(default=0)


class RollupDossierYear(SQLModel, table=True):
    """The same counts per local calendar year (``year``: its 1 January)."""

    __tablename__ = "rollup_dossier_year"
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    year: date = Field(primary_key=True)
    field_id: int = Field(default=0, primary_key=True)
    dossiers: int = Field(default=0)


class Alert(SQLModel, table=True):
    """One row per alert kind and scope, so a burst is reported once.

    ``scope`` is ``unit:<id>``, ``counter:<invite id>`` or ``respondent:<hash>``. A burst
    goes on while its condition keeps holding within the window after ``last_seen_at``;
    a new ``started_at`` means a new burst (and a new message).
    """

    __tablename__ = "alert"
    __table_args__ = (UniqueConstraint("kind", "scope"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # "negative" | "stuffing"
    scope: str = Field(max_length=64)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    started_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    hits: int = Field(default=1)
