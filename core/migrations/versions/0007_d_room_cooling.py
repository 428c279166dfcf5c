"""room cooling per day, for the heat-loss index of each room (issue 14)

Adds ``hours_cooling`` and ``sum_cooling_rate_per_h`` to ``room_day`` (``analytics.features.DAY_FIELDS``).
Rows kept from before have no value (NULL) and count as no cooling hours; the next ``dampwatch score --full``
fills them in.

Revision ID: 0007_d
Revises: 0006_c
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_d"
down_revision = "0006_c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("room_day", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hours_cooling", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sum_cooling_rate_per_h", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("room_day", schema=None) as batch_op:
        batch_op.drop_column("sum_cooling_rate_per_h")
        batch_op.drop_column("hours_cooling")
