"""API tokens: made on a GOV.UK page and shown once, kept as a SHA-256, revoked, audited; refused to repair staff."""

from __future__ import annotations

import hashlib

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from core.model import ApiToken, AuditEvent, User
from dashboard.api_tokens import TOKEN_PREFIX, TokenError, create_token, new_token_value, revoke_token
from dashboard.extensions import EXTENSION_KEY
from tests.dashboard.conftest import add_user


def _database(app):
    return app.extensions[EXTENSION_KEY].database


def _tokens_of(app, user) -> list[ApiToken]:
    with _database(app).session() as session:
        return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def _api_status(app, token: str) -> int:
    with app.test_client() as client:
        return client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_new_token_is_long_random_and_marked():
    """Tokens start with dw_ and carry 256 random bits."""
    first, second = new_token_value(), new_token_value()
    assert first.startswith(TOKEN_PREFIX) and len(first) == len(TOKEN_PREFIX) + 43 and first != second


def test_an_officer_creates_a_token_and_sees_it_once(app, client_request, staff):
    """The token is shown on the page after creating it, stored only as its SHA-256, and works in the API."""
    response = client_request.post_response("tokens.new", _data={"name": "Repairs system"}, _expected_status=200)
    assert response.headers["Cache-Control"] == "no-store"
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    token = page.select_one("#token").text.strip()
    assert token.startswith(TOKEN_PREFIX)
    assert "You will not be able to see this token again" in page.text
    [stored] = _tokens_of(app, staff.officer)
    assert stored.name == "Repairs system" and stored.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    listing = client_request.get("tokens.index")
    assert token not in str(listing)
    assert [cell.text.strip() for cell in listing.select("tbody tr td")][::2] == ["Repairs system", "Never"]
    assert _api_status(app, token) == 200
    last_used = client_request.get("tokens.index").select("tbody tr td")[2].text.strip()
    assert last_used.endswith(("am", "pm")), last_used


def test_creating_a_token_is_audited_without_the_token(app, client_request, staff):
    """The audit log says who made which token, and never holds the token itself."""
    page = client_request.post("tokens.new", _data={"name": "Housing system"}, _expected_status=200)
    token = page.select_one("#token").text.strip()
    with _database(app).session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.created")).one()
    assert event.actor == staff.officer.email and event.user_id == staff.officer.id and event.ip
    assert event.detail["name"] == "Housing system" and token not in str(event.detail)


@pytest.mark.parametrize(("name", "message"), [
    ("", "Enter a name for the token"),
    ("x" * 121, "Name must be 120 characters or fewer"),
    ("Repairs system", "You already have a token called ‘Repairs system’. Choose another name"),
])
def test_a_token_needs_a_good_name(app, client_request, staff, name, message):
    """A missing, long or repeated name is refused with a GOV.UK error summary and nothing is made."""
    with _database(app).session() as session:
        create_token(session, session.get(User, staff.officer.id), "Repairs system")
    page = client_request.post("tokens.new", _data={"name": name}, _expected_status=200)
    assert page.title.text.strip().startswith("Error: ")
    assert message in page.select_one(".govuk-error-summary").text
    assert len(_tokens_of(app, staff.officer)) == 1


def test_the_list_shows_only_my_live_tokens(app, client_request, staff):
    """Other people's tokens and revoked tokens are not listed."""
    with _database(app).session() as session:
        officer = session.get(User, staff.officer.id)
        create_token(session, officer, "Mine")
        create_token(session, session.get(User, staff.manager.id), "The manager's")
        create_token(session, officer, "Old")
        revoke_token(session, session.scalar(select(ApiToken).where(ApiToken.name == "Old")), actor="test")
    page = client_request.get("tokens.index")
    assert [row.select_one("td").text.strip() for row in page.select("tbody tr")] == ["Mine"]


def test_revoking_a_token_asks_first_then_stops_it(app, client_request, staff):
    """The confirmation page names the token; revoking it stops it working and is audited."""
    with _database(app).session() as session:
        token = create_token(session, session.get(User, staff.officer.id), "Repairs system")
    [row] = _tokens_of(app, staff.officer)
    page = client_request.get("tokens.revoke", token_id=row.id)
    assert "Are you sure you want to revoke ‘Repairs system’?" in page.select_one("h1").text
    assert _api_status(app, token) == 200
    page = client_request.post("tokens.revoke", token_id=row.id, _follow_redirects=True, _expected_status=200)
    assert "Token ‘Repairs system’ revoked" in page.select_one(".govuk-notification-banner").text
    assert _api_status(app, token) == 401
    assert _tokens_of(app, staff.officer)[0].revoked_at is not None
    with _database(app).session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.revoked")).one()
    assert event.actor == staff.officer.email and event.object_id == str(row.id)


def test_nobody_can_revoke_someone_elses_token(app, client_request, staff):
    """Another person's token is not found, whether asked for or posted to."""
    with _database(app).session() as session:
        create_token(session, session.get(User, staff.manager.id), "The manager's")
    [row] = _tokens_of(app, staff.manager)
    client_request.get("tokens.revoke", token_id=row.id, _expected_status=404)
    client_request.post("tokens.revoke", token_id=row.id, _expected_status=404)
    assert _tokens_of(app, staff.manager)[0].revoked_at is None


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_have_token_pages_too(client_request, staff, role):
    """Managers and admins may use the API, so they may make tokens."""
    client_request.login(staff.by_role(role))
    page = client_request.get("tokens.index")
    assert page.select_one("h1").text.strip() == "API tokens"
    assert "You have no API tokens." in page.text


def test_repair_members_have_no_token_pages(client_request, staff):
    """Repair team members do not use the API."""
    client_request.login(staff.repair)
    client_request.get("tokens.index", _expected_status=403)
    client_request.get("tokens.new", _expected_status=403)


def test_create_token_refuses_repair_members_and_deactivated_staff(app, staff):
    """The command line cannot give a token to someone the pages would not."""
    with _database(app).session() as session:
        with pytest.raises(TokenError, match="only officer, manager, admin users"):
            create_token(session, session.get(User, staff.repair.id), "Jobs")
        leaver = add_user(session, "officer", email="leaver@example.org", active=False)
        with pytest.raises(TokenError, match="deactivated"):
            create_token(session, leaver, "Old system")


def test_create_token_from_the_command_line_is_audited_as_the_command(app, staff):
    """A token made by a command is recorded under the command's name."""
    with _database(app).session() as session:
        create_token(session, session.get(User, staff.admin.id), "Reporting", actor="dampwatch users token create")
    with _database(app).session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.created")).one()
    assert event.actor == "dampwatch users token create" and event.user_id is None
    assert event.detail == {"name": "Reporting", "owner": staff.admin.email}
