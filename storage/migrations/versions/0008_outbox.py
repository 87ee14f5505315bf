"""outbox: partial indexes over the rows still to send

Revision ID: 0008_outbox
Revises: 0002_reminders
Create Date: 2026-11-26

The claim query looks only at pending, claimed and sending rows; with these partial
indexes its cost follows how many rows are still to send, not how many were ever sent.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_outbox'
down_revision: str | None = '0002_reminders'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same text as storage.models.OUTBOX_OPEN_SQL (copied: a migration must not change
# when the models do).
OPEN = "status IN ('pending', 'claimed', 'sending')"


def upgrade() -> None:
    where = {"sqlite_where": sa.text(OPEN), "postgresql_where": sa.text(OPEN)}
    op.create_index('ix_outbox_open', 'outbox', ['channel', 'id'], **where)
    op.create_index('ix_outbox_open_recipient', 'outbox', ['channel', 'recipient', 'id'], **where)


def downgrade() -> None:
    op.drop_index('ix_outbox_open_recipient', table_name='outbox')
    op.drop_index('ix_outbox_open', table_name='outbox')
