"""work item sort indexes

Revision ID: 738ae7cd4418
Revises: 37a1b9c71418
Create Date: 2026-11-22 12:17:44.945507
"""

from collections.abc import Sequence

from alembic import op

revision: str = "738ae7cd4418"
down_revision: str | None = "37a1b9c71418"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_items_project_assignee"))
        batch_op.create_index(
            "ix_work_items_project_assignee",
            ["project_id", "assignee_id", "created_at"],
            unique=False,
        )
        batch_op.create_index("ix_work_items_project_done", ["project_id", "done_at"], unique=False)
        batch_op.create_index("ix_work_items_project_title", ["project_id", "title"], unique=False)
        batch_op.create_index(
            "ix_work_items_project_updated", ["project_id", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_project_updated")
        batch_op.drop_index("ix_work_items_project_title")
        batch_op.drop_index("ix_work_items_project_done")
        batch_op.drop_index("ix_work_items_project_assignee")
        batch_op.create_index(
            batch_op.f("ix_work_items_project_assignee"),
            ["project_id", "assignee_id"],
            unique=False,
        )
