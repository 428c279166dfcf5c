"""The tenant pages in Welsh: chosen from the tenant's language on record or the language link; every key in both."""

from __future__ import annotations

import datetime as dt
import tomllib

from core.cases import open_case
from core.model import Property, Room, Tenant
from dashboard.auth import TENANT_SESSION_KEY
from dashboard.extensions import EXTENSION_KEY
from dashboard.tenant_words import WORDS_DIR
from tests.dashboard.conftest import ClientRequest


def _tenant_client(app, language: str) -> tuple[ClientRequest, int]:
    database = app.extensions[EXTENSION_KEY].database
    with database.session() as session:
        home = Property(uprn="8001", address="8 Heol y Castell", postcode="CF10 1AA")
        home.rooms = [Room(name="Ystafell wely", room_type="bedroom")]
        home.tenants = [Tenant(name="Gwen", language=language, preferred_channel="email", email="gwen@example.org",
                               consent=True, session_version=0)]
        session.add(home)
        session.flush()
        open_case(session, uprn="8001", aware_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), source="tenant_report",
                  actor="tenant")
        tenant_id = home.tenants[0].id
    helper = ClientRequest(app, app.test_client())
    with helper.client.session_transaction() as session:
        session[TENANT_SESSION_KEY] = tenant_id
        session["tenant_signed_in_at"] = dt.datetime.now(dt.UTC).isoformat()
        session["tenant_session_version"] = 0
    return helper, tenant_id


def test_both_languages_have_the_same_words():
    """cy.toml has every key of en.toml, with the same placeholders."""
    en = tomllib.loads((WORDS_DIR / "en.toml").read_text(encoding="utf-8"))["words"]
    cy = tomllib.loads((WORDS_DIR / "cy.toml").read_text(encoding="utf-8"))["words"]
    assert set(en) == set(cy)
    for key in en:
        assert sorted(p for p in en[key].split() if "$" in p) == sorted(p for p in cy[key].split() if "$" in p) or \
            ("$" in en[key]) == ("$" in cy[key]), key


def test_a_welsh_tenant_sees_their_home_in_welsh(app):
    """Tenant language "cy": the page is lang="cy", headings and the case date are in Welsh; no English left."""
    helper, _ = _tenant_client(app, "cy")
    page = helper.get("tenant.home")
    assert page.select_one("html")["lang"] == "cy"
    assert page.select_one("h1").get_text(strip=True) == "Eich cartref"
    assert "2 Mawrth 2026" in page.select_one("#case-summary").get_text()
    assert "Rhoi gwybod am leithder neu lwydni" in page.get_text()
    for english in ("Your home", "Report damp or mould", "Messages we have sent you", "Sign out"):
        assert english not in page.get_text()
    report = helper.get("tenant.report")
    assert report.select_one("h1").get_text(strip=True) == "Rhoi gwybod am leithder neu lwydni"
    assert "Ble mae'r lleithder neu'r llwydni?" in report.get_text()


def test_the_language_link_switches_and_stays_on_tenant_pages(app):
    """An English tenant switches to Welsh and back; the link never sends anyone off the tenant pages."""
    helper, _ = _tenant_client(app, "en")
    assert helper.get("tenant.home").select_one("h1").get_text(strip=True) == "Your home"
    response = helper.client.get("/tenant/language?lang=cy&next=/tenant/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/tenant/")
    assert helper.get("tenant.home").select_one("h1").get_text(strip=True) == "Eich cartref"
    off_site = helper.client.get("/tenant/language?lang=en&next=https://evil.example/")
    assert off_site.headers["Location"].endswith("/tenant/sign-in")
    assert helper.get("tenant.home").select_one("h1").get_text(strip=True) == "Your home"


def test_the_sign_in_page_in_welsh(app):
    """Before signing in, the choice of Welsh is kept in the session."""
    helper = ClientRequest(app, app.test_client())
    helper.client.get("/tenant/language?lang=cy&next=/tenant/sign-in")
    page = helper.get("tenant.sign_in")
    assert page.select_one("html")["lang"] == "cy"
    assert page.select_one("h1").get_text(strip=True) == "Gweld eich cartref a rhoi gwybod am leithder neu lwydni"
    assert "Anfonwch ddolen ataf" in page.get_text()


# Form errors in Welsh. The expected words are GOV.UK's Welsh error pattern ("Gwall:", "Mae problem wedi codi")
# and our cy.toml phrases, written out here by hand.
WELSH_MISSING = ("Dewiswch ble mae'r lleithder neu'r llwydni", "Rhowch beth rydych yn ei weld")
ENGLISH_MISSING = ("Select where the damp or mould is", "Enter what you can see")


def _errors(page) -> tuple[str, list[str], list[str]]:
    summary = page.select_one(".govuk-error-summary")
    return (summary.select_one(".govuk-error-summary__title").get_text(strip=True),
            [a.get_text(strip=True) for a in summary.select(".govuk-error-summary__list a")],
            [p.get_text(" ", strip=True) for p in page.select(".govuk-error-message")])


def test_a_welsh_tenants_report_form_errors_are_in_welsh(app):
    """An empty report from a Welsh tenant: page title, summary, each field's message and its hidden prefix
    are Welsh; nothing of the English messages is left."""
    helper, _ = _tenant_client(app, "cy")
    page = helper.post("tenant.report", _data={"where": "", "description": ""}, _expected_status=200)
    assert page.title.get_text(strip=True).startswith("Gwall: Rhoi gwybod am leithder neu lwydni")
    title, summary, fields = _errors(page)
    assert title == "Mae problem wedi codi"
    assert summary == list(WELSH_MISSING)
    assert fields == [f"Gwall: {message}" for message in WELSH_MISSING]
    text = page.get_text()
    for english in (*ENGLISH_MISSING, "There is a problem", "Error:"):
        assert english not in text
    assert page.select_one(".govuk-warning-text .govuk-visually-hidden").get_text(strip=True) == "Rhybudd"


def test_welsh_errors_for_a_room_not_offered_and_a_description_too_long(app):
    """A room that is not on the list and a 3,001-character description each get their Welsh message."""
    helper, _ = _tenant_client(app, "cy")
    page = helper.post("tenant.report", _data={"where": "Seler", "description": "x" * 3001}, _expected_status=200)
    _, summary, _ = _errors(page)
    assert summary == ["Dewiswch o'r rhestr ble mae'r lleithder neu'r llwydni",
                       "Rhaid i'r disgrifiad fod yn 3,000 o nodau neu lai"]


def test_the_same_errors_stay_english_for_an_english_tenant(app):
    """The English tenant reads the English messages and GOV.UK's English summary title."""
    helper, _ = _tenant_client(app, "en")
    page = helper.post("tenant.report", _data={"where": "", "description": ""}, _expected_status=200)
    assert page.title.get_text(strip=True).startswith("Error: ")
    title, summary, fields = _errors(page)
    assert (title, summary) == ("There is a problem", list(ENGLISH_MISSING))
    assert fields == [f"Error: {message}" for message in ENGLISH_MISSING]


def test_the_sign_in_forms_errors_in_welsh(app):
    """Welsh chosen before signing in: an empty or overlong contact is refused in Welsh."""
    helper = ClientRequest(app, app.test_client())
    helper.client.get("/tenant/language?lang=cy&next=/tenant/sign-in")
    page = helper.post("tenant.sign_in", _data={"contact": ""}, _expected_status=200)
    assert _errors(page)[1] == ["Rhowch eich cyfeiriad e-bost neu rif eich ffôn symudol"]
    page = helper.post("tenant.sign_in", _data={"contact": "a" * 255}, _expected_status=200)
    assert _errors(page)[1] == ["Rhaid i'r cyfeiriad e-bost neu'r rhif ffôn symudol fod yn 254 o nodau neu lai"]
    assert "Enter your email address" not in page.get_text()
