"""Tables of the in-person ways to collect phiếu (issue 13): counter tablets, assisted
interviews by a surveyor, and paper ballots typed in later.

Registered on the same metadata as ``storage.models`` (the package imports this module),
so migrations, tests and ``metadata.sorted_tables`` see them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

import storage.models.base  # noqa: F401  (first: its naming convention names our constraints)
from storage.types import UTCDateTime, utcnow


class KioskDevice(SQLModel, table=True):
    """A counter tablet paired to a unit. Only keyed hashes of its secrets are stored.

    ``pairing_hash`` is the one-time pairing link's code (spent when the tablet pairs);
    ``token_hash`` the device token the tablet keeps in a signed cookie. Revoking sets
    ``revoked_at``: every later request from the tablet gets the "not paired" page.
    """

    __tablename__ = "kiosk_device"
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    counter: str | None = Field(default=None, max_length=255)
    # Procedure ids offered in the optional picker (empty: no picker).
    procedures: list = Field(default_factory=list, sa_type=JSON)
    pairing_hash: str | None = Field(default=None, max_length=64, unique=True)
    pairing_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    paired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"default": utcnow}
    )


class ResponseOrigin(SQLModel, table=True):
    """Where an in-person response came from: the tablet, the surveyor who entered it, or
    the paper ballot (``ballot_key``: its ballot id, or the file's hash and row number, so
    importing the same file twice loads nothing twice)."""

    __tablename__ = "response_origin"
    response_id: int = Field(foreign_key="response.id", primary_key=True)
    device_id: int | None = Field(default=None, foreign_key="kiosk_device.id", index=True)
    surveyor_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    ballot_key: str | None = Field(default=None, max_length=128, unique=True)
