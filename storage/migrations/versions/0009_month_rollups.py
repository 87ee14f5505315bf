"""response rollups per month (quotas over long periods)

Revision ID: 0009_month_rollups
Revises: 0008_outbox
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_month_rollups"
down_revision: str | None = "0008_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollup_response_month",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_rollup_response_month_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint(
            "unit_id", "month", "field_id", name=op.f("pk_rollup_response_month")
        ),
    )
    # Filled from the day rollups that already exist.
    if op.get_bind().dialect.name == "postgresql":
        month = "CAST(date_trunc('month', day) AS date)"
    else:
        month = "date(day, 'start of month')"
    op.execute(
        "INSERT INTO rollup_response_month (unit_id, month, field_id, responses) "
        f"SELECT unit_id, {month}, field_id, sum(responses) FROM rollup_response "
        f"GROUP BY unit_id, {month}, field_id"
    )


def downgrade() -> None:
    op.drop_table("rollup_response_month")
