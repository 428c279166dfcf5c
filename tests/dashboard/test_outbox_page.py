"""The outbox page: failed and held messages where staff work, and sending failed ones again."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.model import AuditEvent
from core.model_alerts import OutboxMessage
from dashboard.extensions import EXTENSION_KEY
from dashboard.views.outbox import masked


def _database(app):
    return app.extensions[EXTENSION_KEY].database


@pytest.fixture
def outbox(app, staff):
    """Two failed messages, one held for quiet hours, one waiting to retry, one sent, one due now."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        ("f1", "failed", {"last_error": "550 mailbox unavailable", "attempts": 5}),
        ("f2", "failed", {"last_error": "Notify: 400 BadRequestError", "attempts": 1}),
        ("h1", "pending", {"not_before": now + dt.timedelta(hours=8)}),
        ("h2", "pending", {"attempts": 2, "next_attempt_at": now + dt.timedelta(minutes=20), "last_error": "timeout"}),
        ("s1", "sent", {"sent_at": now, "attempts": 1}),
        ("p1", "pending", {"next_attempt_at": now - dt.timedelta(minutes=1)}),
    ]
    ids = {}
    with _database(app).session() as session:
        for key, status, extra in rows:
            message = OutboxMessage(channel="email", recipient=f"{key}.tenant@example.org\nSam", message_type="risk_band",
                                    body="Your home", dedup_key=key, status=status, **extra)
            session.add(message)
            session.flush()
            ids[key] = message.id
    return ids


def test_lists_failed_and_held_only(outbox, client_request):
    """Failed messages with their error; held ones (quiet hours, waiting to retry); nothing else."""
    page = client_request.get("outbox.problems")
    failed = {int(tr["data-message-id"]) for tr in page.select("#failed tbody tr")}
    held = {int(tr["data-message-id"]) for tr in page.select("#held tbody tr")}
    assert failed == {outbox["f1"], outbox["f2"]}
    assert held == {outbox["h1"], outbox["h2"]}
    assert "550 mailbox unavailable" in page.select_one("#failed").text
    assert "f1.tenant@example.org" in page.select_one("#failed").text  # officers see the address


def test_admin_sees_addresses_masked(outbox, client_request, staff):
    """Admins run the service, not the tenancies: addresses are masked for them."""
    client_request.login(staff.admin)
    page = client_request.get("outbox.problems")
    assert "f1.tenant@example.org" not in page.text
    assert "f***@example.org" in page.select_one("#failed").text


def test_retry_one_queues_it_and_audits(outbox, client_request, app):
    """Send again: the message goes back to the queue with attempts reset, and the audit log says who."""
    client_request.post("outbox.retry_one", message_id=outbox["f1"])
    with _database(app).session() as session:
        row = session.get(OutboxMessage, outbox["f1"])
        assert (row.status, row.attempts) == ("pending", 0)
        assert session.get(OutboxMessage, outbox["f2"]).status == "failed"
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "outbox.retried" in actions
    page = client_request.get("outbox.problems")
    assert "will be sent again" in page.text


def test_retry_of_a_sent_message_changes_nothing(outbox, client_request, app):
    """Only failed messages can be sent again: a sent one stays sent (no double delivery)."""
    client_request.post("outbox.retry_one", message_id=outbox["s1"])
    with _database(app).session() as session:
        assert session.get(OutboxMessage, outbox["s1"]).status == "sent"
    client_request.post("outbox.retry_one", message_id=999_999, _expected_status=404)


def test_retry_all(outbox, client_request, app):
    """Send every failed message again."""
    client_request.post("outbox.retry_all")
    with _database(app).session() as session:
        statuses = dict(session.execute(select(OutboxMessage.dedup_key, OutboxMessage.status)).all())
    assert statuses == {"f1": "pending", "f2": "pending", "h1": "pending", "h2": "pending", "s1": "sent",
                        "p1": "pending"}


@pytest.mark.parametrize(("recipient", "expected"), [
    ("sam.jones@example.org", "s***@example.org"),
    ("07700900123", "0***123"),
    ("abc", "***"),
    ("", "***"),
])
def test_masked(recipient, expected):
    """Masking keeps the first character and the domain (or last three digits)."""
    assert masked(recipient) == expected
