"""The alerts box's tables in the app database (alarms, rule state, the outbox, tenant sign-in links).

Kept on ``core.model.Base`` so one Alembic history covers the whole schema.
"""

from __future__ import annotations
