"""operations: the claiming process of outbox rows, retention by age, pruned-row counts

Revision ID: 0013_operations
Revises: 0012_channels_known_days
Create Date: 2026-12-01

- outbox.claimed_by: the process that claimed a row, so a restarted process can
  release the rows of one that was killed instead of waiting for their lease;
- an index on inbound_event.received_at: retention deletes dedupe keys by age;
- outbox_tally: how many sent rows retention removed, per day and channel.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_operations"
down_revision: str | None = "0012_channels_known_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=True))
    op.create_index("ix_inbound_event_received_at", "inbound_event", ["received_at"])
    op.create_table(
        "outbox_tally",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel", name=op.f("pk_outbox_tally")),
    )


def downgrade() -> None:
    op.drop_table("outbox_tally")
    op.drop_index("ix_inbound_event_received_at", table_name="inbound_event")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_by")
