"""in-person phiếu: counter tablets (kiosk), surveyors, paper ballots

Revision ID: 0011_inperson
Revises: 0010_zns
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision: str = "0011_inperson"
down_revision: str | None = "0010_zns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kiosk_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("counter", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("procedures", sa.JSON(), nullable=False),
        sa.Column("pairing_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("pairing_expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("paired_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_kiosk_device_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_device")),
        sa.UniqueConstraint("pairing_hash", name=op.f("uq_kiosk_device_pairing_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_kiosk_device_token_hash")),
    )
    op.create_index(op.f("ix_kiosk_device_unit_id"), "kiosk_device", ["unit_id"])
    op.create_table(
        "response_origin",
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("surveyor_id", sa.Integer(), nullable=True),
        sa.Column("ballot_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["response_id"], ["response.id"], name=op.f("fk_response_origin_response_id_response")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["kiosk_device.id"],
            name=op.f("fk_response_origin_device_id_kiosk_device"),
        ),
        sa.ForeignKeyConstraint(
            ["surveyor_id"], ["person.id"], name=op.f("fk_response_origin_surveyor_id_person")
        ),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_response_origin")),
        sa.UniqueConstraint("ballot_key", name=op.f("uq_response_origin_ballot_key")),
    )
    op.create_index(op.f("ix_response_origin_device_id"), "response_origin", ["device_id"])
    op.create_index(op.f("ix_response_origin_surveyor_id"), "response_origin", ["surveyor_id"])


def downgrade() -> None:
    op.drop_table("response_origin")
    op.drop_table("kiosk_device")
