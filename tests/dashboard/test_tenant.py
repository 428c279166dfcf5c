"""The tenant view: one-time sign-in links, their own home only, the advice they were sent, reporting a problem."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from alerts.outbox import enqueue
from core.cases import step_clocks
from core.model import AuditEvent, Case, CaseEvent
from core.model_alerts import OutboxMessage, TenantLoginToken
from dashboard.extensions import EXTENSION_KEY
from tests.alerts.conftest import OTHER_UPRN, UPRN, add_home
from tests.alerts.test_engine import add_run


def database_of(app):
    return app.extensions[EXTENSION_KEY].database


@pytest.fixture
def homes(app):
    """Two homes, each with a tenant: Sam at UPRN (email) and Pat next door (text message)."""
    with database_of(app).session() as session:
        sam = add_home(session, UPRN).tenants[0]
        pat = add_home(session, OTHER_UPRN, tenants=[{"name": "Pat Other", "email": "pat@example.org",
                                                       "phone": "07700900999", "preferred_channel": "sms"}]).tenants[0]
        add_run(session, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), 62.0, cause="poor_ventilation")
        add_run(session, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), 10.0, uprn=OTHER_UPRN)
        return {"sam": sam.id, "pat": pat.id}


def words(page) -> str:
    """A page's text with runs of whitespace as one space, as a reader sees it."""
    return " ".join(page.text.split())


def link_messages(app) -> list[OutboxMessage]:
    with database_of(app).session() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.message_type == "sign_in_link")
                                    .order_by(OutboxMessage.id)))


def sign_in_as_tenant(client_request, app, contact: str) -> None:
    """Ask for a link, take it from the outbox as the tenant would from their inbox, and use it."""
    client_request.logout()
    client_request.post("tenant.sign_in", _data={"contact": contact})
    token = re.search(r"/tenant/link/([A-Za-z0-9_-]+)", link_messages(app)[-1].body).group(1)
    client_request.get("tenant.landing", token=token)
    client_request.post("tenant.landing", token=token)


def test_asking_for_a_link_gives_the_same_answer_whether_or_not_it_matches(client_request, app, homes):
    """A known email gets a one-time link in the outbox; an unknown one gets the same page and nothing is sent."""
    client_request.logout()
    known = client_request.post_response("tenant.sign_in", _data={"contact": "SAM@example.org"})
    unknown = client_request.post_response("tenant.sign_in", _data={"contact": "nobody@example.org"})
    assert known.headers["Location"] == unknown.headers["Location"] == client_request.url("tenant.link_sent")
    (message,) = link_messages(app)
    assert message.recipient == "sam@example.org" and message.channel == "email"
    assert "https://dampwatch.example.org/tenant/link/" in message.body or "/tenant/link/" in message.body
    assert "It works once, for 30 minutes" in words(client_request.get("tenant.link_sent"))
    with database_of(app).session() as session:
        token = session.scalars(select(TenantLoginToken)).one()
        assert token.expires_at - token.created_at == dt.timedelta(minutes=30)
        raw = re.search(r"/tenant/link/([A-Za-z0-9_-]+)", message.body).group(1)
        assert raw not in token.token_sha256  # only the hash is kept


def test_a_mobile_number_finds_the_tenant(client_request, app, homes):
    """A mobile number in any format finds the tenant; the link goes to the email we hold, else by text."""
    client_request.logout()
    client_request.post("tenant.sign_in", _data={"contact": "+44 7700 900999"})
    (message,) = link_messages(app)
    assert message.channel == "email" and message.recipient == "pat@example.org"  # email preferred when held


def test_the_link_works_once_and_signs_in_to_the_tenants_own_home(client_request, app, homes):
    """The landing page needs a button press (mail scanners); the token then works once."""
    client_request.logout()
    client_request.post("tenant.sign_in", _data={"contact": "sam@example.org"})
    token = re.search(r"/tenant/link/([A-Za-z0-9_-]+)", link_messages(app)[0].body).group(1)
    page = client_request.get("tenant.landing", token=token)  # a scanner opening the link uses nothing up
    assert page.select_one("main form button, main form input[type=submit]") is not None
    client_request.get("tenant.landing", token=token)
    client_request.post("tenant.landing", token=token)
    home = client_request.get("tenant.home")
    assert "1 Beech Road, Leeds, LS6 1AB" in home.text
    assert "2 Beech Road" not in home.text
    client_request.logout()
    client_request.post("tenant.landing", _expected_status=410, token=token)
    client_request.get("tenant.landing", _expected_status=410, token=token)


def test_an_expired_link_does_not_work(client_request, app, homes):
    """After 30 minutes the link is refused and the tenant is offered a new one."""
    client_request.logout()
    client_request.post("tenant.sign_in", _data={"contact": "sam@example.org"})
    token = re.search(r"/tenant/link/([A-Za-z0-9_-]+)", link_messages(app)[0].body).group(1)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31), tick=False):
        page = client_request.get("tenant.landing", _expected_status=410, token=token)
    assert "Get a new link" in words(page)


def test_the_home_page_shows_kind_words_and_no_room_readings(client_request, app, homes):
    """The overall band in words and the advice sent; no room names or humidity figures."""
    with database_of(app).session() as session:
        message, _ = enqueue(session, channel="email", recipient="sam@example.org", message_type="ventilation",
                             subject="Help with steam and damp in your home", body="Dear Sam Jones,\n\nOpen a window.",
                             dedup_key="advice-1", tenant_id=homes["sam"], uprn=UPRN)
        message.status, message.sent_at = "sent", dt.datetime.now(dt.UTC)
    sign_in_as_tenant(client_request, app, "sam@example.org")
    page = client_request.get("tenant.home")
    summary = words(page.select_one("#risk-summary"))
    assert "The sensors in your home show a high risk of damp and mould" in summary
    assert "Help with steam and damp in your home" in page.text and "Open a window." in page.text
    main = page.select_one("main").text
    assert "%" not in main and "Bathroom" not in main and "°C" not in main


def test_a_tenant_reaches_nothing_of_another_home(client_request, app, homes):
    """Tenant pages take no ids; staff pages for any home (their own too) send a tenant to the staff sign-in."""
    sign_in_as_tenant(client_request, app, "sam@example.org")
    page = client_request.get("tenant.home", uprn=OTHER_UPRN, tenant_id=homes["pat"])
    assert "1 Beech Road" in page.text and "2 Beech Road" not in page.text
    for endpoint, args in (("main.property_page", {"uprn": OTHER_UPRN}), ("main.risk_list", {}),
                           ("alarms.alarm_list", {}), ("cases.case_list", {})):
        response = client_request.get_response(endpoint, _expected_status=302, **args)
        assert "/sign-in" in response.headers["Location"]
    with app.test_request_context():
        tenant_rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("tenant.")]
    assert all(set(rule.arguments) <= {"token"} for rule in tenant_rules)


def test_tenant_pages_need_a_tenant_session(client_request, homes):
    """Without a tenant session the tenant pages are refused (a staff session is not a tenant session)."""
    client_request.get("tenant.home", _expected_status=403)
    client_request.logout()
    client_request.get("tenant.report", _expected_status=403)


def test_reporting_damp_opens_a_case_with_the_clock_running(client_request, app, homes):
    """The report opens a case (tenant report, aware now) whose investigation is due in 10 working days."""
    sign_in_as_tenant(client_request, app, "sam@example.org")
    before = dt.datetime.now(dt.UTC)
    page = client_request.get("tenant.report")
    assert [i["value"] for i in page.select("input[name=where]")] == ["Bathroom", "Bedroom 1", "Kitchen",
                                                                       "Somewhere else"]
    client_request.post("tenant.report", _data={"where": "Bedroom 1", "description": "Black mould behind the bed"})
    with database_of(app).session() as session:
        case = session.scalars(select(Case)).one()
        assert (case.uprn, case.source, case.opened_by) == (UPRN, "tenant_report", f"tenant:{homes['sam']}")
        assert before <= case.aware_at <= dt.datetime.now(dt.UTC)
        assert "Black mould behind the bed" in case.summary and case.room_id is not None
        investigate = step_clocks(case, dt.datetime.now(dt.UTC))[0]
        assert investigate.key == "investigate" and investigate.state in ("due", "due soon")
        due = investigate.due
    page = client_request.get("tenant.report_sent")
    assert "We have opened a damp and mould case for your home" in words(page)
    local_due = due.astimezone(ZoneInfo("Europe/London"))
    assert words(page.select_one("#next-step")) == (
        f"By {local_due.day} {local_due:%B %Y}, we will look into the problem, usually with a visit to your home.")
    # A second report is added to the same case.
    client_request.post("tenant.report", _data={"where": "Somewhere else", "description": "Damp in the hall too"})
    with database_of(app).session() as session:
        assert len(session.scalars(select(Case)).all()) == 1
        assert session.scalars(select(CaseEvent).where(CaseEvent.kind == "tenant_report")).one().text.endswith(
            "Damp in the hall too")
    assert "added your report to the damp and mould case" in words(client_request.get("tenant.report_sent"))
    assert "We are dealing with damp and mould in your home" in words(client_request.get("tenant.home"))


def test_a_report_needs_a_description(client_request, app, homes):
    """An empty report shows GOV.UK errors."""
    sign_in_as_tenant(client_request, app, "sam@example.org")
    page = client_request.post("tenant.report", _data={"where": "", "description": ""}, _expected_status=200)
    assert page.title.text.startswith("Error: ")
    summary = page.select_one(".govuk-error-summary").text
    assert "Select where the damp or mould is" in summary and "Enter what you can see" in summary


def test_link_requests_are_rate_limited(client_request, app, homes):
    """At most 3 links per contact in 15 minutes; more than 10 requests from one address get 429."""
    client_request.logout()
    for _ in range(5):
        client_request.post("tenant.sign_in", _data={"contact": "sam@example.org"})
    assert len(link_messages(app)) == 3
    for _ in range(5):
        client_request.post("tenant.sign_in", _data={"contact": "someone@example.org"})
    client_request.post("tenant.sign_in", _data={"contact": "pat@example.org"}, _expected_status=429)
    with database_of(app).session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "tenant.link_requested")).all()
        assert len(events) == 10 and all("@" not in (e.object_id or "") for e in events)


def test_signing_out(client_request, app, homes):
    """Sign out ends the tenant's session."""
    sign_in_as_tenant(client_request, app, "sam@example.org")
    client_request.post("tenant.sign_out")
    client_request.get("tenant.home", _expected_status=403)


# -- the "done when", end to end -----------------------------------------------------------------------


def test_a_failed_extractor_fan_ends_in_a_kind_message_and_a_tenants_report(client_request, app, scored_estate):
    """Simulated home with a failed bathroom fan → scored high (poor ventilation) → an alarm for the officer →
    a kind message held through quiet hours, then delivered over real SMTP → the tenant signs in with a link
    that also came by SMTP, sees the advice, and reports damp, which opens a case with its clock running."""
    from alerts.channels import build_senders
    from alerts.engine import run_once
    from alerts.outbox import RetryPolicy, deliver_due
    from core.model import PropertyRisk, Tenant
    from core.model_alerts import Alarm
    from tests.alerts.conftest import SmtpServer, free_port, smtp_settings
    from tests.alerts.test_templates import BLAMING

    database = database_of(app)
    failed_fan = [home for home in scored_estate.sim.estate.homes
                  if home.cause == "poor_ventilation"
                  and any(r.room_type == "bathroom" and r.fan_working is False for r in home.rooms)]
    assert failed_fan, "the simulated estate should hold a home whose bathroom fan has failed"
    uprn = failed_fan[0].uprn
    # 1. A risk flag.
    with database.session() as session:
        risk = session.scalars(select(PropertyRisk).where(PropertyRisk.uprn == uprn)).one()
        assert risk.band in ("high", "critical") and risk.cause == "poor_ventilation"
        session.add(Tenant(uprn=uprn, name="Sam Jones", email="sam@example.org", phone="07700900123",
                           preferred_channel="email", language="en", consent=True, consent_at=scored_estate.end))
    server = SmtpServer(free_port()).start()
    try:
        settings = smtp_settings(app.extensions[EXTENSION_KEY].settings, server)
        senders, policy = build_senders(settings), RetryPolicy.from_settings(settings)
        # 2. The alarm rules run at the end of the scored window: midnight in London.
        end = scored_estate.end
        report = run_once(database, settings, now=end)
        with database.session() as session:
            (alarm,) = session.scalars(select(Alarm).where(Alarm.uprn == uprn, Alarm.rule == "risk_band")).all()
            assert alarm.status == "open" and alarm.id in report.raised
            messages = session.scalars(select(OutboxMessage).where(OutboxMessage.tenant_id.is_not(None))).all()
            (advice,) = [m for m in messages if m.status == "pending"]
            assert advice.message_type == "ventilation"
            assert advice.not_before == end + dt.timedelta(hours=8)  # quiet hours until 08:00
        page = client_request.get("alarms.alarm_list")  # the officer sees it
        assert any(f"{failed_fan[0].address}" in row.text and "Risk band rose" in row.text
                   for row in page.select("#alarms tbody tr"))
        # 3. Within the rules: nothing at night, delivered at 08:00.
        assert deliver_due(database, senders, policy, now=end + dt.timedelta(hours=7)).sent == 0
        assert server.received == []
        assert deliver_due(database, senders, policy, now=end + dt.timedelta(hours=8)).sent == 1
        (email,) = server.received
        text = email["message"].get_content()
        assert email["to"] == ["sam@example.org"] and email["message"]["Subject"] == "Help with steam and damp in your home"
        assert "steam in the bathroom takes a long time to clear" in text
        assert "open the window for 10 to 15 minutes" in text and "extractor fan" in text
        assert not [word for word in BLAMING if word in text.lower()]
        # 4. The tenant asks for a link, which arrives over SMTP too, and signs in.
        client_request.logout()
        client_request.post("tenant.sign_in", _data={"contact": "sam@example.org"})
        assert deliver_due(database, senders, policy).sent == 1
        link_email = server.received[-1]["message"].get_content()
        token = re.search(r"/tenant/link/([A-Za-z0-9_-]+)", link_email).group(1)
        client_request.get("tenant.landing", token=token)
        client_request.post("tenant.landing", token=token)
        home = client_request.get("tenant.home")
        assert "The sensors in your home show a high risk of damp and mould" in words(home)
        assert "Help with steam and damp in your home" in words(home)
        # 5. ... and reports a problem: a case opens and its Awaab's Law clock is running.
        client_request.post("tenant.report", _data={"where": "Bathroom", "description": "Mould on the ceiling"})
        with database.session() as session:
            case = session.scalars(select(Case).where(Case.uprn == uprn)).one()
            assert case.source == "tenant_report" and case.status == "open"
            assert step_clocks(case, dt.datetime.now(dt.UTC))[0].state in ("due", "due soon")
        assert "By " in words(client_request.get("tenant.report_sent").select_one("#next-step"))
    finally:
        server.stop()


def test_the_addresses_alerts_puts_in_messages_are_the_tenant_pages(app):
    """The sign-in and link paths in messages (alerts box) are this blueprint's routes."""
    from alerts.messages import TENANT_SIGN_IN_PATH
    from alerts.tenant_access import TENANT_LINK_PATH

    with app.test_request_context():
        from flask import url_for

        assert url_for("tenant.sign_in") == TENANT_SIGN_IN_PATH
        assert url_for("tenant.landing", token="abc") == TENANT_LINK_PATH + "abc"


@pytest.mark.parametrize("name", ["sign_in.html", "link_sent.html", "landing.html", "link_expired.html",
                                  "home.html", "report.html", "report_sent.html", "_macros.html", "too_many.html"])
def test_tenant_pages_never_blame(name):
    """The tenant pages use none of the blaming words the message templates are checked for."""
    from pathlib import Path

    from tests.alerts.test_templates import BLAMING

    text = (Path(__file__).parents[2] / "dashboard" / "templates" / "tenant" / name).read_text().lower()
    assert [word for word in BLAMING if word in text] == []
