"""Admin pages: users, teams and the audit log; every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.model import AuditEvent, Team, User
from dashboard.extensions import get_database
from tests.dashboard.conftest import STAFF_PASSWORD


def _db(app):
    with app.app_context():
        return get_database()


def _events(app, action: str) -> list[AuditEvent]:
    with _db(app).session() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                               .order_by(AuditEvent.id)).all()


def _user(app, email: str) -> User | None:
    with _db(app).session() as session:
        return session.scalar(select(User).where(User.email == email))


def test_users_page_lists_every_user(client_request, staff):
    """The admin sees each user with their role and team."""
    client_request.login(staff.admin)
    page = client_request.get("admin.users")
    rows = {row["id"]: row.get_text(" ", strip=True) for row in page.select("tbody tr")}
    assert len(rows) == 4
    assert "Repair team member" in rows[f"user-{staff.repair.id}"]
    assert "North team" in rows[f"user-{staff.repair.id}"]
    assert page.title.get_text(strip=True) == "Users – DampWatch"


def test_admin_adds_a_repair_member_and_sees_the_password_once(client_request, staff, app):
    """A new user gets a random password shown once; they can sign in with it; it is audited."""
    client_request.login(staff.admin)
    page = client_request.post("admin.new_user", _data={
        "name": "Rita Repair", "email": " Rita@Example.org ", "role": "repair", "team": str(staff.team.id)},
        _expected_status=200)
    password = page.select_one("#new-password").get_text(strip=True)
    assert len(password) >= 12
    user = _user(app, "rita@example.org")
    assert (user.role, user.team_id, user.active) == ("repair", staff.team.id, True)
    assert user.password_hash.startswith("scrypt:")
    assert password not in user.password_hash
    [event] = _events(app, "user.created")
    assert (event.actor, event.user_id, event.object_id) == (staff.admin.email, staff.admin.id, str(user.id))
    assert event.detail == {"email": "rita@example.org", "role": "repair", "team": "North team"}
    client_request.logout()
    client_request.client.post(client_request.url("auth.sign_in"), data={
        "email": "rita@example.org", "password": password, "csrf_token": client_request._session_csrf_token()})
    assert client_request.get_response("admin.users", _expected_status=403)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"name": "", "email": "a@example.org", "role": "officer", "team": ""}, "name", "Enter the person's name"),
    ({"name": "A", "email": "not-an-email", "role": "officer", "team": ""}, "email",
     "Enter an email address in the correct format, like name@example.com"),
    ({"name": "A", "email": "a@example.org", "team": ""}, "role", "Select a role"),
    ({"name": "A", "email": "a@example.org", "role": "repair", "team": ""}, "team",
     "Select the team of a repair team member"),
    ({"name": "A", "email": "OFFICER@example.org", "role": "officer", "team": ""}, "email",
     "There is already a user with this email address"),
])
def test_add_user_form_errors(client_request, staff, app, data, field, message):
    """Each mistake is shown beside its field and in the error summary, and nothing is saved."""
    client_request.login(staff.admin)
    page = client_request.post("admin.new_user", _data=data, _expected_status=200)
    assert page.title.get_text(strip=True).startswith("Error: Add a user")
    assert message in page.select_one(".govuk-error-summary").get_text()
    assert page.select_one(".govuk-error-summary a")["href"] == f"#{field}"
    assert message in page.select_one(f"#{field}-error").get_text()
    assert _events(app, "user.created") == []


def test_admin_changes_a_role_and_team(client_request, staff, app):
    """Changing a user's role is audited with before and after; a non-repair user has no team."""
    client_request.login(staff.admin)
    page = client_request.get("admin.user", user_id=staff.repair.id)
    assert page.select_one("#team option[selected]")["value"] == str(staff.team.id)
    client_request.post("admin.user", user_id=staff.repair.id,
                        _data={"name": "Repair Person", "role": "officer", "team": str(staff.team.id)})
    user = _user(app, staff.repair.email)
    assert (user.role, user.team_id) == ("officer", None)
    [event] = _events(app, "user.changed")
    assert event.detail["changes"] == {"role": ["repair", "officer"], "team_id": [staff.team.id, None]}


def test_admin_cannot_change_their_own_role(client_request, staff, app):
    """An admin cannot demote themselves (and lock every admin out)."""
    client_request.login(staff.admin)
    page = client_request.post("admin.user", user_id=staff.admin.id,
                               _data={"name": "Admin Person", "role": "officer", "team": ""}, _expected_status=200)
    assert "You cannot change your own role" in page.select_one(".govuk-error-summary").get_text()
    assert _user(app, staff.admin.email).role == "admin"


def test_deactivating_a_user_ends_their_session(app, staff):
    """A deactivated officer is signed out at their next request and cannot sign in again."""
    from tests.dashboard.conftest import ClientRequest

    admin_client, officer_client = app.test_client(), app.test_client()
    admin = ClientRequest(app, admin_client)
    admin.login(staff.admin)
    officer = ClientRequest(app, officer_client)
    officer.login(staff.officer)
    officer.get("main.risk_list")
    admin.post("admin.deactivate_user", user_id=staff.officer.id)
    assert _user(app, staff.officer.email).active is False
    response = officer.get_response("main.risk_list", _expected_status=302)
    assert response.headers["Location"].startswith("/sign-in")
    page = officer.post("auth.sign_in", _data={"email": staff.officer.email, "password": STAFF_PASSWORD},
                        _expected_status=200)
    assert "Enter a correct email address and password" in page.select_one(".govuk-error-summary").get_text()
    [event] = _events(app, "user.deactivated")
    assert event.actor == staff.admin.email
    admin.post("admin.reactivate_user", user_id=staff.officer.id)
    assert _user(app, staff.officer.email).active is True
    assert len(_events(app, "user.reactivated")) == 1


def test_admin_cannot_deactivate_themselves(client_request, staff, app):
    """Deactivating your own account is refused with a reason."""
    client_request.login(staff.admin)
    page = client_request.post("admin.deactivate_user", user_id=staff.admin.id, _expected_status=400)
    assert "You cannot deactivate your own account" in page.select_one("#reason").get_text()
    assert _user(app, staff.admin.email).active is True


def test_reset_password_shows_a_new_one_and_ends_old_sessions(app, staff):
    """After a reset the old password fails, the new one works, and the user's old session has ended."""
    from tests.dashboard.conftest import ClientRequest

    admin_client, officer_client = app.test_client(), app.test_client()
    admin = ClientRequest(app, admin_client)
    admin.login(staff.admin)
    officer = ClientRequest(app, officer_client)
    officer.login(staff.officer)
    page = admin.post("admin.reset_user_password", user_id=staff.officer.id, _expected_status=200)
    password = page.select_one("#new-password").get_text(strip=True)
    officer.get_response("main.risk_list", _expected_status=302)
    officer.post("auth.sign_in", _data={"email": staff.officer.email, "password": STAFF_PASSWORD},
                 _expected_status=200)
    officer.post("auth.sign_in", _data={"email": staff.officer.email, "password": password})
    officer.get("main.risk_list")
    [event] = _events(app, "user.password_reset")
    assert event.object_id == str(staff.officer.id)
    assert password not in str(event.detail)


def test_unknown_user_is_not_found(client_request, staff):
    """A user id that does not exist gives 404."""
    client_request.login(staff.admin)
    client_request.get("admin.user", user_id=4242, _expected_status=404)


def test_admin_adds_and_changes_a_team(client_request, staff, app):
    """Teams are created and changed (name, capacity, districts), each change audited."""
    client_request.login(staff.admin)
    client_request.post("admin.team", _data={"name": "South team", "daily_capacity": "3", "districts": "ls6, ls7 LS6"})
    with _db(app).session() as session:
        team = session.scalar(select(Team).where(Team.name == "South team"))
    assert (team.daily_capacity, team.districts) == (3, "LS6 LS7")
    page = client_request.get("admin.teams")
    assert "LS6 LS7" in page.select_one(f"#team-{team.id}").get_text()
    page = client_request.get("admin.team", team_id=team.id)
    assert page.select_one("#daily_capacity")["value"] == "3"
    client_request.post("admin.team", team_id=team.id,
                        _data={"name": "South team", "daily_capacity": "5", "districts": "LS6 LS7"})
    [created] = _events(app, "team.created")
    [changed] = _events(app, "team.changed")
    assert created.detail["districts"] == "LS6 LS7"
    assert changed.detail == {"changes": {"daily_capacity": [3, 5]}}


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"name": "", "daily_capacity": "3"}, "name", "Enter a team name"),
    ({"name": "T", "daily_capacity": ""}, "daily_capacity", "Enter how many inspections the team can do a day"),
    ({"name": "T", "daily_capacity": "three"}, "daily_capacity", "Inspections a day must be a whole number, like 4"),
    ({"name": "T", "daily_capacity": "-1"}, "daily_capacity", "Inspections a day must be a whole number, like 4"),
    ({"name": "T", "daily_capacity": "51"}, "daily_capacity", "Inspections a day must be 50 or fewer"),
    ({"name": "T", "daily_capacity": "2", "districts": "Leeds"}, "districts", "Enter postcode districts like LS6"),
    ({"name": "north TEAM", "daily_capacity": "2"}, "name", "There is already a team called North team"),
])
def test_team_form_errors(client_request, staff, app, data, field, message):
    """Team mistakes are shown beside the field, and nothing is saved."""
    client_request.login(staff.admin)
    page = client_request.post("admin.team", _data=data, _expected_status=200)
    assert page.title.get_text(strip=True).startswith("Error: Add a team")
    assert message in page.select_one(f"#{field}-error").get_text()
    assert _events(app, "team.created") == []


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_audit_log_is_paginated_and_filtered(client_request, staff, app, role):
    """Admins and managers see the audit log, 50 a page, filtered by action and by who."""
    from core.audit import record

    with _db(app).session() as session:
        for number in range(60):
            record(session, "someone@example.org", "case.opened", "case", number)
        record(session, "other@example.org", "team.created", "team", 1)
    client_request.login(staff.by_role(role))
    page = client_request.get("admin.audit_log")
    assert len(page.select("#audit-events tbody tr")) == 50
    assert page.select_one(".govuk-pagination__next a")["href"].endswith("page=2")
    with _db(app).session() as session:
        total = session.query(AuditEvent).count()  # the 61 recorded here and the sign-ins
    page = client_request.get("admin.audit_log", page=2)
    assert len(page.select("#audit-events tbody tr")) == total - 50
    assert f"{total} events" in page.select_one("caption").get_text()
    page = client_request.get("admin.audit_log", action="team.created")
    assert [row.select("td")[1].get_text(strip=True) for row in page.select("#audit-events tbody tr")] == [
        "other@example.org"]
    page = client_request.get("admin.audit_log", actor="SOMEONE")
    assert "60 events" in page.select_one("caption").get_text()
    page = client_request.get("admin.audit_log", actor="nobody")
    assert "No events match" in page.get_text()
