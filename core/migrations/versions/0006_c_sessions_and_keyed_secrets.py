"""sessions that can be ended, and keyed hashes for link and calendar secrets (issue 13)

Adds ``session_version`` to staff and tenants (raising it ends every session made before), and indexes for
the sign-in delays' counts of recent failures per account and per client address. Calendar feed
secrets were kept in plain text; they are now kept as a keyed hash, so the plain ones are cleared (each repair
team member makes a new link on their calendar page). Unused tenant sign-in links were kept as plain SHA-256:
they are voided (they last 30 minutes anyway).

Revision ID: 0006_c
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_c"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_action_actor_at", ["action", "actor", "at"], unique=False)
        batch_op.create_index("ix_audit_event_action_ip_at", ["action", "ip", "at"], unique=False)
    op.execute("UPDATE user_account SET calendar_token = NULL")
    op.execute("DELETE FROM tenant_login_token WHERE used_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_action_ip_at")
        batch_op.drop_index("ix_audit_event_action_actor_at")
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.drop_column("session_version")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("session_version")
