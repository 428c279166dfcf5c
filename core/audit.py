"""The audit log: one call records who did what to which object, in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.model import AuditEvent


def record(
    session: Session,
    actor: str,
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    *,
    user_id: int | None = None,
    ip: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event (committed with the caller's transaction) and return it.

    ``actor`` is the person's email, ``tenant:<id>``, ``system`` or a command name; ``action`` is a dotted
    verb such as ``case.opened``; ``detail`` keeps whatever explains the change (JSON-serialisable values).
    """
    event = AuditEvent(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        user_id=user_id,
        ip=ip,
        detail=detail,
    )
    session.add(event)
    return event
