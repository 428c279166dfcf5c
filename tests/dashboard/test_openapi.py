"""The OpenAPI document: valid, in step with the URL map, and true of every answer the real API gives.

Each operation is called for every status its document lists (and only those), on the scored estate with
a case, an inspection and device health (``build_api_world``); every JSON body is checked against the
documented schema with ``jsonschema`` (Draft 2020-12, as OpenAPI 3.1 uses), made strict for the test so
that a field the API sends but the document leaves out fails too.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import socket
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from dashboard.openapi import openapi_document
from tests.dashboard.test_api import V1, ApiWorld, build_api_world

DOCUMENT = openapi_document()
DOCUMENT_URI = "urn:dampwatch:openapi"
METHODS = ("get", "post", "put", "patch", "delete")
#: (path, method) of every operation the document describes.
DOCUMENTED = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item if method in METHODS}


def _strict(node: Any) -> Any:
    """A copy of a schema where every object with listed properties refuses others (for the tests only)."""
    if isinstance(node, dict):
        copied = {key: _strict(value) for key, value in node.items()}
        if copied.get("type") == "object" and "properties" in copied:
            copied.setdefault("additionalProperties", False)
        return copied
    if isinstance(node, list):
        return [_strict(value) for value in node]
    return node


STRICT = _strict(DOCUMENT)
REGISTRY = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(STRICT, default_specification=DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _response(path: str, method: str, status: str) -> tuple[dict, str]:
    """The documented response (``$ref`` followed) and its JSON pointer in the document."""
    response = DOCUMENT["paths"][path][method]["responses"][status]
    pointer = "#/" + _pointer("paths", path, method, "responses", status)
    if "$ref" in response:
        pointer = response["$ref"]
        response = DOCUMENT["components"]["responses"][pointer.rsplit("/", 1)[-1]]
    return response, pointer


def validator_for(pointer: str) -> Draft202012Validator:
    """A validator of the schema at ``pointer`` in the (strict) document, refs resolved, formats checked."""
    return Draft202012Validator({"$ref": DOCUMENT_URI + pointer}, registry=REGISTRY, format_checker=FormatChecker())


def check_response(path: str, method: str, response) -> None:
    """Fail unless the answer's status is documented and its body and headers are as documented."""
    status = str(response.status_code)
    documented = DOCUMENT["paths"][path][method]["responses"]
    assert status in documented, f"{method.upper()} {path} answered {status}, which is not documented"
    spec, pointer = _response(path, method, status)
    assert response.mimetype == "application/json"
    body = response.get_json()
    errors = sorted(validator_for(f"{pointer}/content/application~1json/schema").iter_errors(body), key=str)
    assert not errors, f"{method.upper()} {path} {status}: " + "; ".join(
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors[:5])
    for header in spec.get("headers", {}):
        assert header in response.headers, f"{method.upper()} {path} {status} lacks the documented {header} header"


# --- the document itself --------------------------------------------------------------------------------


def test_the_document_is_valid_openapi():
    """openapi-spec-validator accepts the document (OpenAPI 3.1)."""
    validate_spec(copy.deepcopy(DOCUMENT))
    assert DOCUMENT["openapi"].startswith("3.1")


def test_the_served_document_is_valid_and_public(app):
    """GET /api/v1/openapi.json needs no token and serves the document with the dashboard's address."""
    with app.test_client() as client:
        response = client.get(f"{V1}/openapi.json")
    assert response.status_code == 200
    served = response.get_json()
    validate_spec(served)
    assert served["paths"] == DOCUMENT["paths"] and served["servers"][0]["url"].startswith("http")


def _routed(app) -> set[tuple[str, str]]:
    pairs = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(V1 + "/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            pairs |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return pairs


def test_every_api_route_is_documented_and_every_documented_operation_is_routed(app):
    """The URL map under /api/v1 and the document's paths and methods are the same set."""
    assert _routed(app) == DOCUMENTED


def test_an_undocumented_route_would_be_found(app):
    """The comparison sees a route added without documentation (the check can fail)."""
    app.add_url_rule(f"{V1}/secret", "api_secret", lambda: "")
    assert _routed(app) - DOCUMENTED == {(f"{V1}/secret", "get")}


def test_a_field_left_out_of_the_document_fails_the_check():
    """The strict schemas refuse a field the document does not list (the response check can fail)."""
    validator = validator_for("#/components/schemas/Team")
    assert validator.is_valid({"id": 1, "name": "North team"})
    assert not validator.is_valid({"id": 1, "name": "North team", "secret": "x"})
    assert not validator.is_valid({"id": 1})


def test_a_time_that_is_not_iso_8601_fails_the_check():
    """Formats are checked too (date-time needs rfc3339-validator, which openapi-schema-validator brings)."""
    validator = validator_for("#/components/schemas/CaseEvent")
    event = {"at": "2026-01-05T09:00:00Z", "kind": "note", "actor": "officer@example.org", "text": ""}
    assert validator.is_valid(event)
    assert not validator.is_valid({**event, "at": "5 January 2026"})


# --- every operation's real answers ---------------------------------------------------------------------

Request = Callable[[ApiWorld], Any]


@dataclasses.dataclass(frozen=True)
class Operation:
    """How to make the API give each documented status of one operation."""

    path: str
    method: str
    calls: dict[str, Request]


def _get(path: Callable[[ApiWorld], str] | str, *, role: str | None = "officer", **query: Any) -> Request:
    def call(world: ApiWorld):
        return world.get(path(world) if callable(path) else path, role=role, query=query or None)
    return call


def _post_case(body: Callable[[ApiWorld], Any], *, role: str = "officer") -> Request:
    def call(world: ApiWorld):
        return world.call("POST", "/cases", role=role, json=body(world))
    return call


def _new_case(world: ApiWorld) -> dict:
    uprn = next(u for u in reversed(world.estate.uprns) if u != world.case_uprn)
    return {"uprn": uprn, "aware_at": "2026-01-24T09:30:00Z", "summary": "Reported by the contact centre",
            "room_id": None, "source": "officer", "emergency": False,
            "hazards": [{"hazard": "excess_cold", "severity": "high"}]}


def _standard(path: Callable[[ApiWorld], str] | str, bad: dict) -> dict[str, Request]:
    return {"200": _get(path), "400": _get(path, **bad), "401": _get(path, role=None),
            "403": _get(path, role="repair")}


OPERATIONS = [
    Operation("/api/v1/properties", "get", _standard("/properties", {"band": "purple"})),
    Operation("/api/v1/properties/{uprn}", "get", {
        **_standard(lambda w: f"/properties/{w.case_uprn}", {"colour": "red"}),
        "404": _get("/properties/999999999999")}),
    Operation("/api/v1/properties/{uprn}/risk", "get", {
        **_standard(lambda w: f"/properties/{w.case_uprn}/risk", {"since": "today"}),
        "404": _get("/properties/999999999999/risk")}),
    Operation("/api/v1/properties/{uprn}/thermal", "get", {
        **_standard(lambda w: f"/properties/{w.case_uprn}/thermal", {"days": "14"}),
        "404": _get("/properties/999999999999/thermal"),
        "503": lambda w: dataclasses.replace(w, app=_app_with_store_down(w)).get(
            f"/properties/{w.case_uprn}/thermal")}),
    Operation("/api/v1/risk", "get", _standard("/risk", {"vulnerable": "perhaps"})),
    Operation("/api/v1/rooms/{room_id}/readings", "get", {
        **_standard(lambda w: f"/rooms/{w.room_id}/readings", {"from": "2025-01-01T00:00:00Z"}),
        "200": _get(lambda w: f"/rooms/{w.room_id}/readings", **{"from": "2026-01-20T00:00:00Z",
                                                                 "to": "2026-01-21T00:00:00Z"}),
        "404": _get("/rooms/999999/readings"),
        "503": lambda w: dataclasses.replace(w, app=_app_with_store_down(w)).get(f"/rooms/{w.room_id}/readings")}),
    Operation("/api/v1/devices", "get", _standard("/devices", {"offline": "sometimes"})),
    Operation("/api/v1/cases", "get", _standard("/cases", {"status": "lost"})),
    Operation("/api/v1/cases", "post", {
        "201": _post_case(_new_case),
        "400": _post_case(lambda w: {**_new_case(w), "aware_at": "2026-01-24"}),
        "401": lambda w: w.call("POST", "/cases", role=None, json=_new_case(w)),
        "403": _post_case(_new_case, role="admin"),
        "404": _post_case(lambda w: {**_new_case(w), "uprn": "999999999999"}),
        "409": _post_case(lambda w: {**_new_case(w), "uprn": w.case_uprn})}),
    Operation("/api/v1/cases/{case_id}", "get", {
        **_standard(lambda w: f"/cases/{w.case_id}", {"cursor": "x"}),
        "404": _get("/cases/999999")}),
    Operation("/api/v1/cases/{case_id}/emergency", "post", {
        "200": lambda w: w.call("POST", f"/cases/{w.case_id}/emergency", role="officer",
                                json={"emergency": True, "reason": "A baby sleeps in the affected room"}),
        "400": lambda w: w.call("POST", f"/cases/{w.case_id}/emergency", role="officer",
                                json={"emergency": True, "reason": ""}),
        "401": lambda w: w.call("POST", f"/cases/{w.case_id}/emergency", role=None,
                                json={"emergency": True, "reason": "x"}),
        "403": lambda w: w.call("POST", f"/cases/{w.case_id}/emergency", role="admin",
                                json={"emergency": True, "reason": "x"}),
        "404": lambda w: w.call("POST", "/cases/999999/emergency", role="officer",
                                json={"emergency": True, "reason": "x"})}),
    Operation("/api/v1/awaab-export", "get", _standard("/awaab-export", {"since": "yesterday"})),
    Operation("/api/v1/inspections", "get", _standard("/inspections", {"status": "maybe"})),
    Operation("/api/v1/openapi.json", "get", {"200": _get("/openapi.json", role=None)}),
]


def _app_with_store_down(world: ApiWorld):
    """The same app database with a readings store nothing listens for (VictoriaMetrics on a free port)."""
    from core.readings import open_store
    from dashboard import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    parts = world.app.extensions["dampwatch"]
    store = open_store(f"victoriametrics://127.0.0.1:{port}?check_dedup=false&timeout=1")
    return create_app(parts.settings, database=parts.database, store=store)


def test_every_documented_operation_is_exercised_below():
    """The table of calls covers every operation in the document."""
    assert {(op.path, op.method) for op in OPERATIONS} == DOCUMENTED


@pytest.fixture
def world(app, staff, scored_estate) -> ApiWorld:
    """The API on the scored estate, with tokens, cases, an inspection and device health."""
    return build_api_world(app, staff, scored_estate)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_every_documented_answer_matches_its_schema(world, operation):
    """Each documented status of the operation really happens, and its body fits the documented schema."""
    documented = set(DOCUMENT["paths"][operation.path][operation.method]["responses"])
    assert set(operation.calls) == documented, "the table must make each documented status happen"
    for status, call in sorted(operation.calls.items()):
        response = call(world)
        assert str(response.status_code) == status, (
            f"{operation.method.upper()} {operation.path}: wanted {status}, got {response.status_code}: "
            f"{response.get_data(as_text=True)[:500]}")
        check_response(operation.path, operation.method, response)
        body = response.get_json()
        if status == "200" and "items" in body:
            assert body["items"], f"{operation.path}: the list is empty, so its item schema went unchecked"


def test_the_case_sent_fits_the_request_schema(world):
    """The body the tests post is valid against the documented NewCase schema."""
    validator = validator_for("#/components/schemas/NewCase")
    assert validator.is_valid(_new_case(world))
    assert not validator.is_valid({**_new_case(world), "colour": "green"})


def _sample(parameter: dict, world: ApiWorld) -> str:
    """A valid value for a documented query parameter, worked out from its schema."""
    schema = parameter["schema"]
    name = parameter["name"]
    items = schema.get("items", schema)
    if "enum" in items:
        return items["enum"][0]
    if schema.get("format") == "date-time":
        return "2026-01-21T00:00:00Z" if name == "to" else "2026-01-10T00:00:00Z"
    if schema.get("format") == "date":
        return "2026-01-21" if name == "to" else "2026-01-10"
    if schema["type"] == "boolean":
        return "true"
    if schema["type"] == "integer":
        return "5"
    if name == "uprn":
        return world.case_uprn
    if name == "postcode_district":
        return "LS6"
    raise AssertionError(f"no sample for the parameter {name}; add one")


GET_OPERATIONS = [op for op in OPERATIONS if op.method == "get"]


@pytest.mark.parametrize("operation", GET_OPERATIONS, ids=lambda op: op.path)
def test_every_documented_query_parameter_is_accepted(world, operation):
    """A request with every documented query parameter (bar the cursor) is answered 200, not refused."""
    parameters = DOCUMENT["paths"][operation.path]["get"].get("parameters", [])
    components = DOCUMENT["components"]["parameters"]
    resolved = [components[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p for p in parameters]
    query = {p["name"]: _sample(p, world) for p in resolved if p["in"] == "query" and p["name"] != "cursor"}
    path = operation.path.removeprefix(V1).format(uprn=world.case_uprn, room_id=world.room_id, case_id=world.case_id)
    response = world.get(path, query=query, role=None if operation.path.endswith("openapi.json") else "officer")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    check_response(operation.path, "get", response)


@pytest.mark.parametrize("operation", GET_OPERATIONS, ids=lambda op: op.path)
def test_an_undocumented_query_parameter_is_refused(world, operation):
    """A parameter the document does not list gets a 400 naming it, so a typo is never silently ignored."""
    path = operation.path.removeprefix(V1).format(uprn=world.case_uprn, room_id=world.room_id, case_id=world.case_id)
    response = world.get(path, query={"colour": "red"}, role=None if operation.path.endswith("openapi.json") else "officer")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unknown_parameter"
