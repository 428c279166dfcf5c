"""Bugs planted in an audit that the tests let through, each now a test that fails on it; and the outbox times.

* who hears what: channel × consent × quiet hours (winter and summer time, and the night the clocks change)
  × rate limit, as one table of expected outcomes written by hand;
* a real SMTP server that refuses an address: the message fails once, it is not retried twelve times;
* ``sent_at`` is when each message went (not the start of the pass), a retry time is never in the past, and
  ``outbox list`` shows the whole error with how to retry.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from alerts.channels import build_senders
from alerts.messages import notify_tenants
from alerts.outbox import DeliveryError, RetryPolicy, deliver_due, enqueue
from core.db import Database
from core.model_alerts import OutboxMessage
from dampwatch.cli import Context
from tests.alerts.conftest import UPRN, add_home, free_port

UTC = dt.UTC


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# channel, consent, now (UTC), an earlier message of the type this many days before (None: none),
# → status, reason words (or None), not_before (UTC) or None.   Quiet hours 21:00-08:00 Europe/London.
WHO_HEARS_WHAT = [
    # winter (GMT = UTC)
    ("sms", True, "2026-01-14 12:00", None, "pending", None, None),
    ("sms", True, "2026-01-14 22:30", None, "pending", None, "2026-01-15 08:00"),
    ("email", True, "2026-01-14 07:59", None, "pending", None, "2026-01-14 08:00"),
    ("email", True, "2026-01-14 08:00", None, "pending", None, None),
    ("email", True, "2026-01-14 21:00", None, "pending", None, "2026-01-15 08:00"),
    ("email", True, "2026-01-14 20:59", None, "pending", None, None),
    # summer (BST = UTC+1): 20:30 UTC is 21:30 in London, inside the quiet hours
    ("sms", True, "2026-07-15 19:30", None, "pending", None, None),
    ("sms", True, "2026-07-15 20:30", None, "pending", None, "2026-07-16 07:00"),
    ("email", True, "2026-07-15 06:30", None, "pending", None, "2026-07-15 07:00"),
    ("email", True, "2026-07-15 07:00", None, "pending", None, None),
    # the night the clocks go forward (29 March 2026, 01:00 UTC): quiet from 21:00 GMT to 08:00 BST
    ("sms", True, "2026-03-28 21:30", None, "pending", None, "2026-03-29 07:00"),
    # ... and back (25 October 2026, 01:00 UTC): quiet from 21:00 BST to 08:00 GMT
    ("sms", True, "2026-10-24 20:30", None, "pending", None, "2026-10-25 08:00"),
    # letters are posted: quiet hours do not apply, consent does
    ("letter", True, "2026-01-14 23:00", None, "pending", None, None),
    ("letter", False, "2026-01-14 12:00", None, "suppressed", "no consent", None),
    # no consent, or no messages wanted
    ("sms", False, "2026-01-14 12:00", None, "suppressed", "no consent", None),
    ("email", False, "2026-01-14 22:30", None, "suppressed", "no consent", None),
    ("none", True, "2026-01-14 12:00", None, "suppressed", "asked for no messages", None),
    # rate limit: one message of a type per home in 3 days
    ("email", True, "2026-01-14 12:00", 1, "suppressed", "rate limit", None),
    ("email", True, "2026-01-14 12:00", 2.9, "suppressed", "rate limit", None),
    ("email", True, "2026-01-14 12:00", 3.1, "pending", None, None),
    ("sms", True, "2026-01-14 22:30", 1, "suppressed", "rate limit", None),
]


@pytest.mark.parametrize(("channel", "consent", "now", "earlier_days", "status", "reason", "not_before"),
                         WHO_HEARS_WHAT)
def test_who_hears_what_and_when(tmp_path, alert_settings, channel, consent, now, earlier_days, status, reason,
                                 not_before):
    """Each row of the hand-written table: the outbox row's status, its reason and when it may be sent."""
    settings = alert_settings.model_copy(update={"alerts_quiet_hours": "21:00-08:00", "alerts_rate_limit_days": 3.0})
    database = Database(f"sqlite:///{tmp_path}/who.db")
    moment = _utc(now)
    try:
        with database.session() as session:
            home = add_home(session, tenants=[{"preferred_channel": channel, "consent": consent}])
            if earlier_days is not None:
                session.add(OutboxMessage(channel="email", recipient="sam@example.org", message_type="ventilation",
                                          body="earlier", dedup_key="earlier|alarm:0", status="sent",
                                          tenant_id=home.tenants[0].id, uprn=UPRN,
                                          created_at=moment - dt.timedelta(days=earlier_days)))
                session.flush()
            [message] = notify_tenants(session, settings, uprn=UPRN, message_type="ventilation",
                                       event_key="alarm:1", now=moment)
            assert message.status == status
            assert (reason is None and message.reason is None) or (reason and reason in (message.reason or ""))
            assert message.not_before == (_utc(not_before) if not_before else None)
    finally:
        database.dispose()


# -- a real SMTP server that refuses an address ---------------------------------------------------------------


class RefusingSmtp:
    """aiosmtpd on a free port that answers 550 to one address and accepts the rest."""

    def __init__(self, refused: str) -> None:
        from aiosmtpd.controller import Controller

        self.received: list[str] = []
        self.rcpt_attempts: list[str] = []
        outer = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                outer.rcpt_attempts.append(address)
                if address == refused:
                    return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                outer.received.extend(envelope.rcpt_tos)
                outer.messages.append(envelope.content.decode("utf-8", "replace"))
                return "250 Message accepted"

        self.messages: list[str] = []
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> RefusingSmtp:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def test_an_address_a_real_smtp_server_refuses_fails_once_and_is_not_retried(tmp_path, alert_settings, caplog):
    """550 from the server: the message is failed after one attempt with the server's words; others are sent.
    The log says so without the tenant's address (the outbox row keeps it for staff)."""
    database = Database(f"sqlite:///{tmp_path}/smtp.db")
    try:
        with RefusingSmtp("gone@example.org") as server:
            settings = alert_settings.model_copy(update={
                "smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_starttls": False, "smtp_timeout_s": 30.0})
            with database.session() as session:
                for key, address in (("a", "gone@example.org"), ("b", "here@example.org")):
                    enqueue(session, channel="email", recipient=address, message_type="ventilation", body="Hello",
                            dedup_key=key)
            senders = build_senders(settings)
            policy = RetryPolicy(max_attempts=12, base_s=0.001, max_s=0.001)
            caplog.set_level("INFO", logger="alerts.outbox")
            for _ in range(5):  # passes of the worker: a retried refusal would show here
                deliver_due(database, senders, policy, now=dt.datetime.now(UTC) + dt.timedelta(hours=1))
            with database.session() as session:
                rows = {m.recipient: m for m in session.scalars(select(OutboxMessage))}
                assert (rows["gone@example.org"].status, rows["gone@example.org"].attempts) == ("failed", 1)
                assert "gone@example.org" in rows["gone@example.org"].last_error
                assert rows["here@example.org"].status == "sent"
            assert server.rcpt_attempts.count("gone@example.org") == 1
            assert "failed after 1 attempt" in caplog.text and "gone@example.org" not in caplog.text
            assert server.received == ["here@example.org"]
    finally:
        database.dispose()


# -- the outbox's times (issue 18, item 5) ------------------------------------------------------------------------


class SlowChannel:
    """Takes ``seconds`` per message, like a slow SMTP server; refuses addresses starting with 'retry'."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def send(self, message):
        time.sleep(self.seconds)
        if message.recipient.startswith("retry"):
            raise DeliveryError("451 try again later")
        return f"ref-{message.id}"


def test_sent_at_is_when_each_message_went_and_retry_times_are_in_the_future(tmp_path, caplog):
    """Three messages at 0.3 s each: sent_at steps by ~0.3 s from the pass's start; the retry is after it failed."""
    database = Database(f"sqlite:///{tmp_path}/times.db")
    try:
        with database.session() as session:
            for index, address in enumerate(["a@example.org", "b@example.org", "c@example.org", "retry@example.org"]):
                enqueue(session, channel="email", recipient=address, message_type="ventilation", body="Hello",
                        dedup_key=f"k{index}", now=dt.datetime.now(UTC) - dt.timedelta(minutes=1))
        policy = RetryPolicy(max_attempts=3, base_s=0.05, max_s=0.05)
        started = dt.datetime.now(UTC)
        with caplog.at_level("INFO", logger="alerts.outbox"):
            deliver_due(database, {"email": SlowChannel(0.3)}, policy)
        with database.session() as session:
            rows = {m.recipient: m for m in session.scalars(select(OutboxMessage))}
        sent = [rows[a].sent_at for a in ("a@example.org", "b@example.org", "c@example.org")]
        assert sent[0] - started >= dt.timedelta(seconds=0.3)
        assert sent[1] - sent[0] >= dt.timedelta(seconds=0.25) and sent[2] - sent[1] >= dt.timedelta(seconds=0.25)
        retry_at = rows["retry@example.org"].next_attempt_at
        assert retry_at >= started + dt.timedelta(seconds=4 * 0.3)  # after its own failed attempt, not the pass
        [line] = [r.getMessage() for r in caplog.records if "retrying at" in r.getMessage()]
        logged = dt.datetime.fromisoformat(re.search(r"retrying at (\S+):", line).group(1))
        assert logged >= started + dt.timedelta(seconds=1.2)
    finally:
        database.dispose()


def test_outbox_list_shows_the_whole_error_and_how_to_retry(alert_settings):
    """A long error is shown whole, its retry instruction included, on a narrow terminal too."""
    from dampwatch.commands_alerts import outbox

    context = Context(alert_settings)
    long_error = ("delivery was interrupted (worker host-a:12345 stopped while sending at 2026-01-12T10:00:00+00:00); "
                  "it may or may not have reached the recipient: check, then 'dampwatch outbox retry 1' to send it "
                  "again [bold]not markup[/bold]")
    try:
        with context.database.session() as session:
            session.add(OutboxMessage(channel="email", recipient="a@example.org", message_type="ventilation",
                                      body="x", dedup_key="k", status="failed", attempts=1, last_error=long_error))
            session.add(OutboxMessage(channel="email", recipient="b@example.org", message_type="ventilation",
                                      body="x", dedup_key="k2", status="failed", attempts=12,
                                      last_error="the SMTP server refused b@example.org"))
        result = CliRunner().invoke(outbox, ["list"], obj=context, catch_exceptions=False,
                                    env={"COLUMNS": "100"})
        flat = " ".join(result.output.replace("│", " ").split())
        assert "'dampwatch outbox retry 1' to send it again" in flat.replace(" '", " '")
        assert "[bold]not markup[/bold]" in flat
        assert "dampwatch outbox retry 2" in flat
    finally:
        context.close()
