"""Every route carries exactly one access decorator, and the checks refuse whoever they should.

The tests are parametrised over the app's URL map at collection time, so routes other modules add are
covered as soon as they exist. Which role may use which route is not read from the decorators here (a
widened decorator would then widen the test): that is the hand-written table in ``access_table.py``, tested
by ``test_access_table.py``.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from flask import Flask

from core.settings import Settings
from dashboard.auth import ACCESS_ATTRIBUTE, Access, access_of, public, roles_required
from tests.dashboard.conftest import ClientRequest

#: A value for each URL converter; the access check runs before the view looks anything up.
DUMMY_VALUES = {"int": 999999, "float": 1.5, "uuid": uuid.UUID(int=1), "path": "x/y"}


def _url_map_app() -> Flask:
    """An app built only to read its URL map at collection time (no database is opened)."""
    from dashboard import create_app

    folder = Path(tempfile.mkdtemp(prefix="dampwatch-urlmap-"))
    settings = Settings(var_dir=folder, web_config="testing", web_secret_key="url-map",
                        database_url=f"sqlite:///{folder}/app.db", readings_url=f"sqlite:///{folder}/r.db")
    return create_app(settings, database=object())  # type: ignore[arg-type]


URL_MAP_APP = _url_map_app()


def endpoints_without_access(app: Flask) -> list[str]:
    """Endpoints (other than Flask's own ``static``) whose view carries no access decorator."""
    return sorted({rule.endpoint for rule in app.url_map.iter_rules()
                   if rule.endpoint != "static" and access_of(app.view_functions[rule.endpoint]) is None})


def _cases(kind: str) -> list:
    cases = []
    for rule in sorted(URL_MAP_APP.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        access = access_of(URL_MAP_APP.view_functions[rule.endpoint])
        if access is None or access.kind != kind:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            cases.append(pytest.param(rule, method, access, id=f"{method} {rule.rule}"))
    return cases


def _url(app: Flask, rule) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        kind = type(converter).__name__.lower().replace("converter", "")
        if kind == "any":  # one of a fixed list: take the first
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = DUMMY_VALUES.get(kind) or ("100000000001" if name == "uprn" else "999999")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _send(client_request: ClientRequest, rule, method: str):
    url = _url(client_request.app, rule)
    if method == "GET":
        return client_request.client.get(url)
    data = {"csrf_token": client_request._session_csrf_token()}
    return client_request.client.open(url, method=method, data=data)


def test_every_endpoint_has_an_access_decorator(app):
    """No route is left without a role check, public reason, tenant check or API token check."""
    assert endpoints_without_access(app) == []


def test_the_meta_test_finds_a_route_without_access(app):
    """A bare route added to the app is reported (the meta-test can fail)."""
    app.add_url_rule("/forgotten", "forgotten", lambda: "open")
    assert endpoints_without_access(app) == ["forgotten"]


def test_the_url_map_has_the_skeleton_routes():
    """The parametrised tests below really walk the app's routes."""
    endpoints = {rule.endpoint for rule in URL_MAP_APP.url_map.iter_rules()}
    assert {"auth.sign_in", "auth.sign_out", "main.risk_list", "main.property_page", "admin.users"} <= endpoints


def test_a_view_cannot_carry_two_access_decorators():
    """Stacking decorators is refused when the app is built, not discovered in production."""
    with pytest.raises(TypeError, match="exactly one"):
        @roles_required("officer")
        @public("because")
        def view():
            return ""


@pytest.mark.parametrize("roles", [(), ("superuser",), ("officer", "boss")])
def test_roles_required_refuses_unknown_roles(roles):
    """A typo in a role name fails at import time."""
    with pytest.raises(ValueError, match="roles"):
        roles_required(*roles)


def test_public_needs_a_reason():
    """A public view must say why it is public."""
    with pytest.raises(ValueError, match="why"):
        public(" ")


def test_the_marker_records_the_roles():
    """The access marker carries the kind and the roles the meta-tests read."""
    @roles_required("officer", "manager")
    def view():
        return ""

    assert getattr(view, ACCESS_ATTRIBUTE) == Access("roles", ("officer", "manager"))


@pytest.mark.parametrize(("rule", "method", "access"), _cases("roles"))
def test_staff_page_sends_a_signed_out_person_to_sign_in(app, staff, rule, method, access):
    """Signed out, a staff page redirects to the sign-in page and shows nothing."""
    client = app.test_client()
    response = _send(ClientRequest(app, client), rule, method)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert response.headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize(("rule", "method", "access"), _cases("tenant"))
def test_tenant_page_refuses_anyone_but_a_signed_in_tenant(app, staff, rule, method, access):
    """Tenant pages refuse a signed-out visitor and staff alike."""
    client = app.test_client()
    helper = ClientRequest(app, client)
    assert _send(helper, rule, method).status_code == 403
    helper.login(staff.officer)
    assert _send(helper, rule, method).status_code == 403


@pytest.mark.parametrize(("rule", "method", "access"), _cases("api"))
def test_api_refuses_a_call_without_a_token(app, staff, rule, method, access):
    """API endpoints answer 401 to a call without a bearer token, even from a signed-in browser."""
    client = app.test_client()
    helper = ClientRequest(app, client)
    assert _send(helper, rule, method).status_code == 401
    helper.login(staff.officer)
    assert _send(helper, rule, method).status_code == 401
