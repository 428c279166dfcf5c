"""Subject access (``tenants export``), erasure (``tenants erase``) and ``retention run``, through the commands."""

from __future__ import annotations

import datetime as dt
import json
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from core.cases import add_case_event, close_case, open_case
from core.model import AuditEvent, Case, CaseEvent, DeadLetter, Tenant
from core.model_alerts import OutboxMessage
from dampwatch.cli import Context
from dampwatch.commands_alerts import tenants
from dampwatch.commands_privacy import COMMANDS, retention
from tests.alerts.conftest import OTHER_UPRN, UPRN, add_home

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def context(alert_settings):
    """Home A (tenant Sam, sam@example.org, who reported mould and got a message) and home B (tenant Bo)."""
    ctx = Context(alert_settings)
    with ctx.database.session() as session:
        add_home(session, UPRN)
        add_home(session, OTHER_UPRN, tenants=[{"name": "Bo Other", "email": "bo@example.org",
                                                "phone": "07700900999"}])
        sam = session.scalar(select(Tenant).where(Tenant.uprn == UPRN))
        case = open_case(session, uprn=UPRN, aware_at=NOW - dt.timedelta(days=40), source="tenant_report",
                         actor=f"tenant:{sam.id}", summary="My son's asthma is worse; black mould by the bed")
        add_case_event(session, case, "tenant_report", f"tenant:{sam.id}", "It is back in the bedroom",
                       at=NOW - dt.timedelta(days=39))
        session.add(OutboxMessage(channel="email", recipient="sam@example.org", tenant_id=sam.id, uprn=UPRN,
                                  message_type="ventilation", body="Dear Sam, open the trickle vents",
                                  dedup_key="t1", status="sent", sent_at=NOW - dt.timedelta(days=38),
                                  created_at=NOW - dt.timedelta(days=38)))
        other = session.scalar(select(Tenant).where(Tenant.uprn == OTHER_UPRN))
        session.add(OutboxMessage(channel="email", recipient="bo@example.org", tenant_id=other.id,
                                  uprn=OTHER_UPRN, message_type="ventilation", body="Dear Bo", dedup_key="t2",
                                  status="sent", created_at=NOW))
    yield ctx
    ctx.close()


def run(command, args, context, **kwargs):
    return CliRunner().invoke(command, args, obj=context, catch_exceptions=False, **kwargs)


def test_the_module_offers_retention_for_registration():
    """COMMANDS lists the retention group (tenants export/erase join the alerts' tenants group)."""
    assert [c.name for c in COMMANDS] == ["retention"]
    assert {"import", "export", "erase"} <= set(tenants.commands)


@pytest.mark.parametrize("who", [UPRN, "SAM@example.org", "07700 900123"])
def test_export_holds_everything_about_the_household_and_nothing_of_another(context, tmp_path, who):
    """The pack has the tenant, their messages, the case with their own words, and audit entries; it is 0600."""
    path = tmp_path / "pack.json"
    result = run(tenants, ["export", who, "-o", str(path)], context)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pack = json.loads(path.read_text())
    assert pack["home"]["uprn"] == UPRN
    assert [t["email"] for t in pack["tenants"]] == ["sam@example.org"]
    assert [m["body"] for m in pack["messages"]] == ["Dear Sam, open the trickle vents"]
    [case] = pack["cases"]
    assert "asthma" in case["summary"]
    assert [r["text"] for r in pack["tenant_reports"]] == ["It is back in the bedroom"]
    assert any(e["action"] == "case.opened" for e in pack["audit_entries"])
    text = path.read_text()
    assert "bo@example.org" not in text and "Bo Other" not in text and "Dear Bo" not in text
    with context.database.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "tenant.subject_access")) == 1


@pytest.mark.parametrize(("who", "words"), [("nobody@example.org", "No tenant has this"),
                                             ("999", "no home with UPRN"),
                                             ("'; DROP TABLE tenant; --", "Give a UPRN")])
def test_export_of_no_one_says_what_to_give(context, who, words):
    """An unknown contact or UPRN is a clear error, not an empty pack."""
    result = CliRunner().invoke(tenants, ["export", who], obj=context)
    assert result.exit_code == 1 and words in result.output


def test_erasure_keeps_an_open_case_and_the_contact_the_law_needs(context):
    """With a case open, the case and the tenant's contact stay (Awaab's Law), the report says why; it is audited."""
    result = run(tenants, ["erase", UPRN, "--yes"], context)
    assert result.exit_code == 0, result.output
    assert "kept: case" in result.output and "Awaab's Law" in result.output
    with context.database.session() as session:
        sam = session.scalar(select(Tenant).where(Tenant.uprn == UPRN))
        assert sam.email == "sam@example.org"
        assert "asthma" in session.scalar(select(Case.summary).where(Case.uprn == UPRN))
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "tenant.erased")).all()
        assert "sam@example.org" not in json.dumps(event.detail) and event.actor == "dampwatch tenants erase"


def test_erasure_after_the_case_closes_pseudonymises_the_rest(context):
    """Once the case is closed: name, contacts, consent, message text and the tenant's words are gone."""
    with context.database.session() as session:
        close_case(session, session.scalar(select(Case).where(Case.uprn == UPRN)), actor="officer@example.org",
                   reason="Mould treated, extractor fitted")
    dry = run(tenants, ["erase", "sam@example.org", "--dry-run"], context)
    assert "would erase 1 tenant(s)" in dry.output
    with context.database.session() as session:
        assert session.scalar(select(Tenant.email).where(Tenant.uprn == UPRN)) == "sam@example.org"
    result = run(tenants, ["erase", "sam@example.org"], context, input="y\n")
    assert result.exit_code == 0, result.output
    with context.database.session() as session:
        sam = session.scalar(select(Tenant).where(Tenant.uprn == UPRN))
        assert (sam.name, sam.email, sam.phone, sam.consent, sam.preferred_channel) == (
            f"Erased tenant {sam.id}", None, None, False, "none")
        everything = " ".join(
            [m.recipient + m.body for m in session.scalars(select(OutboxMessage).where(OutboxMessage.uprn == UPRN))]
            + [e.text for e in session.scalars(select(CaseEvent))]
            + list(session.scalars(select(Case.summary).where(Case.uprn == UPRN))))
        for personal in ("sam@example.org", "asthma", "It is back", "Dear Sam"):
            assert personal not in everything
        assert session.scalar(select(Tenant.email).where(Tenant.uprn == OTHER_UPRN)) == "bo@example.org"


def test_retention_dry_run_reports_and_run_deletes_only_what_is_old(context, alert_settings):
    """Old finished messages, audit entries, dead letters and closed cases go; recent and pending ones stay."""
    settings = alert_settings.model_copy(update={"retention_messages_days": 30, "retention_audit_days": 30,
                                                 "retention_dead_letters_days": 30,
                                                 "retention_closed_cases_days": 30})
    context.settings = settings
    old = NOW - dt.timedelta(days=45)
    with context.database.session() as session:
        session.add(OutboxMessage(channel="email", recipient="x@example.org", message_type="ventilation", body="x",
                                  dedup_key="old-pending", status="pending", created_at=old))
        session.add_all([DeadLetter(received_at=old, topic="t", reason="bad_json", detail="", payload_excerpt="",
                                    payload_bytes=1),
                         DeadLetter(received_at=NOW, topic="t", reason="bad_json", detail="", payload_excerpt="",
                                    payload_bytes=1)])
        case = session.scalar(select(Case).where(Case.uprn == UPRN))
        close_case(session, case, actor="officer@example.org", reason="done")
        case.closed_at = old
        for event in session.scalars(select(AuditEvent)):
            event.at = old
    dry = run(retention, ["run", "--dry-run"], context)
    assert dry.exit_code == 0 and "nothing was deleted" in dry.output
    with context.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
    result = run(retention, ["run"], context)
    assert result.exit_code == 0, result.output
    with context.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1
        keys = set(session.scalars(select(OutboxMessage.dedup_key)))
        assert keys == {"old-pending", "t2"}  # the old sent one went; pending and recent stay
        actions = set(session.scalars(select(AuditEvent.action)))
        assert actions == {"retention.applied"}
