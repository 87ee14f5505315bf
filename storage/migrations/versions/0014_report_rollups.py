"""answer rollups per month, response-per-channel rollups per year (faster reports)

Revision ID: 0014_report_rollups
Revises: 0013_operations
Create Date: 2026-12-02

Both are filled from the rollups that already exist (their days and months are local
already), so a deployed database has the same figures right after the upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_report_rollups"
down_revision: str | None = "0013_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("n1", "n2", "n3", "n4", "n5", "skipped")


def upgrade() -> None:
    op.create_table(
        "rollup_answer_month",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("item_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("element_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in LEVELS),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_rollup_answer_month_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint(
            "unit_id", "month", "item_code", name=op.f("pk_rollup_answer_month")
        ),
    )
    op.create_table(
        "rollup_channel_year",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Date(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_rollup_channel_year_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint(
            "unit_id", "year", "field_id", "channel", name=op.f("pk_rollup_channel_year")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        month = "CAST(date_trunc('month', day) AS date)"
        year = "CAST(date_trunc('year', month) AS date)"
    else:
        month = "date(day, 'start of month')"
        year = "date(month, 'start of year')"
    levels = ", ".join(LEVELS)
    sums = ", ".join(f"sum({c})" for c in LEVELS)
    op.execute(
        f"INSERT INTO rollup_answer_month (unit_id, month, item_code, element_code, {levels}) "
        f"SELECT unit_id, {month}, item_code, min(element_code), {sums} FROM rollup_answer "
        f"GROUP BY unit_id, {month}, item_code"
    )
    op.execute(
        "INSERT INTO rollup_channel_year (unit_id, year, field_id, channel, responses) "
        f"SELECT unit_id, {year}, field_id, channel, sum(responses) FROM rollup_channel_month "
        f"GROUP BY unit_id, {year}, field_id, channel"
    )


def downgrade() -> None:
    op.drop_table("rollup_channel_year")
    op.drop_table("rollup_answer_month")
