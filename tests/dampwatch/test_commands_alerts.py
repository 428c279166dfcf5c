"""The alerts commands: alerts run, outbox deliver/list/retry, tenants import, the digest."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.model import Tenant
from core.model_alerts import Alarm, OutboxMessage
from dampwatch.cli import Context
from dampwatch.commands_alerts import COMMANDS, alerts, outbox, tenants
from tests.alerts.conftest import UPRN, add_home, set_health, smtp_settings

TENANTS_CSV = """uprn,name,email,phone,channel,language,consent,consent_date,quiet_hours_start,quiet_hours_end
100000000001,Sam Jones,sam@example.org,,email,en,yes,2026-01-02,,
100000000001,Alex Jones,,+44 7700 900456,sms,cy,yes,,22:00,07:00
100000000001,Chris Jones,,,letter,en,no,,,
999999,Pat Smith,pat@example.org,,email,en,yes,,,
100000000001,Jo Bloggs,not-an-email,,email,en,yes,,,
100000000001,Kim Lee,,0113 496 0000,sms,en,yes,,,
100000000001,Ash Green,ash@example.org,,pigeon,en,yes,,,
100000000001,Lee Park,lee@example.org,,email,en,maybe,,,
100000000001,Ray Hill,ray@example.org,,email,pl,yes,,21:00,
"""


@pytest.fixture
def context(alert_settings):
    ctx = Context(alert_settings)
    with ctx.database.session() as session:
        add_home(session, tenants=[])
    yield ctx
    ctx.close()


def run(command, args, context):
    return CliRunner().invoke(command, args, obj=context, catch_exceptions=False)


def test_the_module_offers_its_commands_for_registration():
    """COMMANDS lists the groups cli.py adds with main.add_command."""
    assert [c.name for c in COMMANDS] == ["alerts", "outbox", "tenants"]


def test_tenants_import_reports_bad_rows_with_line_numbers_and_keeps_good_ones(context, tmp_path):
    """Valid rows are imported; each invalid row is reported with its line and reason."""
    path = tmp_path / "tenants.csv"
    path.write_text(TENANTS_CSV)
    result = run(tenants, ["import", str(path)], context)
    assert result.exit_code == 0, result.output
    assert "imported 3 of 9 rows: 3 new tenants" in result.output
    for expected in ("line 5: UPRN 999999 is not in the asset register",
                     "line 6: email 'not-an-email' is not valid",
                     "line 7: phone '0113 496 0000' is not a UK mobile number",
                     "line 8: channel 'pigeon' is not one of: sms, email, letter, none",
                     "line 9: consent must be yes or no, not 'maybe'",
                     "line 10: give both quiet_hours_start and quiet_hours_end, or neither"):
        assert expected in result.output
    with context.database.session() as session:
        people = {t.name: t for t in session.scalars(select(Tenant))}
        assert set(people) == {"Sam Jones", "Alex Jones", "Chris Jones"}
        assert people["Alex Jones"].phone == "07700900456" and people["Alex Jones"].language == "cy"
        assert people["Alex Jones"].quiet_hours_start == "22:00"
        assert people["Sam Jones"].consent_at == dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC)
        assert people["Chris Jones"].consent is False and people["Chris Jones"].consent_at is None
    # Importing again updates rather than duplicates.
    path.write_text(TENANTS_CSV.replace("Sam Jones,sam@example.org,,email", "sam jones,sam@example.org,,none"))
    result = run(tenants, ["import", str(path)], context)
    assert "0 new tenants, 1 updated, 2 unchanged" in result.output
    with context.database.session() as session:
        assert len(session.scalars(select(Tenant)).all()) == 3


def test_alerts_run_then_outbox_deliver_over_smtp(context, smtp_server, alert_settings):
    """'alerts run' raises a silent-sensor alarm and queues the tenant's message; 'outbox deliver' sends it."""
    now = dt.datetime.now(dt.UTC)
    with context.database.session() as session:
        session.add(Tenant(uprn=UPRN, name="Sam Jones", email="sam@example.org", preferred_channel="email",
                           consent=True, quiet_hours_start="00:00", quiet_hours_end="00:00"))
        for device in ("bathroom", "kitchen", "bedroom"):
            set_health(session, f"dev-{UPRN}-{device}", last_seen=now if device != "kitchen" else
                       now - dt.timedelta(hours=30))
    result = run(alerts, ["run"], context)
    assert result.exit_code == 0, result.output
    assert "1 alarms raised" in result.output and "1 tenant messages queued" in result.output
    context.settings = smtp_settings(alert_settings, smtp_server)
    result = run(outbox, ["deliver"], context)
    assert "1 sent" in result.output, result.output
    (received,) = [r for r in smtp_server.received if r["to"] == ["sam@example.org"]]
    assert "The sensor in the kitchen has not sent any readings" in received["message"].get_content()
    result = run(outbox, ["list"], context)
    assert "sensor_silent" in result.output and "1 sent" in result.output
    with context.database.session() as session:
        assert session.scalars(select(Alarm)).one().rule == "sensor_silent"


def test_outbox_retry_and_list_failed(context):
    """A failed message shows in 'outbox list --status failed'; 'outbox retry ID' queues it again."""
    with context.database.session() as session:
        session.add(OutboxMessage(channel="email", recipient="a@example.org", message_type="x", body="b",
                                  dedup_key="k", status="failed", attempts=12, last_error="connection refused"))
    result = run(outbox, ["list", "--status", "failed"], context)
    assert "connection refused" in result.output
    assert "give message ids" in CliRunner().invoke(outbox, ["retry"], obj=context).output
    result = run(outbox, ["retry", "--failed"], context)
    assert "1 message(s) queued again" in result.output
    with context.database.session() as session:
        assert session.scalars(select(OutboxMessage)).one().status == "pending"


def test_alerts_digest_needs_recipients_and_sends_once_a_day(context, alert_settings):
    """'alerts digest --force' queues one digest per address per day."""
    result = run(alerts, ["digest", "--force"], context)
    assert "queued the digest for duty@example.org" in result.output
    result = run(alerts, ["digest", "--force"], context)
    assert "no digest queued" in result.output
    context.settings = alert_settings.model_copy(update={"alerts_digest_to": ""})
    result = CliRunner().invoke(alerts, ["digest"], obj=context)
    assert result.exit_code != 0 and "DAMPWATCH_ALERTS_DIGEST_TO is empty" in result.output


def test_alerts_run_every_keeps_running_until_sigterm(tmp_path, alert_settings):
    """The long-running loop evaluates at once, then waits; SIGTERM stops it cleanly (exit 0)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from core.db import Database
    from core.model_alerts import AlarmRuleState

    url = f"sqlite:///{tmp_path}/loop.db"
    database = Database(url)
    with database.session() as session:
        add_home(session, tenants=[])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMPWATCH_")}
    env.update(DAMPWATCH_DATABASE_URL=url, DAMPWATCH_VAR_DIR=str(tmp_path), DAMPWATCH_LOG_LEVEL="INFO",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2]), env.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-c", "from dampwatch.cli import main; main()", "alerts", "run",
                                "--every", "60"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with database.session() as session:
                if session.scalars(select(AlarmRuleState)).first() is not None:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the loop did not evaluate the rules within 30 s")
        assert process.poll() is None  # still running, waiting for the next pass
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        database.dispose()


def test_the_delivery_worker_runs_until_sigterm(tmp_path, smtp_server):
    """'outbox deliver --forever' sends what is queued, keeps polling, and stops cleanly on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from alerts.outbox import enqueue
    from core.db import Database

    url = f"sqlite:///{tmp_path}/worker.db"
    database = Database(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMPWATCH_")}
    env.update(DAMPWATCH_DATABASE_URL=url, DAMPWATCH_VAR_DIR=str(tmp_path), DAMPWATCH_SMTP_HOST="127.0.0.1",
               DAMPWATCH_SMTP_PORT=str(smtp_server.port), DAMPWATCH_SMTP_STARTTLS="false",
               DAMPWATCH_OUTBOX_POLL_S="0.2",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2]), env.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-c", "from dampwatch.cli import main; main()", "outbox", "deliver",
                                "--forever"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        with database.session() as session:  # queued while the worker is already running
            enqueue(session, channel="email", recipient="sam@example.org", message_type="x", subject="Hello",
                    body="Sent by the worker", dedup_key="worker-1")
        deadline = time.monotonic() + 30
        while not smtp_server.received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [r["to"] for r in smtp_server.received] == [["sam@example.org"]]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        database.dispose()
    assert len(smtp_server.received) == 1
