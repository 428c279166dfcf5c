"""Signing in and out: passwords, inactive users, slowing down failed attempts, new sessions, expiry, revocation."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from core.model import AuditEvent, User
from dashboard.extensions import get_database
from dashboard.views.auth import FREE_FAILURES
from tests.dashboard.conftest import STAFF_PASSWORD, ClientRequest, add_user


@pytest.fixture
def visitor(app, staff) -> ClientRequest:
    """A client that is not signed in."""
    return ClientRequest(app, app.test_client())


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context(), get_database().session() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def _sign_in(visitor: ClientRequest, email: str, password: str, expected: int = 302, **url_args):
    return visitor.post_response("auth.sign_in", _data={"email": email, "password": password},
                                 _expected_status=expected, **url_args)


def _error(response) -> str:
    from bs4 import BeautifulSoup

    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert page.title.get_text(strip=True).startswith("Error: ")
    return page.select_one(".govuk-error-summary").get_text(" ", strip=True)


def test_sign_in_page_is_a_govuk_form(visitor):
    """The sign-in page has labelled email and password fields and a CSRF token."""
    page = visitor.get("auth.sign_in")
    assert page.title.get_text(strip=True) == "Sign in – DampWatch"
    assert page.select_one("label[for=email]").get_text(strip=True) == "Email address"
    assert page.select_one("input#password")["type"] == "password"
    assert page.select_one("input#password")["autocomplete"] == "current-password"
    assert page.select_one("form input[name=csrf_token]")["value"]


@pytest.mark.parametrize(("role", "home"), [
    ("officer", "/"),
    ("manager", "/portfolio/"),  # issue 16: deadlines and the summary (the summary links the deadlines)
    ("admin", "/admin/users"),
])
def test_sign_in_goes_to_the_roles_start_page(app, visitor, staff, role, home):
    """Each role lands on its own start page; the sign-in is recorded."""
    response = _sign_in(visitor, staff.by_role(role).email.upper(), STAFF_PASSWORD)
    assert response.headers["Location"] == home
    [event] = _events(app, "auth.signed_in")
    assert (event.actor, event.user_id) == (staff.by_role(role).email, staff.by_role(role).id)
    with app.app_context(), get_database().session() as session:
        assert session.get(User, staff.by_role(role).id).last_sign_in_at is not None


def test_repair_member_starts_at_their_jobs_when_that_page_exists(app, visitor, staff):
    """A repair member lands on the job list (the risk list if there is no job list yet)."""
    response = _sign_in(visitor, staff.repair.email, STAFF_PASSWORD)
    expected = visitor.url("repair.job_list") if "repair.job_list" in app.view_functions else "/"
    assert response.headers["Location"] == expected


def test_sign_in_returns_to_the_page_asked_for(visitor, staff):
    """A signed-out manager sent to sign in comes back to the page they wanted, query and all."""
    from urllib.parse import parse_qs, urlsplit

    response = visitor.get_response("admin.audit_log", _expected_status=302, action="user.created")
    location = urlsplit(response.headers["Location"])
    assert location.path == "/sign-in"
    [target] = parse_qs(location.query)["next"]
    assert target == "/admin/audit-log?action=user.created"
    response = _sign_in(visitor, staff.manager.email, STAFF_PASSWORD, next=target)
    assert response.headers["Location"] == target


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_sign_in_never_sends_you_to_another_site(visitor, staff, target):
    """An open redirect through ?next= is refused; the person goes to their start page."""
    response = _sign_in(visitor, staff.officer.email, STAFF_PASSWORD, next=target)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(("email", "password", "reason"), [
    ("officer@example.org", "wrong password!", "wrong password"),
    ("nobody@example.org", STAFF_PASSWORD, "unknown email"),
])
def test_wrong_email_or_password_is_refused_with_one_message(app, visitor, staff, email, password, reason):
    """A wrong password and an unknown address get the same words (no list of who has an account)."""
    response = _sign_in(visitor, email, password, expected=200)
    assert "Enter a correct email address and password" in _error(response)
    [event] = _events(app, "auth.sign_in_failed")
    assert event.detail["reason"] == reason
    if reason == "unknown email":  # what was typed (perhaps a password) is kept only as a keyed hash
        assert email not in repr((event.actor, event.detail)) and event.actor.startswith("unknown:")
    else:
        assert event.actor == email
    visitor.get_response("main.risk_list", _expected_status=302)


def test_inactive_user_cannot_sign_in(app, visitor, staff):
    """A deactivated account with the right password is refused like a wrong password."""
    with app.app_context(), get_database().session() as session:
        add_user(session, "officer", email="gone@example.org", active=False)
    response = _sign_in(visitor, "gone@example.org", STAFF_PASSWORD, expected=200)
    assert "Enter a correct email address and password" in _error(response)
    assert _events(app, "auth.sign_in_failed")[0].detail["reason"] == "inactive"


@pytest.mark.parametrize(("data", "message"), [
    ({"email": "", "password": "x"}, "Enter your email address"),
    ({"email": "officer@example.org", "password": ""}, "Enter your password"),
])
def test_empty_fields_are_asked_for(visitor, staff, data, message):
    """Missing answers are named in the error summary."""
    response = visitor.post_response("auth.sign_in", _data=data, _expected_status=200)
    assert message in _error(response)


def _client_at(app, address: str) -> ClientRequest:
    """A signed-out client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return ClientRequest(app, client)


#: Expected wait (seconds) after n failures within 15 minutes, written out by hand: none for the first five,
#: then 1, 2, 4, ... seconds after the last failure, never more than 5 minutes.
EXPECTED_WAIT_S = {1: 0, 4: 0, 5: 1, 6: 2, 7: 4, 10: 32, 13: 256, 14: 300, 40: 300}


@pytest.mark.parametrize(("failures", "wait_s"), sorted(EXPECTED_WAIT_S.items()))
def test_the_wait_grows_with_failures_and_is_capped(failures, wait_s):
    """The delay after n failures follows the table (no permanent lock)."""
    from dashboard.views.auth import delay_after

    assert delay_after(failures) == dt.timedelta(seconds=wait_s)


def test_failures_slow_the_next_attempt_and_the_right_password_then_works(app, staff):
    """After 5 failures even the right password waits 1 s, then 2 s...; once the wait is over it signs in."""
    visitor = _client_at(app, "198.51.100.7")
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(FREE_FAILURES + 1):
            _sign_in(visitor, staff.officer.email, "not the password", expected=200)
            clock.shift(dt.timedelta(seconds=3))
        assert len(_events(app, "auth.sign_in_failed")) == FREE_FAILURES + 1  # each waited long enough
        _sign_in(visitor, staff.officer.email, STAFF_PASSWORD)  # 6 failures: 2 s to wait, 3 s have passed
        visitor.logout()
    # a fresh scenario with no time passing between failures
    with app.app_context(), get_database().session() as session:
        for event in session.scalars(select(AuditEvent)):
            session.delete(event)
    with time_machine.travel(dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(FREE_FAILURES + 2):  # the 6th and 7th attempts are refused unchecked, not counted
            _sign_in(visitor, staff.officer.email, "not the password", expected=200)
        assert len(_events(app, "auth.sign_in_failed")) == FREE_FAILURES
        assert len(_events(app, "auth.sign_in_refused")) == 2
        response = _sign_in(visitor, staff.officer.email, STAFF_PASSWORD, expected=200)
        assert "Wait 1 second and try again" in _error(response)
        clock.shift(dt.timedelta(seconds=1))
        _sign_in(visitor, staff.officer.email, STAFF_PASSWORD)


def test_an_attacker_elsewhere_cannot_lock_the_owner_out(app, staff):
    """Hammering an account from elsewhere never stops the owner's browser, which has signed in before."""
    owner = _client_at(app, "192.0.2.10")
    attacker = _client_at(app, "203.0.113.66")
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        _sign_in(owner, staff.officer.email, STAFF_PASSWORD)
        owner.logout()
        for _ in range(60):  # an attempt every 10 s for 10 minutes
            _sign_in(attacker, staff.officer.email, "guess", expected=200)
            clock.shift(dt.timedelta(seconds=10))
        assert len(_events(app, "auth.sign_in_refused")) > 30  # the attacker was slowed down
        assert len(_events(app, "auth.sign_in_failed")) < 20
        _sign_in(owner, staff.officer.email, STAFF_PASSWORD)
        # a new browser of the owner's waits at most 5 minutes after the attacker's last failure
        newcomer = _client_at(app, "192.0.2.11")
        clock.shift(dt.timedelta(minutes=5) - dt.timedelta(seconds=10))
        _sign_in(newcomer, staff.officer.email, STAFF_PASSWORD)


def test_password_spraying_from_one_address_is_slowed(app, staff):
    """One address trying one password on many accounts is slowed down, though no account failed 5 times."""
    sprayer = _client_at(app, "203.0.113.5")
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        for number in range(FREE_FAILURES):
            _sign_in(sprayer, f"person{number}@example.org", "Winter2026!", expected=200)
        response = _sign_in(sprayer, staff.manager.email, STAFF_PASSWORD, expected=200)
        assert "Wait 1 second" in _error(response)
        assert _events(app, "auth.signed_in") == []
        # someone else signing in from another address is not slowed
        _sign_in(_client_at(app, "192.0.2.20"), staff.manager.email, STAFF_PASSWORD)


def test_sign_in_starts_a_new_session(app, visitor, staff):
    """Nothing from the session before sign-in survives it (no session fixation)."""
    visitor.get("auth.sign_in")
    with visitor.client.session_transaction() as session:
        session["planted"] = "by someone else"
    _sign_in(visitor, staff.officer.email, STAFF_PASSWORD)
    with visitor.client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{staff.officer.id}:")


def test_sign_out_ends_the_session(app, client_request, staff):
    """Signing out (a POST) returns to the sign-in page, the old session no longer works, and it is audited."""
    client_request.get("main.risk_list")
    response = client_request.post_response("auth.sign_out")
    assert response.headers["Location"] == "/sign-in"
    client_request.get_response("main.risk_list", _expected_status=302)
    [event] = _events(app, "auth.signed_out")
    assert (event.actor, event.user_id, event.object_id, event.ip) == (
        staff.officer.email, staff.officer.id, str(staff.officer.id), "127.0.0.1")


def test_sign_out_is_not_a_link(client_request):
    """Sign-out answers only POST, so an image tag on another site cannot sign people out."""
    client_request.get_response("auth.sign_out", _expected_status=405)
    page = client_request.get("main.risk_list")
    form = page.select_one("header form[action='/sign-out']")
    assert form["method"] == "post"
    assert form.select_one("input[name=csrf_token]")["value"]


def test_signed_in_person_visiting_sign_in_goes_home(client_request):
    """An officer who is already signed in is sent on to the risk list."""
    response = client_request.get_response("auth.sign_in", _expected_status=302)
    assert response.headers["Location"] == "/"


def test_a_sign_in_lasts_web_session_hours(app, staff):
    """Twelve hours after signing in, however busy, the officer must sign in again."""
    visitor = ClientRequest(app, app.test_client())
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC), tick=False) as clock:
        visitor.login(staff.officer)
        for _ in range(11):
            clock.shift(dt.timedelta(hours=1))
            visitor.get("main.risk_list")
        clock.shift(dt.timedelta(minutes=61))
        response = visitor.get_response("main.risk_list", _expected_status=302)
        assert response.headers["Location"].startswith("/sign-in")


def test_passwords_are_stored_as_scrypt_hashes():
    """hash_password uses scrypt with a salt; check_password accepts only the right password."""
    from dashboard.auth import check_password, hash_password

    first, second = hash_password("a long password"), hash_password("a long password")
    assert first.startswith("scrypt:") and first != second
    assert check_password(first, "a long password")
    assert not check_password(first, "a long passworD")
