"""responses per channel (rollups), the source of shipped holiday overrides

Revision ID: 0012_channels_known_days
Revises: 0011_inperson
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_channels_known_days"
down_revision: str | None = "0011_inperson"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled by `sipas-bot db upgrade` (rollups.missing sees them empty and rebuilds),
    # because the local day of a response depends on SIPAS_TIMEZONE.
    for table, key in (("rollup_channel", "day"), ("rollup_channel_month", "month")):
        op.create_table(
            table,
            sa.Column("unit_id", sa.Integer(), nullable=False),
            sa.Column(key, sa.Date(), nullable=False),
            sa.Column("field_id", sa.Integer(), nullable=False),
            sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("responses", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["unit_id"], ["unit.id"], name=op.f(f"fk_{table}_unit_id_unit")
            ),
            sa.PrimaryKeyConstraint(
                "unit_id", key, "field_id", "channel", name=op.f(f"pk_{table}")
            ),
        )
    with op.batch_alter_table("holiday_override") as batch:
        batch.add_column(
            sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("holiday_override") as batch:
        batch.drop_column("source")
    op.drop_table("rollup_channel_month")
    op.drop_table("rollup_channel")
