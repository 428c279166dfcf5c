"""The written summary to the tenant: composed from the case in English and Welsh, sent through the outbox,
recorded as the step; the PDF letter."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest
import time_machine
from sqlalchemy import select

from alerts.written_summary import (
    SUMMARY_TEMPLATES_DIR,
    SummaryError,
    compose,
    send_written_summary,
    summary_pdf,
)
from core.cases import open_case, record_finding
from core.hazards import HAZARD_CODES
from core.model import Case, Inspection, Property, Room, Team, Tenant
from core.model_alerts import OutboxMessage
from core.model_awaab import WorkOrder

UTC = dt.UTC
NOW = dt.datetime(2026, 2, 4, 12, 0, tzinfo=UTC)
ACTOR = "officer@example.org"
LINK = "https://dampwatch.example.org/tenant/sign-in"


@pytest.fixture
def case_id(database):
    with time_machine.travel(NOW, tick=False), database.session() as session:
            home = Property(uprn="5001", address="5 Tŷ Gwyn", postcode="CF10 1AA")
            home.rooms = [Room(name="Bedroom", room_type="bedroom")]
            home.tenants = [
                Tenant(name="Siân Jones", language="cy", preferred_channel="none", consent=False),
                Tenant(name="Sam Smith", language="en", preferred_channel="email", email="sam@example.org",
                       consent=True),
            ]
            session.add(home)
            session.flush()
            case = open_case(session, uprn="5001", aware_at=dt.datetime(2026, 2, 2, 9, 0, tzinfo=UTC), source="alarm",
                             actor="system", hazards=[{"hazard": "excess_cold", "severity": "high"}])
            inspection = Inspection(case=case, uprn="5001", team=Team(name="West", daily_capacity=2),
                                    scheduled_for=dt.date(2026, 2, 3), status="scheduled", created_by=ACTOR)
            session.add(inspection)
            session.flush()
            record_finding(session, inspection, {"mould_found": False, "severity": "none", "likely_cause": "unknown",
                                                 "actions_taken": "Bled the radiators", "follow_up_work": ""},
                           "inspector@example.org", at=dt.datetime(2026, 2, 3, 10, 0, tzinfo=UTC))
            session.add(WorkOrder(case=case, reference="WO-1", description="Replace the boiler",
                                  planned_start=dt.date(2026, 2, 9)))
            return case.id


def test_template_files_have_the_same_keys():
    """Welsh has every key English has; the Welsh file names every HHSRS hazard."""
    with open(SUMMARY_TEMPLATES_DIR / "en.toml", "rb") as handle:
        en = tomllib.load(handle)
    with open(SUMMARY_TEMPLATES_DIR / "cy.toml", "rb") as handle:
        cy = tomllib.load(handle)
    for section in ("calendar", "severity", "lines", "letter"):
        assert set(en[section]) == set(cy[section]), section
    assert set(cy["hazards"]) == set(HAZARD_CODES)


def test_the_summary_in_english_and_welsh(database, case_id):
    """Dates counted by hand: investigated Tue 3 Feb; safety work by Tue 10 Feb (4, 5, 6, 9, 10 Feb); backstop
    3 Feb + 12 weeks = Tue 28 Apr 2026."""
    with database.session() as session:
        case = session.get(Case, case_id)
        en = compose(case, name="Sam Smith", link=LINK, language="en", now=NOW)
        cy = compose(case, name="Siân Jones", link=LINK, language="cy", now=NOW)
    assert "Dear Sam Smith" in en.body and "Excess cold (risk: high)" in en.body
    assert "Tuesday 3 February 2026" in en.body and "by Tuesday 10 February 2026" in en.body
    assert "by Tuesday 28 April 2026 at the latest" in en.body
    assert "Replace the boiler (planned to start Monday 9 February 2026)" in en.body
    assert "Bled the radiators" in en.body and "We did not find damp or mould" in en.body
    assert cy.language == "cy" and cy.subject.startswith("Beth a welsom")
    assert "Annwyl Siân Jones" in cy.body and "Oerfel gormodol (risg: uchel)" in cy.body
    assert "dydd Mawrth 3 Chwefror 2026" in cy.body and "erbyn dydd Mawrth 10 Chwefror 2026" in cy.body
    assert "dydd Mawrth 28 Ebrill 2026 fan bellaf" in cy.body
    for english in ("What we found", "Dear", "February", "Tuesday", "Excess cold"):
        assert english not in cy.body
    assert summary_pdf(cy).startswith(b"%PDF")


def test_sending_queues_each_tenant_in_their_language_and_records_the_step(database, case_id):
    """The Welsh tenant without alerts consent gets a letter in Welsh (a statutory notice); the English one an email."""
    with time_machine.travel(NOW, tick=False), database.session() as session:
        case = session.get(Case, case_id)
        messages = send_written_summary(session, case, actor=ACTOR, link=LINK, now=NOW)
        assert sorted((m.channel, m.language) for m in messages) == [("email", "en"), ("letter", "cy")]
        assert case.summary_sent_at == NOW
        with pytest.raises(SummaryError, match="already"):
            send_written_summary(session, case, actor=ACTOR, link=LINK, now=NOW)
    with database.session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.message_type == "written_summary")).all()
        assert len(rows) == 2 and all(r.case_id == case_id and r.status == "pending" for r in rows)


def test_no_summary_before_the_investigation(database):
    """The summary reports the investigation: without one it is refused with what to do."""
    with time_machine.travel(NOW, tick=False), database.session() as session:
        home = Property(uprn="5002", address="6 Street", postcode="CF10 1AA")
        session.add(home)
        session.flush()
        case = open_case(session, uprn="5002", aware_at=NOW - dt.timedelta(hours=1), source="officer", actor=ACTOR)
        with pytest.raises(SummaryError, match="investigation first"):
            send_written_summary(session, case, actor=ACTOR, link=LINK, now=NOW)
