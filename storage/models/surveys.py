"""Survey codes, questionnaires, responses and answers, feedback, quotas."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import now_field, time_field


class SurveyInvite(SQLModel, table=True):
    """A survey code. Only its keyed hash is stored.

    ``kind`` is ``dossier`` (single use, bound to the first respondent who opens it) or
    ``counter`` (printed at a counter, reusable, one response per respondent and day).
    """

    __tablename__ = "survey_invite"
    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    dossier_id: int | None = Field(default=None, foreign_key="dossier.id", index=True)
    procedure_id: int | None = Field(default=None, foreign_key="procedure.id")
    label: str | None = Field(default=None, max_length=255)
    created_at: datetime = now_field()
    expires_at: datetime | None = time_field()
    claimed_by: str | None = Field(default=None, max_length=64)
    used_at: datetime | None = time_field()
    # Intake: the code itself, encrypted with the secret key, for invites issued through
    # the integration API, so a replay of the same receipt returns the same code. Lookups
    # never use it: they go through ``code_hash``.
    code_enc: str | None = Field(default=None, sa_type=Text)


class Questionnaire(SQLModel, table=True):
    """A questionnaire definition, versioned; responses point at the version they used."""

    __tablename__ = "questionnaire"
    __table_args__ = (UniqueConstraint("code", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64)
    version: int
    title: str = Field(max_length=255)
    definition: dict = Field(default_factory=dict, sa_type=JSON)
    loaded_at: datetime = now_field()


class Response(SQLModel, table=True):
    """One citizen's survey; its answers are in ``answer``."""

    __tablename__ = "response"
    __table_args__ = (
        # Counter codes: one response per respondent, unit and local day (counter_day is
        # NULL for dossier codes, and NULLs never collide).
        UniqueConstraint("respondent_hash", "unit_id", "counter_day"),
        Index("ix_response_unit_completed", "unit_id", "completed_at"),
        Index("ix_response_status_completed", "status", "completed_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=32, unique=True)
    unit_id: int = Field(foreign_key="unit.id")
    procedure_id: int | None = Field(default=None, foreign_key="procedure.id")
    dossier_id: int | None = Field(default=None, foreign_key="dossier.id")
    invite_id: int | None = Field(default=None, foreign_key="survey_invite.id", index=True)
    questionnaire_id: int = Field(foreign_key="questionnaire.id")
    channel: str = Field(max_length=16)
    respondent_hash: str = Field(max_length=64, index=True)
    status: str = Field(default="in_progress", max_length=16)
    started_at: datetime = now_field()
    completed_at: datetime | None = time_field()
    counter_day: str | None = Field(default=None, max_length=10)
    comment: str | None = Field(default=None, sa_type=Text)
    # Suspected stuffing: kept and shown to admins, left out of figures until cleared.
    flagged_at: datetime | None = time_field()
    flag_reason: str | None = Field(default=None, max_length=255)


class Answer(SQLModel, table=True):
    """One answer: ``value`` on the item's scale (1–5 for satisfaction), NULL when skipped.

    Only ``scale = 'satisfaction'`` answers count towards percentages.
    """

    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("response_id", "item_code"),)
    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id")
    item_code: str = Field(max_length=32)
    element_code: str = Field(max_length=32)
    scale: str = Field(default="satisfaction", max_length=32)
    value: int | None = Field(default=None)
    answered_at: datetime = now_field()


class Feedback(SQLModel, table=True):
    """What went wrong after a negative rating, and whether the citizen wants a call back."""

    __tablename__ = "feedback"
    id: int | None = Field(default=None, primary_key=True)
    response_id: int | None = Field(default=None, foreign_key="response.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    item_code: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=64)
    text: str | None = Field(default=None, sa_type=Text)
    wants_contact: bool = Field(default=False)
    contact_channel: str | None = Field(default=None, max_length=16)
    # The citizen's chat id, encrypted, kept only when they asked to be contacted.
    contact_ref_enc: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default="open", max_length=16)
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = now_field()
    notified_at: datetime | None = time_field()
    handled_at: datetime | None = time_field()
    handled_by: int | None = Field(default=None, foreign_key="person.id")
    handled_note: str | None = Field(default=None, sa_type=Text)


class Quota(SQLModel, table=True):
    """How many questionnaires a unit (subtree) must collect in a period.

    Optional fields restrict which procedures count; ``target_ratio`` is the share of
    completed dossiers to survey (0.15 for 15 %), when the province scores that.
    """

    __tablename__ = "quota"
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    period_start: date
    period_end: date
    target_count: int
    target_ratio: float | None = Field(default=None)
    label: str | None = Field(default=None, max_length=255)
    created_at: datetime = now_field()


class QuotaField(SQLModel, table=True):
    """The fields a quota is restricted to (none: every procedure counts)."""

    __tablename__ = "quota_field"
    quota_id: int = Field(foreign_key="quota.id", primary_key=True)
    field_id: int = Field(foreign_key="field.id", primary_key=True)
