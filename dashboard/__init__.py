"""The dashboard: risk for housing officers, jobs for repair teams, Awaab's Law clocks for managers.

``create_app`` is the app factory. The settings class is chosen by ``settings.web_config`` (production,
development or testing); extensions are bound with ``init_app``; each blueprint lives in its own module in
``dashboard/views/``. Pages use the GOV.UK Design System (govuk-frontend-jinja templates and
govuk-frontend-wtf forms) with DampWatch's own header and Arial, served from ``/assets`` (built by
``make assets``, see ``dashboard/frontend/``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from werkzeug.routing import IntegerConverter

from core.db import Database
from core.keyed_hash import app_secret
from core.settings import Settings, load_settings
from dashboard.extensions import EXTENSION_KEY, AppParts, csrf, login_manager
from dashboard.templating import DampWatchUndefined, london_date, london_datetime

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
#: The file ``make assets`` builds; without it pages have no styles.
BUILT_CSS = STATIC_DIR / "dampwatch.css"
#: Blueprint modules in ``dashboard/views/``, each defining ``bp`` (and optionally ``NAV_ITEMS``).
BLUEPRINTS = ("auth", "main", "admin", "cases", "repair", "alarms", "tenant", "api", "tokens", "portfolio", "outbox",
              "awaab")
#: The session key holding when the person signed in (UTC, ISO 8601): a sign-in lasts web_session_hours.
SIGNED_IN_AT_KEY = "signed_in_at"
#: The largest id a route accepts (PostgreSQL's integer); larger ones are 404.
MAX_ROW_ID = 2**31 - 1


class ProductionConfig:
    """Safe defaults: secure, HttpOnly, SameSite cookies; CSRF on; no debugger."""

    DEBUG = False
    TESTING = False
    SESSION_COOKIE_NAME = "dampwatch_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_ENABLED = True
    # The token lasts as long as the session (which expires after web_session_hours), not Flask-WTF's
    # default hour: an officer may leave a form open over lunch.
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    TEMPLATES_AUTO_RELOAD = False
    SEND_FILE_MAX_AGE_DEFAULT = 3600


class DevelopmentConfig(ProductionConfig):
    """For working on the dashboard: templates reload, tracebacks in the log."""

    DEBUG = True
    TEMPLATES_AUTO_RELOAD = True


class TestingConfig(ProductionConfig):
    """For tests: exceptions reach the test; CSRF stays on (tests send the token like a browser)."""

    TESTING = True
    # Werkzeug's test client sends Secure cookies over http://localhost too, so cookies stay Secure.


CONFIGS: dict[str, type[ProductionConfig]] = {
    "production": ProductionConfig,
    "development": DevelopmentConfig,
    "testing": TestingConfig,
}


def create_app(settings: Settings | None = None, *, database: Database | None = None, store: Any = None,
               config: dict | None = None) -> Flask:
    """Make a dashboard app on ``settings`` (read from the environment if None).

    ``database`` and ``store`` default to ones opened from the settings (the store on first use);
    ``config`` overrides Flask settings (tests).
    """
    settings = settings or load_settings()
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/assets")
    app.config.from_object(CONFIGS[settings.web_config])
    app.config["SECRET_KEY"] = app_secret(settings)
    app.config["SESSION_COOKIE_SECURE"] = settings.web_cookie_secure
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=settings.web_session_hours)
    app.config.update(config or {})
    app.extensions[EXTENSION_KEY] = AppParts(settings, database or Database(settings.database_url), store)

    app.url_map.converters["int"] = BoundedIntConverter
    # A path with '//' (an id holding an encoded '/') is a 404 like any other unknown path, not a 308 redirect to a
    # different resource: the API answers every bad id in JSON, and no page is reached by a path it did not ask for.
    app.url_map.merge_slashes = False
    _trust_proxies(app, settings.web_trusted_proxies)
    _set_up_jinja(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = None  # the sign-in page explains itself
    _register_blueprints(app)
    _register_hooks(app)
    _register_error_handlers(app)
    if not BUILT_CSS.exists():
        logger.error("the dashboard's styles and scripts are missing (%s); run 'make assets' to build them",
                     BUILT_CSS)
    return app


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` in every route: at most 2**31 - 1, so a 20-digit id is 404, not an overflow in the database."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def _trust_proxies(app: Flask, count: int) -> None:
    """Behind ``count`` reverse proxies, take the client's address and scheme from their X-Forwarded-* headers.

    Each proxy appends the address it received the request from; Werkzeug's ProxyFix trusts only the last
    ``count`` entries, so a client cannot forge its address by sending the header itself. 0 trusts none.
    """
    if count > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]


def _set_up_jinja(app: Flask) -> None:
    from govuk_frontend_wtf.main import WTFormsHelpers

    app.jinja_options = {**app.jinja_options, "undefined": DampWatchUndefined}
    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(str(PACKAGE_DIR / "templates")),
        PrefixLoader({
            "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
            "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
        }),
    ])
    app.jinja_env.globals["govukRebrand"] = False
    app.jinja_env.filters["london_datetime"] = london_datetime
    app.jinja_env.filters["london_date"] = london_date
    WTFormsHelpers(app)


def _register_blueprints(app: Flask) -> None:
    nav: list[tuple[str, str, tuple[str, ...]]] = []
    for name in BLUEPRINTS:
        module = importlib.import_module(f"dashboard.views.{name}")
        app.register_blueprint(module.bp)
        nav.extend(getattr(module, "NAV_ITEMS", ()))
        if name == "api":  # bearer tokens, not cookies: nothing for a forged form to ride on
            csrf.exempt(module.bp)
    app.config["DAMPWATCH_NAV_ITEMS"] = nav


def csp_nonce() -> str:
    """This request's nonce for ``<script nonce=...>`` (the CSP allows only scripts carrying it)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _navigation() -> list[dict[str, Any]]:
    """The header's links for the signed-in person's role (each blueprint module's ``NAV_ITEMS``)."""
    if not current_user.is_authenticated:
        return []
    from flask import current_app

    items = []
    for text, endpoint, roles in current_app.config["DAMPWATCH_NAV_ITEMS"]:
        if current_user.role in roles and endpoint in current_app.view_functions:
            items.append({"text": text, "href": url_for(endpoint), "current": request.endpoint == endpoint,
                          "blueprint": endpoint.partition(".")[0]})
    if not any(item["current"] for item in items):
        for item in items:  # on a page further in (a property, a case) show its section
            if request.blueprint and item["blueprint"] == request.blueprint:
                item["active"] = True
                break
    return items


def _home_url() -> str:
    from dashboard.auth import home_for

    return home_for(current_user.role) if current_user.is_authenticated else url_for("auth.sign_in")


def _register_hooks(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.context_processor
    def _template_context() -> dict[str, Any]:
        return {"cspNonce": csp_nonce(), "navigation": _navigation, "home_url": _home_url}

    @app.before_request
    def _sign_in_expires():
        """A sign-in lasts web_session_hours from when it was made, however busy the session."""
        if not current_user.is_authenticated:
            return None
        signed_in_at = session.get(SIGNED_IN_AT_KEY)
        lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
        try:
            expired = signed_in_at is None or (
                dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(signed_in_at) > lifetime)
        except ValueError:
            expired = True
        if expired:
            logout_user()
            session.clear()
            return redirect(url_for("auth.sign_in", next=request.full_path if request.method == "GET" else None))
        return None

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers["Content-Security-Policy"] = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{csp_nonce()}'; "
            "style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
            "base-uri 'self'; form-action 'self'"
        )
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.endpoint != "static":
            # Pages show people's homes and health; never keep a copy in a shared browser or proxy.
            headers["Cache-Control"] = "no-store"
        return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        logger.info("refused a form without a valid CSRF token: %s", error.description)
        return render_template("errors/400.html", csrf=True), 400

    for status in (400, 403, 404, 405, 413):
        app.register_error_handler(status, _error_page(status))

    @app.errorhandler(500)
    def _server_error(error):
        return render_template("errors/generic.html", status=500), 500


def _error_page(status: int):
    def handler(error):
        if request.blueprint == "api" or request.path.startswith("/api/"):
            from dashboard.views.api import error_response

            code = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                    413: "too_large"}.get(status, "error")
            return error_response(status, code, getattr(error, "description", str(error)))
        template = f"errors/{status}.html" if status in (400, 403, 404) else "errors/generic.html"
        return render_template(template, csrf=False, status=status), status

    return handler
