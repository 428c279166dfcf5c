"""Fixtures for the browser tests: the real dashboard over HTTP, driven by a real headless Chromium.

* ``live_server`` (one per test module, so modules do not share cases): the app from
  ``dashboard.create_app`` with PRODUCTION settings (Secure session cookie, CSRF, the CSP with a nonce) on
  a copy of the dashboard tests' scored estate (six simulated homes), with one member of staff per role
  and the team "North team". It is served by werkzeug's threaded WSGI server on a free loopback port and
  reached at ``http://localhost:<port>``: Chromium treats ``localhost`` as a secure context, so it keeps
  the Secure cookie over plain HTTP (``test_sign_in_keeps_a_secure_session_cookie_over_localhost``).
* ``browser``: Debian's ``/usr/bin/chromium`` driven by Playwright (no browser download). Without it
  the tests skip, and fail in CI (``CI`` set) with how to install it.
* ``page``: a fresh browser context (no cookies) and page at the live server. Its teardown fails the test
  when the page logged a JavaScript error or a CSP violation, or the server answered 5xx.

Helpers: :func:`sign_in`, :func:`sign_out`, :func:`save_screenshot` (``var/screenshots/``),
:func:`axe_violations`, :func:`open_case_at` and :func:`book_inspection`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from core.db import Database
from core.model import Team
from core.settings import Settings
from tests.conftest import IN_CI
from tests.dashboard.conftest import STAFF_PASSWORD, Staff, add_user

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "var" / "screenshots"
AXE_JS = REPO / "dashboard" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
#: The rule sets the dashboard must pass: WCAG 2.0 and 2.1 A and AA, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
#: axe is served to the page from this same-origin path (intercepted by Playwright), so it loads as a
#: script from 'self' and the app's CSP stays ON while axe runs.
AXE_PATH = "/__axe-core/axe.min.js"
#: Generous: the machines running CI are shared (an evidence pack with charts takes a few seconds there).
TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS // 2)  # for expect(...) assertions, which wait 5 s by default
#: A form with errors is answered 400, which Chromium logs; 5xx answers are caught from the responses.
_EXPECTED_CONSOLE_ERROR = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian, driven by Playwright; skipped (failed in CI) when it is not installed."""
    if not CHROMIUM.exists():
        message = (f"{CHROMIUM} is not installed; install it with 'apt-get install -y chromium chromium-driver' "
                   "(or 'make system')")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@dataclasses.dataclass
class LiveServer:
    """The dashboard served over HTTP: its address, database, readings store, staff and estate."""

    url: str
    app: Any
    database: Database
    store: Any
    staff: Staff
    uprns: list[str]

    def url_for(self, endpoint: str, **values: Any) -> str:
        """The path of a view, built by the app (so tests follow the routes)."""
        from flask import url_for

        with self.app.test_request_context():
            return url_for(endpoint, **values)

    def today(self) -> dt.date:
        from core.workdays import london_date

        return london_date(dt.datetime.now(dt.UTC))

    def next_working_day(self) -> dt.date:
        """The first working day from today (today itself when it is one)."""
        from core.scheduling import next_working_days

        return next_working_days(self.today(), 1)[0]


def _settings(folder: Path) -> Settings:
    """Production settings (Secure cookies, CSRF, CSP) with every file in ``folder``, ignoring the environment."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in list(os.environ):
            if name.startswith("DAMPWATCH_"):
                monkeypatch.delenv(name)
        return Settings(var_dir=folder, database_url=f"sqlite:///{folder}/app.db",
                        readings_url=f"sqlite:///{folder}/readings.db", metrics_port=0,
                        web_config="production", web_secret_key="browser-test-secret-key",
                        web_cookie_secure=True)


def _add_staff(database: Database) -> Staff:
    with database.session() as session:
        team = Team(name="North team", daily_capacity=3, districts="")
        session.add(team)
        session.flush()
        people = {role: add_user(session, role, team=team if role == "repair" else None)
                  for role in ("officer", "repair", "manager", "admin")}
        for person in people.values():
            _ = person.team
    return Staff(team=team, **people)


@pytest.fixture(scope="module")
def live_server(_scored_estate_files, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The dashboard on its own copy of the scored estate, served by a real WSGI server in a thread."""
    from core.store_sqlite import SQLiteReadingsStore
    from dashboard import create_app

    sim, source = _scored_estate_files
    folder = tmp_path_factory.mktemp("browser_estate")
    for name in ("app.db", "readings.db"):
        shutil.copyfile(source / name, folder / name)
    database = Database(f"sqlite:///{folder}/app.db", migrate=False)
    store = SQLiteReadingsStore(f"sqlite:///{folder}/readings.db")
    staff = _add_staff(database)
    holder: dict[str, Any] = {}

    def wsgi(environ, start_response):  # the app is made once the port (and so the address) is known
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    url = f"http://localhost:{server.server_port}"
    settings = _settings(folder).model_copy(update={"web_public_url": url})
    holder["app"] = create_app(settings, database=database, store=store)
    thread = threading.Thread(target=server.serve_forever, name="dashboard-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url, holder["app"], database, store, staff, sorted(set(sim.truth["uprn"])))
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        store.close()
        database.dispose()


def open_page(browser, live_server: LiveServer) -> tuple[Any, list[str]]:
    """A new browser context (no cookies) and page at the live server, and the list its problems go to.

    The page's JavaScript errors and CSP violations (Chromium logs both as console errors) and any 5xx
    answer are collected. (4xx answers are expected: a form with errors is answered 400.)
    """
    context = browser.new_context(base_url=live_server.url, accept_downloads=True, locale="en-GB",
                                  timezone_id="Europe/London", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.route(f"**{AXE_PATH}", lambda route: route.fulfill(path=str(AXE_JS), content_type="text/javascript"))
    browser_page = context.new_page()
    problems: list[str] = []
    browser_page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
                    if message.type == "error" and not _EXPECTED_CONSOLE_ERROR.match(message.text) else None)
    browser_page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    browser_page.on("response", lambda response: problems.append(
        f"{response.status} from {response.request.method} {response.url}") if response.status >= 500 else None)
    return browser_page, problems


@pytest.fixture
def page(browser, live_server: LiveServer) -> Iterator[Any]:
    """A fresh page (no cookies) at the live server, with the app's CSP in force; see :func:`open_page`.

    The test errors at teardown if the page logged a JavaScript error or CSP violation or got a 5xx.
    """
    browser_page, problems = open_page(browser, live_server)
    try:
        yield browser_page
    finally:
        browser_page.context.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)


# --- helpers -----------------------------------------------------------------------------------------------


def sign_in(page, user, password: str = STAFF_PASSWORD) -> None:
    """Sign in through the real sign-in form and wait to leave it."""
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)


def sign_out(page) -> None:
    """Sign out with the header's button and wait for the sign-in page."""
    page.get_by_role("button", name=re.compile(r"^Sign out")).click()
    page.wait_for_url(re.compile(r"/sign-in"))


_LOAD_IMAGES = """async () => {
  const images = Array.from(document.images);
  images.forEach(image => { image.loading = "eager"; });
  await Promise.all(images.map(image => image.complete ? null
    : new Promise(done => { image.addEventListener("load", done); image.addEventListener("error", done); })));
}"""


def save_screenshot(page, name: str) -> Path:
    """A full-page screenshot in ``var/screenshots/<name>.png`` (for people to look at; not compared).

    Lazy images (the property page's charts) are loaded first, so the picture shows them.
    """
    page.evaluate(_LOAD_IMAGES)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


_AXE_RUN = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary})),
  }));
}"""


def axe_violations(page, name: str) -> list[dict[str, Any]]:
    """axe-core's violations of ``AXE_TAGS`` on the page as it is now; also written to ``var/axe/<name>.json``.

    axe is loaded with a ``<script src>`` from the page's own origin (Playwright serves the npm package's
    ``axe.min.js`` there), so the CSP does not have to be bypassed.
    """
    if not AXE_JS.exists():
        message = f"{AXE_JS} is missing; run 'make assets' (npm ci in dashboard/frontend installs axe-core)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_PATH)
    violations = page.evaluate(_AXE_RUN, AXE_TAGS)
    report = REPO / "var" / "axe" / f"{name}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"url": page.url, "violations": violations}, indent=2))
    return violations


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """Violations as text a person can act on: rule, impact, what to fix and each failing element."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html'][:300]}")
            lines.append("      " + (node["summary"] or "").replace("\n", "\n      "))
    return "\n".join(lines)


def open_case_at(server: LiveServer, uprn: str) -> int:
    """Open a case at ``uprn`` (through ``core``, as the officer; aware an hour ago); its id."""
    from core.cases import open_case

    with server.database.session() as session:
        case = open_case(session, uprn=uprn, aware_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                         source="risk_flag", actor=server.staff.officer.email, summary="Seeded by the browser tests")
        return case.id


def book_inspection(server: LiveServer, uprn: str, *, when: dt.date | None = None) -> tuple[int, int]:
    """Open a case at ``uprn`` and book it for the repair team (through ``core``): (case id, inspection id)."""
    from core.model import Case
    from core.scheduling import schedule_inspection

    case_id = open_case_at(server, uprn)
    with server.database.session() as session:
        inspection = schedule_inspection(session, session.get(Case, case_id), session.get(Team, server.staff.team.id),
                                         when or server.next_working_day(), server.staff.officer.email)
        return case_id, inspection.id


def tenant_link(server: LiveServer, uprn: str) -> str:
    """Add a tenant at ``uprn`` and a one-time sign-in link for them (as if sent); the link's path."""
    import secrets

    from alerts.tenant_access import link_token_hash
    from core.model import Tenant
    from core.model_alerts import TenantLoginToken
    from dashboard.extensions import EXTENSION_KEY

    token = secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    with server.database.session() as session:
        tenant = Tenant(uprn=uprn, name="Sam Tenant", email=f"tenant-{uprn}@example.org", preferred_channel="email",
                        language="en", consent=True, consent_at=now)
        session.add(tenant)
        session.flush()
        stored = link_token_hash(server.app.extensions[EXTENSION_KEY].settings, token)  # a keyed hash, as sent
        session.add(TenantLoginToken(tenant_id=tenant.id, token_sha256=stored,
                                     created_at=now, expires_at=now + dt.timedelta(minutes=30)))
    return server.url_for("tenant.landing", token=token)
