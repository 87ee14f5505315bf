"""dossier rollups per day, month and year (the quota's dossier counts)

Revision ID: 0015_dossier_rollups
Revises: 0014_report_rollups
Create Date: 2026-12-03

Empty here: a dossier's local day depends on SIPAS_TIMEZONE, which a migration does not
know. ``sipas-bot db upgrade`` sees dossiers without rollups (``storage.rollups.missing``)
and rebuilds every rollup from the raw rows right after migrating.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_dossier_rollups"
down_revision: str | None = "0014_report_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    ("rollup_dossier", "day"),
    ("rollup_dossier_month", "month"),
    ("rollup_dossier_year", "year"),
)


def upgrade() -> None:
    for table, period in TABLES:
        op.create_table(
            table,
            sa.Column("unit_id", sa.Integer(), nullable=False),
            sa.Column(period, sa.Date(), nullable=False),
            sa.Column("field_id", sa.Integer(), nullable=False),
            sa.Column("dossiers", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["unit_id"], ["unit.id"], name=op.f(f"fk_{table}_unit_id_unit")
            ),
            sa.PrimaryKeyConstraint("unit_id", period, "field_id", name=op.f(f"pk_{table}")),
        )


def downgrade() -> None:
    for table, _period in reversed(TABLES):
        op.drop_table(table)
