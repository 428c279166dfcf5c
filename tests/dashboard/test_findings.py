"""The issue 13 findings, each tried as the attacker or insider who found it: sessions that end, tokens that die,
proxies, input bounds, formula cells, log lines, keyed hashes, 0600 files and the var folder."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import stat
import zipfile

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.model import ApiToken, AuditEvent, Case, CaseEvent, Tenant, User
from core.model_alerts import TenantLoginToken
from dashboard.api_tokens import TokenError, create_token
from dashboard.extensions import EXTENSION_KEY
from tests.alerts.conftest import OTHER_UPRN, UPRN, add_home, smtp_server, smtp_settings  # noqa: F401 (fixture)
from tests.dashboard.conftest import STAFF_PASSWORD, ClientRequest
from tests.dashboard.test_tenant import link_messages, sign_in_as_tenant


def _db(app):
    return app.extensions[EXTENSION_KEY].database


def _copy_of(helper: ClientRequest) -> ClientRequest:
    """Another browser holding a copy of ``helper``'s session cookie (as a thief would)."""
    name = helper.app.config["SESSION_COOKIE_NAME"]
    cookie = helper.client.get_cookie(name)
    thief = ClientRequest(helper.app, helper.app.test_client())
    thief.client.set_cookie(name, cookie.value)
    return thief


# -- sessions -----------------------------------------------------------------------------------------------------


def test_a_copied_cookie_dies_when_its_owner_signs_out(client_request):
    """Sign-out ends the session on the server: a copy of the cookie taken before no longer signs anyone in."""
    thief = _copy_of(client_request)
    thief.get("main.risk_list")  # the copy works while the officer is signed in
    client_request.post("auth.sign_out")
    thief.get_response("main.risk_list", _expected_status=302)


def test_reactivating_an_account_does_not_revive_its_old_sessions(app, staff):
    """Deactivation ends every session; after reactivation the old cookie still signs no one in."""
    officer = ClientRequest(app, app.test_client())
    officer.login(staff.officer)
    admin = ClientRequest(app, app.test_client())
    admin.login(staff.admin)
    admin.post("admin.deactivate_user", user_id=staff.officer.id)
    officer.get_response("main.risk_list", _expected_status=302)
    admin.post("admin.reactivate_user", user_id=staff.officer.id)
    officer.get_response("main.risk_list", _expected_status=302)
    officer.login(staff.officer)
    officer.get("main.risk_list")


def test_an_admin_signs_someone_out_everywhere(app, staff):
    """Every session of the person ends (two browsers here); the admin's own does not; it is audited."""
    browsers = [ClientRequest(app, app.test_client()) for _ in range(2)]
    for browser in browsers:
        browser.login(staff.manager)
    admin = ClientRequest(app, app.test_client())
    admin.login(staff.admin)
    admin.post("admin.sign_out_user_everywhere", user_id=staff.manager.id)
    for browser in browsers:
        browser.get_response("main.risk_list", _expected_status=302)
    admin.get("admin.users")
    with _db(app).session() as session:
        assert session.scalar(select(AuditEvent.action).where(
            AuditEvent.action == "user.signed_out_everywhere", AuditEvent.object_id == str(staff.manager.id)))


def test_a_password_reset_revokes_api_tokens_unless_kept_on_purpose(app, staff):
    """After a reset the person's tokens answer 401; keep_tokens=True keeps them working."""
    from dashboard.people import reset_password

    with _db(app).session() as session:
        officer, manager = session.get(User, staff.officer.id), session.get(User, staff.manager.id)
        dropped = create_token(session, officer, "Repairs system")
        kept = create_token(session, manager, "Housing system")
    with _db(app).session() as session:
        reset_password(session, session.get(User, staff.officer.id), actor="admin@example.org")
        reset_password(session, session.get(User, staff.manager.id), actor="admin@example.org", keep_tokens=True)
    client = app.test_client()
    assert client.get("/api/v1/cases", headers={"Authorization": f"Bearer {dropped}"}).status_code == 401
    assert client.get("/api/v1/cases", headers={"Authorization": f"Bearer {kept}"}).status_code == 200


def test_admins_list_and_revoke_anyones_token(app, staff):
    """The admin's token page lists every live token with its owner; revoking one stops it at once."""
    with _db(app).session() as session:
        token = create_token(session, session.get(User, staff.officer.id), "Repairs system")
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "Repairs system"))
    admin = ClientRequest(app, app.test_client())
    admin.login(staff.admin)
    page = admin.get("admin.api_tokens")
    row = page.select_one("tbody tr").get_text(" ", strip=True)
    assert "Repairs system" in row and staff.officer.email in row
    admin.post("admin.revoke_api_token", token_id=token_id)
    assert app.test_client().get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "There are no live API tokens" in admin.get("admin.api_tokens").text


def test_a_copied_tenant_cookie_dies_when_the_tenant_signs_out(client_request, app):
    """A tenant's sign-out ends the session on the server, not just in the browser that pressed it."""
    with _db(app).session() as session:
        add_home(session, UPRN)
    sign_in_as_tenant(client_request, app, "sam@example.org")
    thief = _copy_of(client_request)
    thief.get("tenant.home")
    client_request.post("tenant.sign_out")
    response = thief.get_response("tenant.home", _expected_status=302)
    assert response.headers["Location"].endswith("/tenant/sign-in")


# -- behind a proxy -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("trusted", "separate"), [(1, True), (0, False)])
def test_the_tenant_link_limit_counts_clients_behind_a_trusted_proxy(app, settings, tmp_path, trusted, separate):
    """With one trusted proxy, one client's flood does not block others; untrusted, X-Forwarded-For is ignored."""
    from dashboard import create_app
    from tests.dashboard.conftest import dashboard_settings

    proxied = create_app(dashboard_settings(settings, web_trusted_proxies=trusted), database=_db(app))
    with _db(app).session() as session:
        add_home(session, UPRN)
    flood = ClientRequest(proxied, proxied.test_client())
    for _ in range(10):
        flood.client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
        flood.post("tenant.sign_in", _data={"contact": "nobody@example.org"})
    neighbour = ClientRequest(proxied, proxied.test_client())
    neighbour.client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.20"
    neighbour.post("tenant.sign_in", _data={"contact": "sam@example.org"}, _expected_status=302 if separate else 429)
    with _db(app).session() as session:
        addresses = set(session.scalars(select(AuditEvent.ip).where(AuditEvent.action == "tenant.link_requested")))
    assert addresses == ({"203.0.113.9", "198.51.100.20"} if separate else {"127.0.0.1"})


# -- input bounds --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("aware_at", ["0001-01-01T00:00:00Z", "0418-03-02T10:00:00Z", "1999-12-31T23:59:59Z",
                                      "9999-12-31T23:59:59Z"])
def test_the_api_refuses_absurd_years_with_its_json_error_and_saves_nothing(app, staff, aware_at):
    """Year 1, 418, 1999 and 9999 get 400 in the documented error shape; no case is saved; pages stay up."""
    with _db(app).session() as session:
        add_home(session, UPRN)
        token = create_token(session, session.get(User, staff.officer.id), "Repairs system")
    client = app.test_client()
    response = client.post("/api/v1/cases", json={"uprn": UPRN, "aware_at": aware_at},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert set(response.get_json()["error"]) == {"code", "message"}
    with _db(app).session() as session:
        assert session.scalars(select(Case)).all() == []


def test_the_case_form_refuses_year_one(client_request, app):
    """The new-case form answers 400 with a GOV.UK error for year 1 (and for 1999), and saves nothing."""
    with _db(app).session() as session:
        add_home(session, UPRN)
    for year in ("1", "1999"):
        page = client_request.post("cases.new", _expected_status=200, _data={
            "uprn": UPRN, "when_date": ["1", "1", year], "when_time": "10:00", "source": "tenant_report",
            "emergency": "no"})
        assert page.title.get_text().startswith("Error: ")
    with _db(app).session() as session:
        assert session.scalars(select(Case)).all() == []
    client_request.get("cases.case_list")
    client_request.login(staff_of(app, "manager"))
    client_request.get("cases.manager")


def staff_of(app, role: str) -> User:
    with _db(app).session() as session:
        return session.scalars(select(User).where(User.role == role)).first()


@pytest.mark.parametrize("path", ["/cases/99999999999999999999", "/alarms/99999999999999999999",
                                  "/jobs/99999999999999999999/findings", "/admin/users/99999999999999999999",
                                  "/cases/2147483648", "/?page=99999999999999999999",
                                  "/admin/audit-log?page=99999999999999999999",
                                  "/cases/schedule?team=99999999999999999999"])
def test_huge_ids_and_pages_never_give_500(app, staff, path):
    """20-digit ids are 404, huge page numbers show a page: never 500."""
    for role in ("officer", "manager", "admin", "repair"):
        helper = ClientRequest(app, app.test_client())
        helper.login(staff.by_role(role))
        status = helper.client.get(path).status_code
        assert status in (200, 403, 404), (role, path, status)


@pytest.mark.parametrize("path", ["/api/v1/cases/99999999999999999999", "/api/v1/rooms/99999999999999999999/readings",
                                  "/api/v1/inspections?team=99999999999999999999",
                                  "/api/v1/inspections?from=0001-01-01", "/api/v1/rooms/1/readings?from=0001-01-01T00:00:00Z",
                                  "/api/v1/cases?cursor=WzEwMDAwMDAwMDAwMDAwMDAwMDAwMF0",
                                  "/api/v1/properties/1/risk?cursor=WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgMV0"])
def test_the_api_answers_out_of_range_input_with_json_400_or_404(app, staff, path):
    """Huge ids, year 1 and cursors holding them: a JSON error (400 or 404), never a 500 or an HTML page."""
    with _db(app).session() as session:
        token = create_token(session, session.get(User, staff.officer.id), "Repairs system")
    response = app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (400, 404), response.get_data(as_text=True)[:300]
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_the_openapi_document_says_the_bounds():
    """Path ids carry the maximum the code accepts, and the description states the years."""
    from dashboard.openapi import openapi_document

    document = openapi_document()
    [case_id] = document["paths"]["/api/v1/cases/{case_id}"]["get"]["parameters"]
    assert case_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert "2000 and 2100" in document["info"]["description"]


# -- evidence-pack CSVs --------------------------------------------------------------------------------------------


def test_evidence_pack_csvs_do_not_run_formulas(client_request, app):
    """A tenant's words starting =, +, - or @ reach the evidence ZIP as text (with an apostrophe)."""
    from core.cases import add_case_event, open_case

    payloads = ['=HYPERLINK("https://evil.example","click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]
    with _db(app).session() as session:
        add_home(session, UPRN)
        case = open_case(session, uprn=UPRN, aware_at=dt.datetime.now(dt.UTC), source="tenant_report",
                         actor="tenant:1", summary="report")
        for text in payloads:
            add_case_event(session, case, "tenant_report", "tenant:1", text)
        case_id = case.id
    response = client_request.get_response("cases.evidence_zip", case_id=case_id)
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    cells = [cell for name in archive.namelist() if name.endswith(".csv")
             for row in csv.reader(io.StringIO(archive.read(name).decode())) for cell in row]
    for text in payloads:
        assert "'" + text in cells and text not in cells


# -- logs and the audit log ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Repairs\nINFO forged line", "tab\there", "bell\x07", "bidi\u202eevil"])
def test_a_token_name_cannot_forge_a_log_line(app, staff, name):
    """A name with a line break or control character is refused with a GOV.UK message."""
    with _db(app).session() as session, pytest.raises(TokenError, match="one line"):
        create_token(session, session.get(User, staff.officer.id), name)


def test_a_password_typed_into_the_email_box_is_not_kept(app, staff):
    """A failed sign-in with an unknown 'email' keeps only a keyed hash of what was typed, anywhere."""
    visitor = ClientRequest(app, app.test_client())
    visitor.post("auth.sign_in", _data={"email": "Hunter2-MySecret!", "password": STAFF_PASSWORD},
                 _expected_status=200)
    with _db(app).session() as session:
        events = session.scalars(select(AuditEvent)).all()
    assert events and all("Hunter2" not in repr((e.actor, e.object_id, e.detail)) for e in events)


# -- keyed hashes ----------------------------------------------------------------------------------------------


def test_sign_in_links_and_contacts_are_kept_as_keyed_hashes_and_the_link_is_blanked_once_sent(
        client_request, app, settings):
    """The stored token and the audited contact are HMACs (not a plain SHA-256); after sending, the body is blank."""
    from alerts.outbox import SECRET_REMOVED, RetryPolicy, deliver_due

    with _db(app).session() as session:
        add_home(session, UPRN)
        add_home(session, OTHER_UPRN, tenants=[{"email": "pat@example.org", "phone": "07700900999"}])
    client_request.logout()
    client_request.post("tenant.sign_in", _data={"contact": "sam@example.org"})
    [message] = link_messages(app)
    token = message.body.split("/tenant/link/")[1].split()[0]
    with _db(app).session() as session:
        stored = session.scalar(select(TenantLoginToken.token_sha256))
        contact = session.scalar(select(AuditEvent.object_id).where(AuditEvent.action == "tenant.link_requested"))
    assert stored != hashlib.sha256(token.encode()).hexdigest() and len(stored) == 64
    assert contact != hashlib.sha256(b"sam@example.org").hexdigest()

    class Accepting:
        def send(self, message):
            return "ok"

    deliver_due(_db(app), {"email": Accepting()}, RetryPolicy())
    [sent] = link_messages(app)
    assert sent.status == "sent" and sent.body == SECRET_REMOVED and token not in sent.body


# -- files and folders ------------------------------------------------------------------------------------------


def test_sqlite_files_are_readable_by_their_owner_only(tmp_path):
    """A new app database and readings store are 0600, and an existing 0644 one is narrowed."""
    from core.db import Database
    from core.store_sqlite import SQLiteReadingsStore

    loose = tmp_path / "loose.db"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    database = Database(f"sqlite:///{tmp_path}/app.db")
    store = SQLiteReadingsStore(f"sqlite:///{tmp_path}/readings.db")
    other = Database(f"sqlite:///{loose}")
    try:
        for path in (tmp_path / "app.db", tmp_path / "readings.db", loose):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        database.dispose()
        other.dispose()
        store.close()


def test_the_default_databases_follow_the_var_dir(tmp_path, monkeypatch):
    """With only DAMPWATCH_VAR_DIR set, both SQLite files live there, whatever folder the command runs in."""
    from core.settings import load_settings

    for name in ("DAMPWATCH_DATABASE_URL", "DAMPWATCH_READINGS_URL", "DAMPWATCH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAMPWATCH_VAR_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path}/data/dampwatch.db"
    assert settings.readings_url == f"sqlite:///{tmp_path}/data/readings.db"


def test_case_events_of_tenants_are_never_shown_across_homes(client_request, app):
    """A tenant's report at one home is not in the other tenant's view (a planted-bug survivor)."""
    with _db(app).session() as session:
        add_home(session, UPRN)
        add_home(session, OTHER_UPRN, tenants=[{"name": "Pat Other", "email": "pat@example.org",
                                                "phone": "07700900999"}])
        sam = session.scalar(select(Tenant).where(Tenant.uprn == UPRN))
        from core.cases import open_case

        open_case(session, uprn=UPRN, aware_at=dt.datetime.now(dt.UTC), source="tenant_report",
                  actor=f"tenant:{sam.id}", summary="Sam's private words")
    sign_in_as_tenant(client_request, app, "pat@example.org")
    page = client_request.get("tenant.home")
    assert "Sam's private words" not in page.text and "Beech Road" in page.text
    with _db(app).session() as session:
        assert session.scalar(select(CaseEvent.id)) is not None


# -- the emailed link, followed as sent ---------------------------------------------------------------------------


def test_the_emailed_sign_in_link_is_followed_as_sent(app, smtp_server, settings):  # noqa: F811
    """The link in the mail the SMTP server received is an absolute address on the public URL; following that
    very address (its path, on this app) shows the landing page, and pressing Continue signs the tenant in."""
    from alerts.channels import build_senders
    from alerts.outbox import RetryPolicy, deliver_due

    parts = app.extensions[EXTENSION_KEY]
    database = parts.database
    with database.session() as session:
        add_home(session)
    tenant = ClientRequest(app, app.test_client())
    tenant.post("tenant.sign_in", _data={"contact": "sam@example.org"})
    deliver_due(database, build_senders(smtp_settings(settings, smtp_server)), RetryPolicy())
    [mail] = smtp_server.received
    body = mail["message"].get_content()
    [link] = re.findall(r"\S+/tenant/link/\S+", body)
    public = parts.settings.web_public_url.rstrip("/")
    assert link.startswith(public + "/tenant/link/"), link  # absolute, on the public address, not a bare path
    path = link[len(public):]
    landing = tenant.client.get(path)
    assert landing.status_code == 200 and "Continue" in landing.get_data(as_text=True)
    from bs4 import BeautifulSoup

    page = BeautifulSoup(landing.get_data(as_text=True), "html.parser")
    form_token = page.select_one("main form input[name=csrf_token]")["value"]
    response = tenant.client.post(path, data={"csrf_token": form_token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/tenant/")
    assert tenant.client.get("/tenant/").status_code == 200


def test_api_reads_of_personal_data_are_audited(app, staff):
    """Reading a case or a property through the API is in the audit log with who, which token and what."""
    from core.cases import open_case

    with _db(app).session() as session:
        add_home(session, UPRN)
        token = create_token(session, session.get(User, staff.manager.id), "Housing system")
        case_id = open_case(session, uprn=UPRN, aware_at=dt.datetime.now(dt.UTC), source="officer",
                            actor="officer@example.org").id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/cases/{case_id}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/properties/{UPRN}", headers=headers).status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/cases/99999", headers=headers).status_code == 404
    with _db(app).session() as session:
        reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "api.read").order_by(AuditEvent.id)).all()
    assert [(e.actor, e.object_type, e.object_id) for e in reads] == [
        (staff.manager.email, "get_case", str(case_id)), (staff.manager.email, "get_property", UPRN)]
    assert all(e.detail["token_id"] for e in reads)


def test_a_case_saved_with_year_one_before_the_check_no_longer_breaks_pages(client_request, app, staff):
    """A year-1 aware_at already in the database (saved before years were checked): every page still answers."""
    with _db(app).session() as session:
        add_home(session, UPRN)
        case = Case(uprn=UPRN, source="officer", aware_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC), opened_by="x")
        session.add(case)
        session.flush()
        case_id = case.id
    client_request.get("cases.case_list")
    client_request.get("cases.case_page", case_id=case_id)
    client_request.get_response("cases.evidence_zip", case_id=case_id)
    client_request.get_response("cases.evidence_pack", case_id=case_id)
    client_request.login(staff.manager)
    client_request.get("cases.manager")


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.text(max_size=30), st.integers(min_value=-(10**30), max_value=10**30).map(str),
                       st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.isoformat()),
                       st.dates().map(str)))
def test_no_id_time_or_date_in_the_api_gives_a_500(api_client, value):
    """Whatever is put in an id, a time, a date or a cursor, the API answers 200, 400 or 404 in JSON."""
    from urllib.parse import quote

    client, headers = api_client
    for path in (f"/api/v1/cases/{quote(value, safe='')}", f"/api/v1/rooms/{quote(value, safe='')}/readings",
                 f"/api/v1/inspections?from={quote(value)}", f"/api/v1/risk?cursor={quote(value)}",
                 f"/api/v1/properties?updated_since={quote(value)}", f"/api/v1/inspections?team={quote(value)}"):
        response = client.get(path, headers=headers)
        assert response.status_code in (200, 400, 404), (path, response.status_code)
        assert response.is_json, path


@pytest.fixture
def api_client(app, staff):
    with _db(app).session() as session:
        token = create_token(session, session.get(User, staff.officer.id), "Fuzzing system")
    return app.test_client(), {"Authorization": f"Bearer {token}"}


@given(st.integers(min_value=0, max_value=500))
def test_the_sign_in_wait_never_shrinks_with_more_failures_and_never_passes_five_minutes(failures):
    """More failures never mean a shorter wait; no wait is longer than 5 minutes (there is no lock-out)."""
    from dashboard.views.auth import MAX_DELAY, delay_after

    assert delay_after(failures) <= delay_after(failures + 1) <= MAX_DELAY


def test_a_tenant_sees_only_the_advice_sent_to_them(client_request, app):
    """Advice sent to a co-tenant of the same home, or to a tenant next door, is not on this tenant's page."""
    from core.model_alerts import OutboxMessage

    with _db(app).session() as session:
        add_home(session, UPRN, tenants=[{"name": "Sam Jones", "email": "sam@example.org", "phone": "07700900123"},
                                         {"name": "Alex Jones", "email": "alex@example.org", "phone": "07700900124"}])
        add_home(session, OTHER_UPRN, tenants=[{"name": "Pat Other", "email": "pat@example.org",
                                                "phone": "07700900999"}])
        tenants = {t.name: t for t in session.scalars(select(Tenant))}
        sent = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        for name, subject in (("Sam Jones", "Advice for Sam"), ("Alex Jones", "Advice for Alex"),
                              ("Pat Other", "Advice for Pat")):
            tenant = tenants[name]
            session.add(OutboxMessage(channel="email", recipient=tenant.email, tenant_id=tenant.id, uprn=tenant.uprn,
                                      message_type="ventilation", subject=subject, body=f"{subject}: open a window",
                                      dedup_key=f"advice-{tenant.id}", status="sent", sent_at=sent))
    sign_in_as_tenant(client_request, app, "sam@example.org")
    text = client_request.get("tenant.home").text
    assert "Advice for Sam" in text
    assert "Advice for Alex" not in text and "Advice for Pat" not in text


@pytest.mark.parametrize("value", ["0/", "/", "12/34", "0%2F"])
def test_an_id_holding_a_slash_is_a_json_404_not_a_redirect(api_client, value):
    """'/api/v1/rooms/0%2F/readings' decodes to a path with '//': a JSON 404, never a 308 to another resource
    (hypothesis found '0/')."""
    from urllib.parse import quote

    client, headers = api_client
    for path in (f"/api/v1/rooms/{quote(value, safe='')}/readings", f"/api/v1/cases/{quote(value, safe='')}"):
        response = client.get(path, headers=headers)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert response.is_json, path
