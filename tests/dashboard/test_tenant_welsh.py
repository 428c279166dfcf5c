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
