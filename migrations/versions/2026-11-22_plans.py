"""plans

Revision ID: b8c43096adec
Revises: 5a41d62d7d1f
Create Date: 2026-11-22 11:32:46.178432
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "b8c43096adec"
down_revision: str | None = "5a41d62d7d1f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The subscription tiers of the product; admins change the budgets later.
SEED = [
    ("free", 100, "Evaluation: 100 requests an hour."),
    ("basic", 500, "Small teams: 500 requests an hour."),
    ("premium", 2000, "Busy teams: 2,000 requests an hour."),
    ("enterprise", None, "No hourly limit."),
]


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("requests_per_hour", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_plans")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        plans,
        [
            {"name": name, "requests_per_hour": limit, "description": text, "updated_at": now}
            for name, limit, text in SEED
        ],
    )


def downgrade() -> None:
    op.drop_table("plans")
