"""Fixtures for the dashboard's tests: an app on a fresh database, staff of every role, a signed-in client.

* ``app``: a dashboard (testing config, CSRF on) on a fresh SQLite app database in the test's folder. When the
  test also asks for ``scored_estate``, the app runs on that estate's database and readings store instead.
* ``staff``: one user per role (``staff.officer``, ``staff.repair``, ``staff.manager``, ``staff.admin``) and
  the team "North team" (capacity 3) the repair member belongs to; every password is ``STAFF_PASSWORD``.
* ``client_request``: signed in as the officer; ``get`` and ``post`` return the page parsed by BeautifulSoup
  after checking the status code (see :class:`ClientRequest`).
* ``scored_estate``: six simulated homes with three winter weeks of readings, registered and scored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from werkzeug.security import generate_password_hash

from core.db import Database
from core.model import Team, User
from core.settings import Settings

STAFF_PASSWORD = "correct horse battery staple"
#: Hashed once with few PBKDF2 rounds so making staff is quick; the app checks it like any werkzeug hash.
STAFF_PASSWORD_HASH = generate_password_hash(STAFF_PASSWORD, method="pbkdf2:sha256:1000")
DASHBOARD_ESTATE_START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def start_serve(folder: Path, settings: Settings, database_file: Path, *args: str
                ) -> tuple[subprocess.Popen[str], int, str]:
    """``dampwatch serve ARGS`` as its own process on a free loopback port, on a copy of ``database_file`` in
    ``folder``; returns the process, its port and what it logged until it said where it is (or stopped, or a
    minute passed). The caller stops it."""
    shutil.copyfile(database_file, folder / "app.db")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DAMPWATCH_")},
           "DAMPWATCH_VAR_DIR": str(folder), "DAMPWATCH_DATABASE_URL": settings.database_url,
           "DAMPWATCH_READINGS_URL": settings.readings_url, "DAMPWATCH_WEB_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-c", "from dampwatch.cli import main; main()", "serve", *args],
                               env=env, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    assert process.stderr is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if "dashboard at" in line or not line:
            break
    return process, port, "".join(lines)


def dashboard_settings(settings: Settings, **overrides: Any) -> Settings:
    """The test settings with the dashboard's testing config and a fixed secret key."""
    return settings.model_copy(update={"web_config": "testing", "web_secret_key": "test-secret-key", **overrides})


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path, settings: Settings, _migrated_database_file: Path):
    """A dashboard app (testing config, CSRF on) on a fresh SQLite database, or on ``scored_estate``'s."""
    from dashboard import create_app

    estate = request.getfixturevalue("scored_estate") if "scored_estate" in request.fixturenames else None
    if estate is None:
        shutil.copyfile(_migrated_database_file, tmp_path / "app.db")
        database, store = Database(f"sqlite:///{tmp_path}/app.db", migrate=False), None
    else:
        database, store = estate.database, estate.store
    application = create_app(dashboard_settings(settings), database=database, store=store)
    try:
        yield application
    finally:
        if estate is None:
            database.dispose()


@dataclasses.dataclass(frozen=True)
class Staff:
    """One user of each role and the repair member's team (rows detached from their session)."""

    officer: User
    repair: User
    manager: User
    admin: User
    team: Team

    def by_role(self, role: str) -> User:
        return getattr(self, role)


def add_user(session, role: str, *, name: str | None = None, email: str | None = None, team: Team | None = None,
             active: bool = True) -> User:
    """Add a member of staff whose password is ``STAFF_PASSWORD``."""
    user = User(email=email or f"{role}@example.org", name=name or f"{role.title()} Person", role=role,
                team=team, password_hash=STAFF_PASSWORD_HASH, active=active)
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def staff(app) -> Staff:
    """An officer, a repair member of "North team" (capacity 3), a manager and an admin."""
    from dashboard.extensions import EXTENSION_KEY

    database = app.extensions[EXTENSION_KEY].database
    with database.session() as session:
        team = Team(name="North team", daily_capacity=3, districts="")
        session.add(team)
        session.flush()
        people = {role: add_user(session, role, team=team if role == "repair" else None)
                  for role in ("officer", "repair", "manager", "admin")}
        session.flush()
        for person in people.values():
            _ = person.team
    return Staff(team=team, **people)


class UnexpectedStatus(AssertionError):
    """The response's status code was not the one the test expected."""


class ClientRequest:
    """A test client that returns parsed pages and checks status codes.

    ``get(endpoint, _expected_status=200, **url_args)`` and ``post(endpoint, _data={...},
    _expected_status=302, **url_args)`` build the URL with ``url_for`` (arguments the route does not take
    become the query string) and return the body parsed by BeautifulSoup. ``post`` adds the CSRF token as a
    browser would: it fetches the same URL first and takes the form's ``csrf_token``; when that page has no
    form (a button on another page posts here) it uses the token of the session, which is what the form
    would have carried. Pass ``_data={"csrf_token": ...}`` to send your own (or ``""`` to send none).
    ``get_response`` and ``post_response`` return the Flask response (CSV, PDF, JSON, iCalendar).
    """

    def __init__(self, app, client) -> None:
        self.app = app
        self.client = client
        self.user: User | None = None

    def url(self, endpoint: str, **url_args: Any) -> str:
        from flask import url_for

        with self.app.test_request_context():
            return url_for(endpoint, **url_args)

    def login(self, user: User) -> None:
        """Sign in as ``user`` through the real sign-in form (password ``STAFF_PASSWORD``)."""
        self.logout()
        response = self.client.post(self.url("auth.sign_in"), data={
            "email": user.email, "password": STAFF_PASSWORD, "csrf_token": self._session_csrf_token()})
        assert response.status_code == 302, f"signing in as {user.email} failed: {response.status_code}"
        self.user = user

    def logout(self) -> None:
        """Forget the session, as closing the browser would."""
        self.client.delete_cookie(self.app.config["SESSION_COOKIE_NAME"])
        self.user = None

    def _check(self, response, expected: int, method: str, url: str):
        if response.status_code != expected:
            location = response.headers.get("Location")
            body = re.sub(r"\s+", " ", response.get_data(as_text=True))[:1500]
            raise UnexpectedStatus(f"{method} {url}: expected {expected}, got {response.status_code}"
                                   + (f" (to {location})" if location else "") + f"\n{body}")
        return response

    def get_response(self, endpoint: str, _expected_status: int = 200, _follow_redirects: bool = False,
                     _headers: dict | None = None, **url_args: Any):
        url = self.url(endpoint, **url_args)
        response = self.client.get(url, follow_redirects=_follow_redirects, headers=_headers)
        return self._check(response, _expected_status, "GET", url)

    def get(self, endpoint: str, _expected_status: int = 200, _follow_redirects: bool = False,
            **url_args: Any) -> BeautifulSoup:
        response = self.get_response(endpoint, _expected_status, _follow_redirects, **url_args)
        return BeautifulSoup(response.get_data(as_text=True), "html.parser")

    def _session_csrf_token(self) -> str:
        """The token a form rendered in this session carries (Flask-WTF's ``generate_csrf``)."""
        import hashlib
        import os

        from itsdangerous import URLSafeTimedSerializer

        config = self.app.config
        field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        with self.client.session_transaction() as session:
            if field not in session:
                session[field] = hashlib.sha1(os.urandom(64)).hexdigest()
            raw = session[field]
        serializer = URLSafeTimedSerializer(config.get("WTF_CSRF_SECRET_KEY") or config["SECRET_KEY"],
                                            salt="wtf-csrf-token")
        return serializer.dumps(raw)

    def _form_csrf_token(self, url: str) -> str:
        response = self.client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
            field = page.select_one("main form input[name=csrf_token]")
            if field is not None:
                return field["value"]
        return self._session_csrf_token()

    def post_response(self, endpoint: str, _data: dict | None = None, _expected_status: int = 302,
                      _follow_redirects: bool = False, **url_args: Any):
        url = self.url(endpoint, **url_args)
        data = dict(_data or {})
        if "csrf_token" not in data:
            data["csrf_token"] = self._form_csrf_token(url)
        elif data["csrf_token"] == "":
            del data["csrf_token"]
        response = self.client.post(url, data=data, follow_redirects=_follow_redirects)
        return self._check(response, _expected_status, "POST", url)

    def post(self, endpoint: str, _data: dict | None = None, _expected_status: int = 302,
             _follow_redirects: bool = False, **url_args: Any) -> BeautifulSoup:
        response = self.post_response(endpoint, _data, _expected_status, _follow_redirects, **url_args)
        return BeautifulSoup(response.get_data(as_text=True), "html.parser")


@pytest.fixture
def client_request(app, staff: Staff) -> Iterator[ClientRequest]:
    """A client signed in as the officer; ``client_request.login(staff.manager)`` to be someone else.

    The test client is not used as a context manager: a preserved request context would share Flask's
    ``g`` (and Flask-Login's cached user) with a second client a test makes.
    """
    helper = ClientRequest(app, app.test_client())
    helper.login(staff.officer)
    yield helper


# --- a scored estate -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DashboardEstate:
    """A simulated estate's app database and readings store (this test's own copy), scored at ``end``."""

    sim: Any
    database: Database
    store: Any
    end: dt.datetime
    uprns: list[str]
    damp_uprns: list[str]  # homes the simulator made damp-prone


@pytest.fixture
def scored_estate(_scored_estate_files, tmp_path: Path) -> Iterator[DashboardEstate]:
    """Six simulated homes with readings and a scoring run, in this test's own copy of the files."""
    from core.store_sqlite import SQLiteReadingsStore

    sim, folder = _scored_estate_files
    target = tmp_path / "estate"
    target.mkdir()
    for name in ("app.db", "readings.db"):
        shutil.copyfile(folder / name, target / name)
    database = Database(f"sqlite:///{target}/app.db", migrate=False)
    store = SQLiteReadingsStore(f"sqlite:///{target}/readings.db")
    truth = sim.truth
    try:
        yield DashboardEstate(sim, database, store, sim.end, sorted(set(truth["uprn"])),
                              sorted(set(truth.loc[truth["property_damp_prone"], "uprn"])))
    finally:
        store.close()
        database.dispose()
