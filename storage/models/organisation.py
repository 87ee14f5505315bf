"""Units (a tree of any depth), fields, procedures, dossiers."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.models.base import now_field, time_field
from storage.types import UTCDateTime


class Unit(SQLModel, table=True):
    """A node of the administrative tree: province, (legacy) district, ward, office, counter."""

    __tablename__ = "unit"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    kind: str = Field(max_length=32)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    # Materialised path of ids, "/1/7/42/": a subtree is one LIKE prefix.
    path: str = Field(default="", max_length=1024, index=True)
    questionnaire_code: str = Field(default="quick", max_length=64)
    legacy: bool = Field(default=False)
    created_at: datetime = now_field()


class ProcedureField(SQLModel, table=True):
    """A field of work (lĩnh vực) grouping procedures."""

    __tablename__ = "field"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)


class Procedure(SQLModel, table=True):
    """An administrative procedure (thủ tục hành chính)."""

    __tablename__ = "procedure"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=500)
    field_id: int | None = Field(default=None, foreign_key="field.id", index=True)


class Dossier(SQLModel, table=True):
    """A completed dossier (hồ sơ) handed back to a citizen."""

    __tablename__ = "dossier"
    id: int | None = Field(default=None, primary_key=True)
    receipt_code: str = Field(max_length=64, unique=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    procedure_id: int | None = Field(default=None, foreign_key="procedure.id")
    completed_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # Keyed hash of "channel:user id" when the e-system knew the citizen's chat id.
    citizen_hash: str | None = Field(default=None, max_length=64, index=True)
    invited_at: datetime | None = time_field()
    created_at: datetime = now_field()
