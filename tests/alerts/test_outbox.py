"""The outbox and its worker over a real SMTP server: retries with backoff, nothing lost, nothing sent twice."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from alerts.channels import build_senders
from alerts.outbox import DeliveryError, RetryPolicy, claim, deliver_due, enqueue, recover_stale, retry
from core.cases import open_case
from core.model import CaseEvent
from core.model_alerts import OutboxMessage
from tests.alerts.conftest import MONDAY, UPRN, add_home, smtp_settings

FAST = RetryPolicy(max_attempts=4, base_s=30, max_s=120, claim_timeout_s=600)


def queue_emails(database, count: int, *, uprn: str | None = None, tenant_id: int | None = None) -> list[int]:
    with database.session() as session:
        ids = []
        for i in range(count):
            message, created = enqueue(session, channel="email", recipient=f"tenant{i}@example.org",
                                       message_type="ventilation", subject=f"Message {i}", body=f"Hello {i}",
                                       dedup_key=f"test:{i}", uprn=uprn, tenant_id=tenant_id, now=MONDAY)
            assert created
            ids.append(message.id)
        return ids


def statuses(database) -> dict[int, tuple[str, int]]:
    with database.session() as session:
        return {m.id: (m.status, m.attempts) for m in session.scalars(select(OutboxMessage))}


def test_the_same_dedup_key_never_makes_two_messages(database):
    """Enqueueing the same event twice returns the first message and adds nothing."""
    with database.session() as session:
        first, created = enqueue(session, channel="email", recipient="a@example.org", message_type="x", body="1",
                                 dedup_key="same")
        second, created_again = enqueue(session, channel="email", recipient="b@example.org", message_type="x",
                                        body="2", dedup_key="same")
        assert created and not created_again and second.id == first.id
        assert session.scalars(select(OutboxMessage)).all() == [first]


def test_delivers_through_a_real_smtp_server(home_db, smtp_server, alert_settings):
    """Pending emails arrive at the SMTP server with subject, sender, recipient and body; marked sent."""
    ids = queue_emails(home_db, 3)
    report = deliver_due(home_db, build_senders(smtp_settings(alert_settings, smtp_server)), FAST, now=MONDAY)
    assert report.sent == 3
    assert sorted(r["to"][0] for r in smtp_server.received) == [f"tenant{i}@example.org" for i in range(3)]
    first = next(r for r in smtp_server.received if r["to"] == ["tenant0@example.org"])
    assert first["message"]["Subject"] == "Message 0"
    assert first["message"]["From"] == "DampWatch <alerts@example.org>"
    assert first["message"].get_content().strip() == "Hello 0"
    assert f"outbox-{ids[0]}" in first["message"]["Message-ID"]
    with home_db.session() as session:
        sent = session.get(OutboxMessage, ids[0])
        assert sent.status == "sent" and sent.sent_at == MONDAY and sent.provider_reference == first["message"]["Message-ID"]


def test_server_down_then_up_loses_nothing_and_sends_nothing_twice(home_db, smtp_server, alert_settings):
    """With the server down messages wait and back off; when it returns each arrives exactly once."""
    senders = build_senders(smtp_settings(alert_settings, smtp_server))
    ids = queue_emails(home_db, 5)
    smtp_server.stop()
    report = deliver_due(home_db, senders, FAST, now=MONDAY)
    assert (report.sent, report.retrying) == (0, 5)
    with home_db.session() as session:
        row = session.get(OutboxMessage, ids[0])
        assert row.next_attempt_at == MONDAY + dt.timedelta(seconds=30)
        assert "Connection refused" in row.last_error or "SMTP" in row.last_error
    # Not due yet: nothing is tried. Then the second failure doubles the wait.
    assert not deliver_due(home_db, senders, FAST, now=MONDAY + dt.timedelta(seconds=29))
    deliver_due(home_db, senders, FAST, now=MONDAY + dt.timedelta(seconds=31))
    with home_db.session() as session:
        assert session.get(OutboxMessage, ids[0]).next_attempt_at == MONDAY + dt.timedelta(seconds=31 + 60)
    smtp_server.start()  # the server is back
    later = MONDAY + dt.timedelta(minutes=10)
    report = deliver_due(home_db, senders, FAST, now=later)
    assert report.sent == 5
    assert not deliver_due(home_db, senders, FAST, now=later + dt.timedelta(hours=1))  # nothing left to send
    received = sorted(r["to"][0] for r in smtp_server.received)
    assert received == sorted(f"tenant{i}@example.org" for i in range(5))  # each exactly once
    assert {status for status, _ in statuses(home_db).values()} == {"sent"}


def test_after_the_last_attempt_a_message_is_failed_and_can_be_retried(home_db, smtp_server, alert_settings):
    """Four failed attempts make it 'failed' (visible to staff); 'retry' queues it again and it is sent."""
    senders = build_senders(smtp_settings(alert_settings, smtp_server))
    (message_id,) = queue_emails(home_db, 1)
    smtp_server.stop()
    now = MONDAY
    for _ in range(4):
        deliver_due(home_db, senders, FAST, now=now)
        now += dt.timedelta(minutes=5)
    assert statuses(home_db)[message_id] == ("failed", 4)
    smtp_server.start()
    assert not deliver_due(home_db, senders, FAST, now=now)  # failed messages are not retried by themselves
    with home_db.session() as session:
        assert retry(session, [message_id], now=now) == 1
    assert deliver_due(home_db, senders, FAST, now=now).sent == 1
    assert len(smtp_server.received) == 1


def test_an_address_the_server_refuses_fails_at_once(home_db, smtp_server, alert_settings):
    """A permanent refusal is not retried: the message is failed after one attempt, with the reason."""

    class Refusing:
        def send(self, message):
            raise DeliveryError("550 no such mailbox", permanent=True)

    (message_id,) = queue_emails(home_db, 1)
    report = deliver_due(home_db, {"email": Refusing()}, FAST, now=MONDAY)
    assert report.failed == 1
    assert statuses(home_db)[message_id] == ("failed", 1)


def test_only_one_of_two_workers_can_claim_a_message(database):
    """Two workers racing for the same row: the database lets exactly one claim it."""
    (message_id,) = queue_emails(database, 1)
    results = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        with database.session() as session:
            barrier.wait()
            results.append(claim(session, message_id, MONDAY, name))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]


def test_a_message_left_sending_by_a_crashed_worker_is_reported_never_resent(home_db, smtp_server, alert_settings):
    """Claimed then crashed: after the claim timeout it is failed with an explanation, and not sent again."""
    (message_id,) = queue_emails(home_db, 1)
    with home_db.session() as session:
        assert claim(session, message_id, MONDAY, "crashed-worker")
    senders = build_senders(smtp_settings(alert_settings, smtp_server))
    assert not deliver_due(home_db, senders, FAST, now=MONDAY + dt.timedelta(minutes=5))
    report = deliver_due(home_db, senders, FAST, now=MONDAY + dt.timedelta(minutes=11))
    assert report.recovered == 1 and report.sent == 0
    with home_db.session() as session:
        row = session.get(OutboxMessage, message_id)
        assert row.status == "failed" and "may or may not have reached the recipient" in row.last_error
        assert recover_stale(session, FAST, MONDAY + dt.timedelta(hours=1)) == 0
    assert smtp_server.received == []


def test_quiet_hours_hold_a_message_until_they_end(home_db, smtp_server, alert_settings):
    """A message with not_before in the future waits; it goes out once that time has passed."""
    with home_db.session() as session:
        enqueue(session, channel="email", recipient="a@example.org", message_type="x", body="later",
                dedup_key="quiet", not_before=MONDAY + dt.timedelta(hours=2))
    senders = build_senders(smtp_settings(alert_settings, smtp_server))
    assert not deliver_due(home_db, senders, FAST, now=MONDAY + dt.timedelta(hours=1))
    assert deliver_due(home_db, senders, FAST, now=MONDAY + dt.timedelta(hours=2)).sent == 1


def test_a_channel_that_is_not_configured_keeps_its_messages_waiting(home_db, alert_settings):
    """With no SMTP server set, emails stay pending (no attempts used up) until one is configured."""
    (message_id,) = queue_emails(home_db, 1)
    senders = build_senders(alert_settings)
    assert "email" not in senders
    assert not deliver_due(home_db, senders, FAST, now=MONDAY)
    assert statuses(home_db)[message_id] == ("pending", 0)


def test_a_message_sent_to_a_tenant_goes_on_the_case_timeline(home_db, smtp_server, alert_settings):
    """Once sent, a tenant's message is a 'message_to_tenant' entry of the home's open case."""
    with home_db.session() as session:
        case = open_case(session, uprn=UPRN, aware_at=MONDAY, source="tenant_report", actor="officer@example.org")
        case_id = case.id
        tenant_id = add_home(session, "100000000009").tenants[0].id
    queue_emails(home_db, 1, uprn=UPRN, tenant_id=tenant_id)
    deliver_due(home_db, build_senders(smtp_settings(alert_settings, smtp_server)), FAST, now=MONDAY)
    with home_db.session() as session:
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                         CaseEvent.kind == "message_to_tenant")).all()
        assert len(events) == 1
        assert events[0].detail["body"] == "Hello 0" and events[0].at == MONDAY
        assert session.scalars(select(OutboxMessage)).one().case_id == case_id


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (4, 120), (10, 120)])
def test_backoff_doubles_up_to_its_cap(attempts, seconds):
    """The wait after the n-th failure is base · 2^(n−1), never more than the cap."""
    assert FAST.delay(attempts) == dt.timedelta(seconds=seconds)
