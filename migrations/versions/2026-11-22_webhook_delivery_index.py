"""webhook delivery index

Revision ID: 9fda26ced4de
Revises: 738ae7cd4418
Create Date: 2026-11-22 12:44:18.553838
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9fda26ced4de"
down_revision: str | None = "738ae7cd4418"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_project_received", ["project_id", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_project_received")
