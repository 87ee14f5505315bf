"""The tables of ZNS (Zalo's template messages by phone number) and of the one-tap
answer links sent with them. Registered on the same metadata as ``storage.models``,
which imports this module last.

Phone numbers are never stored in clear: ``zns_phone`` holds a number encrypted under
the secret key, keyed by its keyed hash, only until its message is sent (officials'
numbers, given by an admin, stay); ``zns_suppressed`` keeps only hashes.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from storage.models.base import now_field, time_field
from storage.types import UTCDateTime


class ZnsPhone(SQLModel, table=True):
    """An encrypted phone number, looked up by its keyed hash (the outbox recipient)."""

    __tablename__ = "zns_phone"
    phone_hash: str = Field(primary_key=True, max_length=64)
    phone_enc: str = Field(sa_type=Text)
    # An official's number (kept); NULL: a citizen's, erased once nothing waits for it.
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    created_at: datetime = now_field()


class ZnsSuppressed(SQLModel, table=True):
    """A number ZNS cannot reach (no Zalo account, refuses ZNS): not tried again."""

    __tablename__ = "zns_suppressed"
    phone_hash: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=255)
    at: datetime = now_field()


class ZnsDay(SQLModel, table=True):
    """ZNS messages accepted by Zalo per local day (the daily cap and the spend)."""

    __tablename__ = "zns_day"
    day: date = Field(primary_key=True)
    sent: int = Field(default=0)
    capped: int = Field(default=0)  # messages held back by SIPAS_ZNS_DAILY_CAP


class ZnsRating(SQLModel, table=True):
    """A rating given in Zalo on a rating template, by webhook or by the rating list.

    ``msg_id`` is Zalo's message id: the same rating arriving twice is stored once.
    ``status``: counted (a response was recorded), unmatched (unknown tracking id),
    expired or used (the dossier's code had expired or was used already), invalid.
    """

    __tablename__ = "zns_rating"
    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(max_length=128, unique=True)
    tracking_id: str | None = Field(default=None, max_length=64)
    dossier_id: int | None = Field(default=None, foreign_key="dossier.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    response_id: int | None = Field(default=None, foreign_key="response.id")
    stars: int | None = Field(default=None)
    reasons: list = Field(default_factory=list, sa_type=JSON)
    note: str | None = Field(default=None, sa_type=Text)
    status: str = Field(max_length=16, index=True)
    source: str = Field(max_length=16)
    submitted_at: datetime | None = time_field()
    received_at: datetime = now_field()


class AnswerLink(SQLModel, table=True):
    """A signed, single-use web link answering one reminder (done / remind me later)."""

    __tablename__ = "answer_link"
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    created_at: datetime = now_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = time_field()
    action: str | None = Field(default=None, max_length=16)
