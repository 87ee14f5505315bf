"""intake: recoverable (encrypted) survey codes for dossiers registered over the API

Revision ID: 0004_intake
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_intake"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey_invite", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("survey_invite", schema=None) as batch_op:
        batch_op.drop_column("code_enc")
