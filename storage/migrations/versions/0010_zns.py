"""ZNS: encrypted phone numbers until sent, suppressions, daily counts, ratings, and
the one-tap answer links of ZNS reminders

Revision ID: 0010_zns
Revises: 0009_month_rollups
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0010_zns"
down_revision: str | None = "0009_month_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zns_phone",
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("phone_enc", sa.Text(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_zns_phone_person_id_person")
        ),
        sa.PrimaryKeyConstraint("phone_hash", name=op.f("pk_zns_phone")),
    )
    op.create_index(op.f("ix_zns_phone_person_id"), "zns_phone", ["person_id"])
    op.create_table(
        "zns_suppressed",
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_hash", name=op.f("pk_zns_suppressed")),
    )
    op.create_table(
        "zns_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("capped", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_zns_day")),
    )
    op.create_table(
        "zns_rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msg_id", sa.String(length=128), nullable=False),
        sa.Column("tracking_id", sa.String(length=64), nullable=True),
        sa.Column("dossier_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossier.id"], name=op.f("fk_zns_rating_dossier_id_dossier")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_zns_rating_unit_id_unit")),
        sa.ForeignKeyConstraint(
            ["response_id"], ["response.id"], name=op.f("fk_zns_rating_response_id_response")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zns_rating")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_zns_rating_msg_id")),
    )
    op.create_index(op.f("ix_zns_rating_status"), "zns_rating", ["status"])
    op.create_table(
        "answer_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_answer_link_assignment_id_assignment"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_answer_link_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_link")),
    )
    op.create_index(op.f("ix_answer_link_assignment_id"), "answer_link", ["assignment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_answer_link_assignment_id"), table_name="answer_link")
    op.drop_table("answer_link")
    op.drop_index(op.f("ix_zns_rating_status"), table_name="zns_rating")
    op.drop_table("zns_rating")
    op.drop_table("zns_day")
    op.drop_table("zns_suppressed")
    op.drop_index(op.f("ix_zns_phone_person_id"), table_name="zns_phone")
    op.drop_table("zns_phone")
