"""Messages that did not go: the outbox's failed and held messages, with a button to send them again.

Until now these were visible only with ``dampwatch outbox list``; an officer who promised a tenant a letter,
or an admin whose mail server refused a batch, needs to see them where they work. A failed message is sent
again only when a person asks (``alerts.outbox.retry``: back to the queue with its attempts reset, the
outbox worker sends it); a held one (quiet hours, or waiting for its next try) needs nothing but time.
Admins see the addresses masked: they run the service, not the tenancies.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import and_, func, or_, select

from alerts.outbox import retry
from core.model_alerts import OutboxMessage
from dashboard.auth import audit, roles_required
from dashboard.extensions import get_database

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

OUTBOX_ROLES = ("officer", "manager", "admin")
NAV_ITEMS = [("Outbox", "outbox.problems", OUTBOX_ROLES)]
#: Rows of each list shown (newest first); the counts say how many there are in all.
PAGE_SIZE = 200


def masked(recipient: str) -> str:
    """An address with its personal part hidden: ``j***@example.org``, ``+44 7*** ***123``."""
    first = (recipient or "").splitlines()[0] if recipient else ""
    if "@" in first:
        local, _, domain = first.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if len(first) > 4:
        return f"{first[:1]}***{first[-3:]}"
    return "***"


def _held_condition(now: dt.datetime):
    return and_(OutboxMessage.status == "pending",
                or_(OutboxMessage.not_before > now,
                    and_(OutboxMessage.attempts > 0, OutboxMessage.next_attempt_at > now)))


@bp.route("/")
@roles_required(*OUTBOX_ROLES)
def problems():
    """Failed messages (with their last error and a retry button) and held ones (with when they go)."""
    now = dt.datetime.now(dt.UTC)
    with get_database().session() as session:
        failed_total = session.scalar(select(func.count()).where(OutboxMessage.status == "failed"))
        held_total = session.scalar(select(func.count()).select_from(OutboxMessage).where(_held_condition(now)))
        order = (OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        failed = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")
                                 .order_by(*order).limit(PAGE_SIZE)).all()
        held = session.scalars(select(OutboxMessage).where(_held_condition(now)).order_by(*order)
                               .limit(PAGE_SIZE)).all()
        show = (lambda r: masked(r)) if current_user.role == "admin" else (lambda r: (r or "").splitlines()[0]
                                                                           if r else "")
        return render_template("outbox/problems.html", failed=failed, held=held, failed_total=failed_total,
                               held_total=held_total, page_size=PAGE_SIZE, recipient=show,
                               messages=get_flashed_messages(with_categories=True))


@bp.route("/<int:message_id>/retry", methods=["POST"])
@roles_required(*OUTBOX_ROLES)
def retry_one(message_id: int):
    """Queue one failed message to be sent again."""
    now = dt.datetime.now(dt.UTC)
    with get_database().session() as session:
        if session.get(OutboxMessage, message_id) is None:
            abort(404)
        count = retry(session, [message_id], now=now)
        if count:
            audit(session, "outbox.retried", "outbox_message", message_id)
    if count:
        flash(f"Message {message_id} will be sent again by the outbox worker.", "success")
    else:
        flash(f"Message {message_id} has not failed, so there is nothing to send again.", "info")
    return redirect(url_for("outbox.problems"))


@bp.route("/retry-failed", methods=["POST"])
@roles_required(*OUTBOX_ROLES)
def retry_all():
    """Queue every failed message to be sent again."""
    now = dt.datetime.now(dt.UTC)
    with get_database().session() as session:
        count = retry(session, failed=True, now=now)
        if count:
            audit(session, "outbox.retried_all", "outbox_message", None, count=count)
    flash(f"{count} failed message{'' if count == 1 else 's'} will be sent again." if count
          else "No message has failed.", "success" if count else "info")
    return redirect(url_for("outbox.problems"))
