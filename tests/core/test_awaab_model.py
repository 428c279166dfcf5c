"""The MHCLG/HACT Awaab's Law data model: export against a schema written by hand from the published DDL,
CSV and JSON carrying the same rows, and a round trip of work orders through the import."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import jsonschema
import pytest
import time_machine

from core.awaab_model import (
    ENTITIES,
    export_cases,
    import_work_orders,
    read_work_order_rows,
    status_from_text,
)
from core.cases import close_case, offer_alternative_accommodation, open_case, record_finding, record_step
from core.model import Case, Inspection, Property, Room, Team, Tenant
from core.model_alerts import OutboxMessage
from core.model_awaab import WorkOrder

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AWARE = dt.datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
SCHEMA = json.loads((Path(__file__).parent / "awaab_model_schema.json").read_text())
ACTOR = "officer@example.org"


@pytest.fixture
def estate(database):
    """Two homes: an excess-cold case with an inspection, message, escalation and work order; a closed case."""
    with time_machine.travel(NOW, tick=False):
        with database.session() as session:
            for uprn in ("1001", "1002"):
                home = Property(uprn=uprn, address=f"{uprn} Test Street", postcode="LS6 1AB")
                home.rooms = [Room(name="Bedroom 1", room_type="bedroom")]
                home.tenants = [Tenant(name="A Tenant", email="tenant@example.org")] if uprn == "1001" else []
                session.add(home)
            session.flush()
            case = open_case(session, uprn="1001", aware_at=AWARE, source="alarm", actor="system",
                             summary="Bedroom below 16 °C for 40% of evening hours",
                             hazards=[{"hazard": "excess_cold", "severity": "high"},
                                      {"hazard": "damp_and_mould", "severity": "low", "notes": "=HYPERLINK()"}])
            inspection = Inspection(case=case, uprn="1001", team=Team(name="North", daily_capacity=3),
                                    scheduled_for=dt.date(2026, 2, 5), status="scheduled", created_by=ACTOR,
                                    created_at=AWARE)
            session.add(inspection)
            session.flush()
            record_finding(session, inspection, {"mould_found": True, "severity": "minor", "likely_cause": "under_heating",
                                                 "follow_up_work": "Replace boiler"}, "inspector@example.org",
                           at=dt.datetime(2026, 2, 5, 11, 0, tzinfo=UTC))
            record_step(session, case, "summary", dt.datetime(2026, 2, 6, 9, 0, tzinfo=UTC), ACTOR)
            offer_alternative_accommodation(session, case, actor=ACTOR, details="Family room, Leeds", tenant_accepted=False,
                                            at=dt.datetime(2026, 2, 6, 10, 0, tzinfo=UTC))
            session.add(OutboxMessage(channel="email", recipient="tenant@example.org", message_type="written_summary",
                                      subject="What we found at your home", body="...", dedup_key="k1", status="sent",
                                      sent_at=dt.datetime(2026, 2, 6, 9, 0, tzinfo=UTC), uprn="1001", case_id=case.id,
                                      attempts=1, language="en"))
            session.add(WorkOrder(case=case, reference="HMS-77", description="Replace boiler", status="raised",
                                  raised_at=dt.datetime(2026, 2, 6, 12, 0, tzinfo=UTC)))
            other = open_case(session, uprn="1002", aware_at=AWARE, source="tenant_report", actor=ACTOR)
            close_case(session, other, actor=ACTOR, reason="No hazard", at=AWARE + dt.timedelta(days=1))
        yield database


def test_the_export_fits_the_schema_written_from_the_ddl(estate):
    """Every entity, field and code-list value matches the hand-written schema."""
    with estate.session() as session:
        data = json.loads(export_cases(session, now=NOW).to_json())
    jsonschema.validate(data, SCHEMA)
    assert [len(data[name]) for name in ENTITIES] == [2, 1, 2, 1, 1, 1]  # the closed case was never investigated
    report = data["hazard_report"][0]
    assert report["report_status"] == "Under Review" and report["further_work_required"] == 1
    investigation = data["investigation"][0]
    assert investigation["trigger_source"] == "Environmental Sensor"
    assert investigation["investigation_type"] == "Standard" and investigation["hazard_confirmed"] == 1
    assert {h["hazard_type"]: h["severity"] for h in data["investigation_hazard"]} == {
        "Excess cold": "High", "Damp and mould growth": "Low"}
    assert data["notification"][0]["notification_type"] == "Result"
    assert data["notification"][0]["notification_method"] == "Email"
    escalation = data["escalation"][0]
    assert escalation["escalation_type"] == "Alternative Accommodation" and escalation["tenant_acceptance"] == 0
    assert data["hazard_report"][1]["report_status"] == "Closed"
    assert data["hazard_report"][1]["reported_by"] == "Tenant Report"


def test_the_schema_refuses_what_the_ddl_refuses():
    """The hand-written schema is not a rubber stamp: a code-list value outside the list fails it."""
    bad = {"schema_version": 1, "hazard_report": [], "investigation": [], "investigation_hazard": [],
           "notification": [], "escalation": [{"escalation_id": "E1", "escalation_stage": "Open",
                                               "escalation_type": "Apology", "escalated_to": "x",
                                               "escalation_start_date": "2026-01-01", "tenant_acceptance": 0}],
           "work_order": []}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_csv_and_json_carry_the_same_rows(estate):
    """Each CSV file has the JSON entity's rows (as text; formula-like text guarded with an apostrophe)."""
    with estate.session() as session:
        export = export_cases(session, now=NOW)
    files = export.to_csv()
    for name, columns in ENTITIES.items():
        rows = list(csv.DictReader(io.StringIO(files[f"{name}.csv"])))
        assert list(rows[0].keys()) if rows else True
        expected = [{c: "" if r.get(c) is None else str(r.get(c)) for c in columns} for r in export.entities[name]]
        for row in expected:
            if row.get("notes", "").startswith("="):
                row["notes"] = "'" + row["notes"]
        assert rows == expected, name


def test_work_orders_round_trip(estate):
    """Exported work orders imported back change nothing; a completion update records works completed."""
    with estate.session() as session:
        exported = export_cases(session, now=NOW).entities["work_order"]
    with time_machine.travel(NOW, tick=False), estate.session() as session:
        report = import_work_orders(session, exported, "hms")
        assert (report.created, report.updated, report.unchanged, report.errors) == (0, 0, 1, [])
    update = [{"work_order_id": "HMS-77", "job_status_update": "Work Complete",
               "actual_start_date_time": "2026-02-09T08:00:00Z", "actual_completion_date_time": "2026-02-10T15:00:00Z",
               "contractor_organisation": "Acme Heating"},
              {"work_order_id": "HMS-78", "hazard_report_id": "DW-C999", "job_status_update": "Raised"},
              {"work_order_id": "HMS-79", "hazard_report_id": "DW-C1", "job_status_update": "Booked",
               "planned_start_date": "2026-03-10"},
              {"work_order_id": "HMS-80", "hazard_report_id": "DW-C1", "job_status_update": "Teleported"},
              {"work_order_id": "HMS-81", "hazard_report_id": "DW-C1", "actual_start_date_time": "2026-02-09 08:00"}]
    with time_machine.travel(NOW, tick=False), estate.session() as session:
        report = import_work_orders(session, update, "hms")
        assert (report.created, report.updated, report.steps_recorded) == (1, 1, 1)
        assert [e.split(":")[0] for e in report.errors] == ["row 2", "row 4", "row 5"]
        assert "not one of our cases" in report.errors[0] and "Teleported" in report.errors[1]
        assert "no time zone" in report.errors[2]
    with estate.session() as session:
        case = session.get(Case, 1)
        assert case.works_completed_at == dt.datetime(2026, 2, 10, 15, 0, tzinfo=UTC)
        orders = {o.reference: o for o in case.work_orders}
        assert orders["HMS-77"].status == "completed" and orders["HMS-77"].contractor == "Acme Heating"
        assert orders["HMS-79"].status == "scheduled" and orders["HMS-79"].planned_start == dt.date(2026, 3, 10)
        again = export_cases(session, now=NOW)
        jsonschema.validate(json.loads(again.to_json()), SCHEMA)
        assert {r["work_order_id"]: r["job_status_update"] for r in again.entities["work_order"]} == {
            "HMS-77": "Work Complete", "HMS-79": "Booked"}


@pytest.mark.parametrize(("text", "status"), [("Work Complete", "completed"), ("CANCELLED by tenant", "cancelled"),
                                             ("No Access", "no_access"), ("In Progress", "in_progress"),
                                             ("scheduled", "scheduled"), ("Awaiting parts", None)])
def test_status_words(text, status):
    """Housing management systems' status words map to ours; unknown words are not guessed."""
    assert status_from_text(text) == status


def test_reading_update_files_refuses_wrong_shapes():
    """A CSV without work_order_id, or JSON that is not a list of objects, is refused with what to do."""
    with pytest.raises(Exception, match="work_order_id"):
        read_work_order_rows("id,status\n1,done\n", fmt="csv")
    with pytest.raises(Exception, match="JSON list"):
        read_work_order_rows('{"work_order": 3}', fmt="json")
    assert read_work_order_rows('{"work_order": [{"work_order_id": "A"}]}', fmt="json") == [{"work_order_id": "A"}]
