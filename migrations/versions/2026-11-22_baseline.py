"""baseline: an empty schema that later revisions build on

Revision ID: 0b5e1f0c2a11
Revises:
Create Date: 2026-11-22 11:40:00
"""

from collections.abc import Sequence

revision: str = "0b5e1f0c2a11"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
