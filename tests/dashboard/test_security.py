"""Security of every page: headers, CSRF, cookies, the secret key, strict templates and the built assets."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat

import pytest
from jinja2 import UndefinedError

from core.settings import Settings
from dashboard import STATIC_DIR
from dashboard.extensions import get_database
from tests.conftest import IN_CI
from tests.dashboard.conftest import STAFF_PASSWORD, ClientRequest, add_user, dashboard_settings
from tests.dashboard.test_permissions import URL_MAP_APP, _url

EXPECTED_CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
                "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def test_pages_carry_the_security_headers(client_request):
    """A signed-in page has the CSP with this request's nonce, HSTS, nosniff, a referrer policy and no-store."""
    response = client_request.get_response("main.risk_list")
    headers = response.headers
    nonce = re.search(r"'nonce-([^']+)'", headers["Content-Security-Policy"]).group(1)
    assert headers["Content-Security-Policy"] == EXPECTED_CSP.format(nonce=nonce)
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    scripts = re.findall(r"<script[^>]*>", body)
    assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)
    assert ' style="' not in body  # style-src 'self' would block inline styles


def test_each_request_gets_a_new_nonce(client_request):
    """The nonce is never reused, so an injected script cannot guess it."""
    nonces = {re.search(r"'nonce-([^']+)'", client_request.get_response("main.risk_list")
                        .headers["Content-Security-Policy"]).group(1) for _ in range(3)}
    assert len(nonces) == 3 and all(len(nonce) >= 22 for nonce in nonces)


def test_error_pages_and_the_sign_in_page_carry_the_headers(app, staff):
    """Headers are set on every response, including 404s for signed-out visitors."""
    client = app.test_client()
    for url, status in (("/sign-in", 200), ("/no-such-page", 404)):
        response = client.get(url)
        assert response.status_code == status
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def _form_posts() -> list:
    cases = []
    for rule in sorted(URL_MAP_APP.url_map.iter_rules(), key=lambda r: r.rule):
        if "POST" in rule.methods and rule.endpoint != "static" and not rule.endpoint.startswith("api."):
            cases.append(pytest.param(rule, id=rule.rule))
    return cases


@pytest.mark.parametrize("rule", _form_posts())
def test_every_form_post_needs_a_csrf_token(app, staff, rule):
    """A POST without a CSRF token (or with a forged one) is refused with 400, signed in or not."""
    helper = ClientRequest(app, app.test_client())
    url = _url(app, rule)
    response = helper.client.post(url, data={})
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)
    helper.login(staff.admin)
    assert helper.client.post(url, data={"csrf_token": "forged"}).status_code == 400


def test_csrf_token_from_another_session_is_refused(app, staff):
    """A token is bound to its session: one taken from another browser does not work."""
    attacker = ClientRequest(app, app.test_client())
    token = attacker.get("auth.sign_in").select_one("input[name=csrf_token]")["value"]
    victim = ClientRequest(app, app.test_client())
    victim.get("auth.sign_in")
    response = victim.client.post("/sign-in", data={"email": staff.officer.email, "password": STAFF_PASSWORD,
                                                   "csrf_token": token})
    assert response.status_code == 400


@pytest.mark.parametrize(("secure", "flag"), [(True, True), (False, False)])
def test_session_cookie_flags(settings, staff_free_app_factory, secure, flag):
    """The session cookie is HttpOnly and SameSite=Lax, Secure unless turned off, and lasts web_session_hours."""
    app = staff_free_app_factory(dashboard_settings(settings, web_cookie_secure=secure, web_session_hours=8))
    client = app.test_client()
    helper = ClientRequest(app, client)
    with app.app_context(), get_database().session() as session:
        add_user(session, "officer")
    client.get("/sign-in")
    response = client.post("/sign-in", data={"email": "officer@example.org", "password": STAFF_PASSWORD,
                                             "csrf_token": helper._session_csrf_token()})
    assert response.status_code == 302
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("dampwatch_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert "samesite=lax" in cookie.lower()
    assert ("secure" in attributes) is flag
    expires = dt.datetime.strptime(re.search(r"Expires=([^;]+)", cookie).group(1), "%a, %d %b %Y %H:%M:%S GMT")
    hours = (expires.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)).total_seconds() / 3600
    assert 7.9 < hours <= 8.0


@pytest.fixture
def staff_free_app_factory(tmp_path, _migrated_database_file):
    """Make apps with other settings on a fresh copy of the migrated database."""
    import shutil

    from core.db import Database
    from dashboard import create_app

    databases = []

    def make(settings: Settings):
        path = tmp_path / f"app{len(databases)}.db"
        shutil.copyfile(_migrated_database_file, path)
        databases.append(Database(f"sqlite:///{path}", migrate=False))
        return create_app(settings, database=databases[-1])

    yield make
    for database in databases:
        database.dispose()


def test_secret_key_is_made_once_and_kept_private(settings, staff_free_app_factory):
    """Without a configured key one is made in var/secret_key (mode 0600) and reused by the next start."""
    settings = settings.model_copy(update={"web_config": "testing", "web_secret_key": None})
    first = staff_free_app_factory(settings)
    path = settings.var_dir / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first.secret_key) == 64
    assert staff_free_app_factory(settings).secret_key == first.secret_key
    configured = staff_free_app_factory(settings.model_copy(update={"web_secret_key": "from-settings"}))
    assert configured.secret_key == "from-settings"


@pytest.mark.parametrize(("name", "config_class"), [
    ("production", "ProductionConfig"), ("development", "DevelopmentConfig"), ("testing", "TestingConfig")])
def test_settings_choose_the_config_class(settings, staff_free_app_factory, name, config_class):
    """web_config picks the settings class; CSRF is on in every one."""
    import dashboard

    app = staff_free_app_factory(dashboard_settings(settings, web_config=name))
    expected = getattr(dashboard, config_class)
    assert (app.debug, app.testing) == (expected.DEBUG, expected.TESTING)
    assert app.config["WTF_CSRF_ENABLED"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_our_templates_are_strict_but_govuk_templates_work(app):
    """A misspelt variable in our own template is an error; GOV.UK Frontend's optional parameters are not."""
    with app.test_request_context():
        with pytest.raises(UndefinedError):
            app.jinja_env.from_string("{{ no_such_variable }}").render()
        with pytest.raises(UndefinedError):
            app.jinja_env.from_string("{% if no_such_variable %}x{% endif %}").render()
        html = app.jinja_env.from_string(
            '{% from "govuk_frontend_jinja/components/input/macro.html" import govukInput %}'
            '{{ govukInput({"id": "postcode", "name": "postcode", "label": {"text": "Postcode"}}) }}').render()
    assert 'id="postcode"' in html and "Postcode" in html


@pytest.mark.parametrize(("value", "filter_name", "expected"), [
    (dt.datetime(2026, 1, 14, 9, 5, tzinfo=dt.UTC), "london_datetime", "14 January 2026 at 9:05am"),
    (dt.datetime(2026, 7, 14, 12, 30, tzinfo=dt.UTC), "london_datetime", "14 July 2026 at 1:30pm"),
    (dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC), "london_datetime", "29 March 2026 at 12:59am"),
    (dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC), "london_datetime", "29 March 2026 at 2:00am"),
    (dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC), "london_date", "1 July 2026"),
    (dt.datetime(2026, 12, 31, 23, 30), "london_date", "31 December 2026"),
    (dt.date(2026, 5, 4), "london_date", "4 May 2026"),
    (None, "london_datetime", ""),
])
def test_times_are_shown_in_london(app, value, filter_name, expected):
    """Stored UTC times are shown in Europe/London, across the clock change and midnight."""
    assert app.jinja_env.filters[filter_name](value) == expected


def test_header_is_dampwatchs_own(client_request):
    """No crown, no GOV.UK logotype: the header names DampWatch in text and the footer has no crown."""
    page = client_request.get("main.risk_list")
    header = page.select_one("header")
    assert header.select_one(".govuk-service-navigation__service-name").get_text(strip=True) == "DampWatch"
    text = page.get_text()
    assert "GOV.UK" not in text and "Crown copyright" not in text
    assert page.select(".govuk-header__logotype, .govuk-footer__copyright-logo, svg.govuk-header__logotype") == []
    assert page.select_one("link[rel=icon]")["href"] == "/assets/dampwatch-icon.svg"


def test_missing_assets_are_reported_with_the_fix(settings, staff_free_app_factory, monkeypatch, caplog, tmp_path):
    """Starting without the built styles logs an error saying to run make assets."""
    import dashboard

    monkeypatch.setattr(dashboard, "BUILT_CSS", tmp_path / "missing.css")
    with caplog.at_level(logging.ERROR, logger="dashboard"):
        staff_free_app_factory(dashboard_settings(settings))
    assert "make assets" in caplog.text


@pytest.fixture
def built_assets():
    """The assets 'make assets' builds (make test builds them first); fail in CI if they are missing."""
    if not (STATIC_DIR / "dampwatch.css").exists():
        message = "the dashboard's assets are not built; run 'make assets'"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return STATIC_DIR


def test_assets_are_served_from_assets(app, built_assets):
    """The CSS, the JS module and the icon are served at /assets, and cached (not no-store)."""
    client = app.test_client()
    for name, mimetype in (("dampwatch.css", "text/css"), ("govuk-frontend.min.js", "text/javascript"),
                           ("dampwatch-icon.svg", "image/svg+xml")):
        response = client.get(f"/assets/{name}")
        assert (response.status_code, response.mimetype) == (200, mimetype)
        assert response.headers.get("Cache-Control") != "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response.close()


def test_assets_use_arial_and_ship_no_gov_uk_brand(built_assets):
    """The CSS is built with Arial; no GDS Transport font, crown, crest or GOV.UK icon is shipped."""
    css = (built_assets / "dampwatch.css").read_text()
    assert "GDS Transport" not in css and "@font-face" not in css
    assert "font-family:arial,sans-serif" in css
    assert ".dampwatch-band--critical" in css and ".govuk-button" in css
    shipped = [path.relative_to(built_assets).as_posix() for path in built_assets.rglob("*") if path.is_file()]
    assert not [name for name in shipped if re.search(r"fonts/|\.woff2?$|crest|govuk-icon|favicon|opengraph", name)]
    assert (built_assets / "VERSION").read_text().strip() == "govuk-frontend 5.14.0"
    assert "export{" in (built_assets / "govuk-frontend.min.js").read_text()
