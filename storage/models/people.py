"""People and their channels, conversations, dedupe keys, the outbox, credentials, the audit log."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.models.base import now_field, time_field


class Person(SQLModel, table=True):
    """An official, leader or admin. Citizens are never persons: they stay pseudonymous."""

    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    role: str = Field(max_length=16)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    locale: str = Field(default="vi", max_length=8)
    preferred_channel: str | None = Field(default=None, max_length=16)
    registration_code_hash: str | None = Field(default=None, max_length=64, unique=True)
    registration_expires_at: datetime | None = time_field()
    active: bool = Field(default=True)
    created_at: datetime = now_field()


class PersonChannel(SQLModel, table=True):
    """A person's account on one channel (they may have several)."""

    __tablename__ = "person_channel"
    __table_args__ = (UniqueConstraint("channel", "user_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    channel: str = Field(max_length=16)
    channel_user_id: str = Field(max_length=128)
    user_hash: str = Field(max_length=64)
    linked_at: datetime = now_field()
    last_seen_at: datetime | None = time_field()
    unreachable_at: datetime | None = time_field()
    unreachable_reason: str | None = Field(default=None, max_length=255)


class Conversation(SQLModel, table=True):
    """Where one chat user is in which flow; the whole state is ``data``."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("channel", "user_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_hash: str = Field(max_length=64)
    data: dict = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = now_field()
    updated_at: datetime = now_field()


class InboundEvent(SQLModel, table=True):
    """Every processed inbound event, so a redelivery changes nothing."""

    __tablename__ = "inbound_event"
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        Index("ix_inbound_event_received_at", "received_at"),  # retention prunes by age
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    event_id: str = Field(max_length=128)
    received_at: datetime = now_field()


# Spelled out as SQL (not bound parameters) so SQLite's planner can match a query's
# ``status IN (...)`` with the partial indexes' condition; storage/outbox.py uses it.
OUTBOX_OPEN_SQL = "status IN ('pending', 'claimed', 'sending')"


OUTBOX_OPEN_WHERE = {
    "sqlite_where": text(OUTBOX_OPEN_SQL),
    "postgresql_where": text(OUTBOX_OPEN_SQL),
}


class Outbox(SQLModel, table=True):
    """A message waiting to be sent, being sent, sent, or dead (with the error kept)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_recipient", "channel", "recipient", "id"),
        # Partial indexes over the rows still to send (a few) rather than the sent ones
        # (ever more): the claim query stays as fast with 100k sent rows as with none.
        Index("ix_outbox_open", "channel", "id", **OUTBOX_OPEN_WHERE),
        Index("ix_outbox_open_recipient", "channel", "recipient", "id", **OUTBOX_OPEN_WHERE),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=128)
    payload: dict = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    not_before: datetime = now_field()
    claimed_until: datetime | None = time_field()
    created_at: datetime = now_field()
    sent_at: datetime | None = time_field()
    last_error: str | None = Field(default=None, sa_type=Text)
    # Makes "send this once" hold across retries of whatever enqueues it (reminders).
    dedupe_key: str | None = Field(default=None, max_length=128, unique=True)
    provider_message_id: str | None = Field(default=None, max_length=128)
    # The process holding the claim (App.instance_id): its rows are released as soon as
    # another process sees it is gone (storage/instances.py).
    claimed_by: str | None = Field(default=None, max_length=32)


class OutboxTally(SQLModel, table=True):
    """How many sent outbox rows retention removed, per day and channel (counts survive)."""

    __tablename__ = "outbox_tally"
    day: date = Field(primary_key=True)
    channel: str = Field(primary_key=True, max_length=16)
    sent: int = Field(default=0)


class Credential(SQLModel, table=True):
    """Channel credentials that change at run time (Zalo's refreshed token pair)."""

    __tablename__ = "credential"
    name: str = Field(primary_key=True, max_length=64)
    data: dict = Field(default_factory=dict, sa_type=JSON)
    updated_at: datetime = now_field()


class AuditLog(SQLModel, table=True):
    """Who did what: admin commands (allowed or refused), imports, registrations."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = now_field(index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=255)
    detail: dict = Field(default_factory=dict, sa_type=JSON)
