"""The JSON API for a council's other systems: properties, risk, hourly readings, devices, cases, inspections.

A separate way in from the pages: callers send a personal bearer token (``dashboard.api_tokens``), so the
blueprint is exempt from CSRF (there is no cookie for a forged form to ride on). Every route carries
``@api_token_required`` except the OpenAPI document, which is public so a developer can read it before
they have a token.

The OpenAPI document (``dashboard/openapi.py``) is the contract: each view accepts exactly the query
parameters the document lists for it, and ``tests/dashboard/test_openapi.py`` checks every answer against
the documented schema. Lists are paged with an opaque ``cursor`` (keyset pagination: a page is the same
however many rows are added before it) and a ``limit``. Errors are ``{"error": {"code", "message"}}`` with a
message that says how to put the request right.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for
from sqlalchemy import Select, and_, false, not_, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from analytics.risk import CAUSES
from core.cases import CaseError, DuplicateCaseError, open_case, step_clocks
from core.errors import DampWatchError, StoreError, ValidationError
from core.health import LOW_BATTERY_V
from core.model import (
    CASE_STATUSES,
    INSPECTION_STATUSES,
    RISK_BANDS,
    Case,
    Device,
    DeviceHealth,
    Finding,
    Inspection,
    Installation,
    Property,
    PropertyRisk,
    Room,
    RoomRisk,
    normalise_uprn,
    postcode_district,
)
from dashboard.access import current_viewer, scope
from dashboard.auth import api_token_required, public
from dashboard.extensions import get_database, get_settings, get_store
from dashboard.openapi import (
    API_CASE_SOURCES,
    DEFAULT_LIMIT,
    EARLIEST_YEAR,
    LATEST_YEAR,
    MAX_ID,
    MAX_LIMIT,
    NEW_CASE,
    READINGS_DEFAULT_DAYS,
    READINGS_MAX_DAYS,
    openapi_document,
    query_parameters,
)
from dashboard.queries import PropertyDetail, latest_run, property_detail

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Who may read through the API (repair team members work from their job list instead).
READERS = ("officer", "manager", "admin")
#: Who may open a case through the API: the people who open cases in the dashboard.
CASE_OPENERS = ("officer", "manager")
VULNERABILITY_FLAGS = ("child_under_15", "over_65", "respiratory_condition")
_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
_RULE_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_TIME_EXAMPLE = "2026-01-05T09:00:00Z"


class ApiError(DampWatchError):
    """A request the API refuses: the HTTP status, a stable code and a message saying how to fix it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> Response:
    """The API's error answer: ``{"error": {"code": ..., "message": ...}}`` with ``status``."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message)


#: Reads that return personal data (households' vulnerability, tenants' words in cases, findings in homes):
#: each answered one is recorded in the audit log with the token that asked.
PERSONAL_READS = ("api.list_properties", "api.get_property", "api.list_risk", "api.list_cases", "api.get_case",
                  "api.list_inspections")


@bp.after_request
def _audit_personal_reads(response: Response) -> Response:
    if request.endpoint in PERSONAL_READS and response.status_code == 200 and g.get("api_user") is not None:
        from dashboard.auth import audit

        object_id = (request.view_args or {}).get("uprn") or (request.view_args or {}).get("case_id")
        with get_database().session() as session:
            audit(session, "api.read", request.endpoint.removeprefix("api."), object_id,
                  token_id=g.get("api_token_id"), query=request.query_string.decode("ascii", "replace")[:500])
    return response


def _bad(message: str, code: str = "invalid_parameter") -> ApiError:
    return ApiError(400, code, message)


def _not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


# --- reading the request -------------------------------------------------------------------------------


def document_path(rule: str) -> str:
    """A Flask rule as the OpenAPI document writes it (``/cases/<int:case_id>`` → ``/cases/{case_id}``)."""
    return _RULE_PARAMETER.sub(r"{\1}", rule)


def _check_query() -> None:
    """Refuse query parameters the document does not list for this operation (a typo would be ignored)."""
    rule = request.url_rule
    assert rule is not None  # called from the views, so the request matched a route
    allowed = query_parameters(document_path(rule.rule), request.method)
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        takes = f"It takes: {', '.join(allowed)}." if allowed else "It takes no query parameters."
        raise _bad(f"Unknown query parameter {', '.join(repr(name) for name in unknown)}. {takes}",
                   "unknown_parameter")


def _limit() -> int:
    text = request.args.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise _bad(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {text!r}.")
    return int(text)


def _cursor(kinds: Sequence[Callable[[Any], Any]]) -> list[Any] | None:
    """The page's starting point from ``cursor`` (base64 of a JSON list), converted with ``kinds``."""
    text = request.args.get("cursor")
    if text is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong length")
        return [None if value is None else kind(value) for kind, value in zip(kinds, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad("cursor is not valid. Pass the next_cursor of the previous page unchanged, or leave "
                   "cursor out to start from the first page.") from exc


def _encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def _time(name: str) -> dt.datetime | None:
    text = request.args.get(name)
    if text is None:
        return None
    return _parse_time(text, name)


def _parse_time(text: str, name: str) -> dt.datetime:
    hint = ""
    if " " in text.strip():
        hint = " A + in a URL must be written %2B; or write UTC times with Z."
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise _bad(f"{name} must be an ISO 8601 date and time with a time zone, for example {_TIME_EXAMPLE}, "
                   f"not {text!r}.{hint}") from None
    if value.tzinfo is None:
        raise _bad(f"{name} has no time zone: add Z for UTC, for example {_TIME_EXAMPLE}.")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise _bad(f"{name} must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}, not {text!r}.",
                   "out_of_range")
    return value.astimezone(dt.UTC)


def _date(name: str) -> dt.date | None:
    text = request.args.get(name)
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise _bad(f"{name} must be a date as YYYY-MM-DD, for example 2026-01-05, not {text!r}.") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise _bad(f"{name} must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}, not {text!r}.",
                   "out_of_range")
    return day


def _boolean(name: str) -> bool | None:
    text = request.args.get(name)
    if text is None:
        return None
    if text.lower() not in ("true", "false"):
        raise _bad(f"{name} must be true or false, not {text!r}.")
    return text.lower() == "true"


def _choice(name: str, values: Sequence[str]) -> str | None:
    text = request.args.get(name)
    if text is not None and text not in values:
        raise _bad(f"{name} must be one of {', '.join(values)}; not {text!r}.")
    return text


def _bands() -> list[str]:
    bands = request.args.getlist("band")
    unknown = [band for band in bands if band not in RISK_BANDS]
    if unknown:
        raise _bad(f"band {unknown[0]!r} is not a risk band; use one of: {', '.join(RISK_BANDS)} "
                   "(repeat band= for several).")
    return bands


def _district() -> str | None:
    text = request.args.get("postcode_district")
    if text is None:
        return None
    district = text.strip().upper()
    if not _DISTRICT.match(district):
        raise _bad(f"postcode_district must be the first part of a postcode, such as LS6 or M14, not {text!r}.")
    return district


def _uprn(text: str, name: str = "uprn") -> str:
    try:
        return normalise_uprn(text)
    except ValidationError:
        raise _bad(f"{name} must be a UPRN: 1 to 12 digits, not {text!r}.") from None


def _uprn_filter() -> str | None:
    text = request.args.get("uprn")
    return None if text is None else _uprn(text)


def _whole_number(text: str, name: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise _bad(f"{name} must be a whole number of 1 or more, not {text!r}.")
    if int(text) > MAX_ID:
        raise _bad(f"{name} must be at most {MAX_ID}, not {text}.", "out_of_range")
    return int(text)


def _cursor_int(value: Any) -> int:
    """An id or number inside a cursor: a whole number within the database's range."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise ValueError("not an id")
    return value


def _cursor_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("not a number")
    return float(value)


def _cursor_time(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None or not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError("not a time")
    return moment


def _cursor_date(value: Any) -> dt.date:
    day = dt.date.fromisoformat(value)
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise ValueError("not a date")
    return day


def _cursor_text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("not a key")
    return value


def _page(session: Session, query: Select, limit: int, item: Callable[[Any], dict],
          key: Callable[[Any], list]) -> Response:
    """Run a keyset query (already ordered and past the cursor) for one page and answer with it.

    ``key`` gives the cursor values of a row: the sort key, so the next page starts after the last row.
    """
    rows = session.execute(query.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify({
        "items": [item(row) for row in rows],
        "limit": limit,
        "next_cursor": _encode_cursor(key(rows[-1])) if more else None,
    })


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- turning rows into JSON ----------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _vulnerability(home: Property) -> dict[str, bool | None]:
    return {flag: getattr(home, flag) for flag in VULNERABILITY_FLAGS}


def _property_fields(home: Property) -> dict[str, Any]:
    return {
        "uprn": home.uprn,
        "address": home.address,
        "postcode": home.postcode,
        "postcode_district": postcode_district(home.postcode),
        "site": home.site,
        "vulnerable": home.vulnerable,
        "vulnerability": _vulnerability(home),
        "updated_at": _iso(home.updated_at),
    }


def _risk_summary(risk: PropertyRisk | None) -> dict[str, Any] | None:
    if risk is None:
        return None
    return {"score": _finite(risk.score), "band": risk.band, "cause": risk.cause,
            "driver_room": risk.driver_room, "computed_at": _iso(risk.computed_at)}


def _risk(risk: PropertyRisk) -> dict[str, Any]:
    return {
        "uprn": risk.uprn,
        "run_id": risk.run_id,
        "computed_at": _iso(risk.computed_at),
        "score": _finite(risk.score),
        "physics_score": _finite(risk.physics_score),
        "band": risk.band,
        "driver_room_id": risk.driver_room_id,
        "driver_room": risk.driver_room,
        "cause": risk.cause,
        "cold_home": bool(risk.cold_home),
        "mean_temperature_c": _finite(risk.mean_temperature_c),
        "data_coverage": _finite(risk.data_coverage) or 0.0,
        "outdoor_source": risk.outdoor_source,
        "reasons": [str(reason) for reason in risk.reasons or []],
        "what_would_help": [str(advice) for advice in risk.what_would_help or []],
        "model_name": risk.model_name,
        "model_version": risk.model_version,
    }


def _room_risk(risk: RoomRisk | None) -> dict[str, Any] | None:
    if risk is None:
        return None
    return {
        "computed_at": _iso(risk.computed_at),
        "score": _finite(risk.score),
        "band": risk.band,
        "mould_index": _finite(risk.mould_index),
        "mean_temperature_c": _finite(risk.mean_temperature_c),
        "mean_humidity_pct": _finite(risk.mean_humidity_pct),
        "mean_surface_rh_pct": _finite(risk.mean_surface_rh_pct),
        "data_coverage": _finite(risk.data_coverage) or 0.0,
        "hours_since_data": _finite(risk.hours_since_data),
    }


def _case(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "uprn": case.uprn,
        "room_id": case.room_id,
        "source": case.source,
        "emergency": bool(case.emergency),
        "status": case.status,
        "summary": case.summary or "",
        "aware_at": _iso(case.aware_at),
        "opened_at": _iso(case.opened_at),
        "opened_by": case.opened_by,
        "investigated_at": _iso(case.investigated_at),
        "summary_sent_at": _iso(case.summary_sent_at),
        "made_safe_at": _iso(case.made_safe_at),
        "preventative_started_at": _iso(case.preventative_started_at),
        "works_completed_at": _iso(case.works_completed_at),
        "closed_at": _iso(case.closed_at),
        "closed_reason": case.closed_reason,
    }


def _finding(finding: Finding | None) -> dict[str, Any] | None:
    if finding is None:
        return None
    return {
        "recorded_at": _iso(finding.recorded_at),
        "recorded_by": finding.recorded_by,
        "mould_found": bool(finding.mould_found),
        "severity": finding.severity,
        "room_ids": [int(room_id) for room_id in finding.room_ids or []],
        "where": finding.where_text or "",
        "likely_cause": finding.likely_cause,
        "actions_taken": finding.actions_taken or "",
        "follow_up_work": finding.follow_up_work or "",
        "follow_up_needed": bool(finding.follow_up_needed),
    }


def _inspection(inspection: Inspection) -> dict[str, Any]:
    return {
        "id": inspection.id,
        "case_id": inspection.case_id,
        "uprn": inspection.uprn,
        "team": {"id": inspection.team.id, "name": inspection.team.name},
        "scheduled_for": inspection.scheduled_for.isoformat(),
        "status": inspection.status,
        "created_at": _iso(inspection.created_at),
        "created_by": inspection.created_by,
        "completed_at": _iso(inspection.completed_at),
        "finding": _finding(inspection.finding),
    }


def _case_detail(case: Case, now: dt.datetime) -> dict[str, Any]:
    from core.cases import active_hazards, case_profile
    from core.hazards import hazard

    rules = case_profile(case)
    return {
        **_case(case),
        "hazards": [{"hazard": h.hazard, "name": hazard(h.hazard).name, "severity": h.severity,
                     "emergency": h.emergency} for h in active_hazards(case)],
        "clock_profile": rules.name,
        "rules_version": rules.rules_version,
        "steps": [
            {"key": clock.key, "label": clock.label, "due": _iso(clock.due), "done_at": _iso(clock.done_at),
             "state": clock.state, "working_days_left": clock.working_days_left,
             "long_stop": _iso(clock.long_stop), "hours_based": clock.hours_based}
            for clock in step_clocks(case, now)
        ],
        "inspections": [_inspection(inspection) for inspection in case.inspections],
        "timeline": [{"at": _iso(event.at), "kind": event.kind, "actor": event.actor, "text": event.text or ""}
                     for event in case.events],
    }


# --- properties and risk ----------------------------------------------------------------------------


def _latest_risk_join(session: Session, query: Select) -> Select:
    """Join each home's risk in the latest finished scoring run (what the risk list shows)."""
    run = latest_run(session)
    if run is None:
        return query.outerjoin(PropertyRisk, false())
    return query.outerjoin(PropertyRisk, and_(PropertyRisk.uprn == Property.uprn, PropertyRisk.run_id == run.id))


@bp.get("/properties")
@api_token_required(*READERS)
def list_properties():
    _check_query()
    bands, district, since, limit = _bands(), _district(), _time("updated_since"), _limit()
    after = _cursor([_cursor_text])
    with get_database().session() as session:
        query = _latest_risk_join(session, scope(select(Property, PropertyRisk).select_from(Property), Property,
                                                 current_viewer()))
        if bands:
            query = query.where(PropertyRisk.band.in_(bands))
        if district:
            query = query.where(Property.postcode.like(f"{district} %"))
        if since is not None:
            query = query.where(or_(Property.updated_at >= since, PropertyRisk.computed_at >= since))
        if after is not None:
            query = query.where(Property.uprn > after[0])
        query = query.order_by(Property.uprn)
        return _page(session, query, limit, lambda row: {
            **_property_fields(row.Property), "latest_risk": _risk_summary(row.PropertyRisk)},
            lambda row: [row.Property.uprn])


@bp.get("/properties/<uprn>")
@api_token_required(*READERS)
def get_property(uprn: str):
    _check_query()
    uprn = _uprn(uprn)
    with get_database().session() as session:
        detail = property_detail(session, uprn, now=_now(), offline_after_s=get_settings().device_offline_after_s)
        if detail is None:
            raise _not_found(f"There is no property with UPRN {uprn}. Check the UPRN, or list properties at "
                             f"{url_for('api.list_properties')}.")
        return jsonify(_property_detail(detail))


def _property_detail(detail: PropertyDetail) -> dict[str, Any]:
    home = detail.property
    return {
        **_property_fields(home),
        "build_year": home.build_year,
        "wall_type": home.wall_type,
        "floor_level": home.floor_level,
        "created_at": _iso(home.created_at),
        "rooms": [{"id": room.room_id, "name": room.name, "room_type": room.room_type,
                   "device_ids": room.device_ids, "latest_risk": _room_risk(room.risk)} for room in detail.rooms],
        "latest_risk": _risk(detail.risk) if detail.risk is not None else None,
        "open_case_ids": [case.id for case in detail.cases if case.status == "open"],
    }


@bp.get("/properties/<uprn>/thermal")
@api_token_required(*READERS)
def property_thermal(uprn: str):
    """Excess cold and heat over the last 14 days, per room and for the home (``analytics.thermal_home``)."""
    from dashboard.charts import property_thermal as cached_thermal

    _check_query()
    uprn = _uprn(uprn)
    with get_database().session() as session:
        try:
            result = cached_thermal(session, get_store(), uprn, _now())
        except StoreError as exc:
            logger.warning("API: could not read the readings of %s for excess cold and heat: %s", uprn, exc)
            raise ApiError(503, "store_unavailable", "The readings store cannot be reached just now. Try "
                           "again in a few minutes; if it goes on, tell the DampWatch administrator.") from exc
    if result is None:
        raise _not_found(f"There is no property with UPRN {uprn}. Check the UPRN.")
    return jsonify(result.as_dict())


@bp.get("/properties/<uprn>/risk")
@api_token_required(*READERS)
def property_risk_history(uprn: str):
    _check_query()
    uprn = _uprn(uprn)
    since, limit = _time("since"), _limit()
    after = _cursor([_cursor_time, _cursor_int])
    query = select(PropertyRisk).where(PropertyRisk.uprn == uprn)
    if since is not None:
        query = query.where(PropertyRisk.computed_at >= since)
    if after is not None:
        at, risk_id = after
        query = query.where(or_(PropertyRisk.computed_at < at,
                                and_(PropertyRisk.computed_at == at, PropertyRisk.id < risk_id)))
    query = query.order_by(PropertyRisk.computed_at.desc(), PropertyRisk.id.desc())
    with get_database().session() as session:
        if session.get(Property, uprn) is None:
            raise _not_found(f"There is no property with UPRN {uprn}. Check the UPRN.")
        return _page(session, query, limit, lambda row: _risk(row.PropertyRisk),
                     lambda row: [row.PropertyRisk.computed_at.isoformat(), row.PropertyRisk.id])


@bp.get("/risk")
@api_token_required(*READERS)
def list_risk():
    _check_query()
    bands, district, limit = _bands(), _district(), _limit()
    cause, vulnerable = _choice("cause", CAUSES), _boolean("vulnerable")
    after = _cursor([_cursor_float, _cursor_text])
    with get_database().session() as session:
        return _page(session, _risk_query(session, bands, district, cause, vulnerable, after), limit, _risk_item,
                     lambda row: [_finite(row.PropertyRisk.score), row.Property.uprn])


def _risk_query(session: Session, bands: list[str], district: str | None, cause: str | None,
                vulnerable: bool | None, after: list[Any] | None) -> Select:
    run = latest_run(session)
    query = select(PropertyRisk, Property).join(Property, Property.uprn == PropertyRisk.uprn)
    query = query.where(PropertyRisk.run_id == (run.id if run is not None else -1))
    if bands:
        query = query.where(PropertyRisk.band.in_(bands))
    if cause:
        query = query.where(PropertyRisk.cause == cause)
    if district:
        query = query.where(Property.postcode.like(f"{district} %"))
    if vulnerable is not None:
        any_flag = or_(*(getattr(Property, flag).is_(True) for flag in VULNERABILITY_FLAGS))
        query = query.where(any_flag if vulnerable else not_(any_flag))
    if after is not None:
        score, uprn = after
        if score is None:
            query = query.where(PropertyRisk.score.is_(None), Property.uprn > uprn)
        else:
            query = query.where(or_(PropertyRisk.score < score,
                                    and_(PropertyRisk.score == score, Property.uprn > uprn),
                                    PropertyRisk.score.is_(None)))
    return query.order_by(PropertyRisk.score.desc().nulls_last(), Property.uprn)


def _risk_item(row: Any) -> dict[str, Any]:
    return {**_risk(row.PropertyRisk), "address": row.Property.address,
            "postcode_district": postcode_district(row.Property.postcode), "vulnerable": row.Property.vulnerable}


# --- readings and devices -----------------------------------------------------------------------------


def _hour_floor(value: dt.datetime) -> dt.datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _hour_ceil(value: dt.datetime) -> dt.datetime:
    floor = _hour_floor(value)
    return floor if floor == value else floor + dt.timedelta(hours=1)


def _room_spans(session: Session, room_id: int, start: dt.datetime,
                end: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """(device, from, to) for each device's time in the room within ``[start, end)``.

    As in scoring (``analytics.registry``), a device's first installation reaches back indefinitely: readings
    sent before the asset register recorded the device count for the room it was first installed in.
    """
    devices_here = select(Installation.device_id).where(Installation.room_id == room_id)
    installs = session.execute(
        select(Installation.device_id, Installation.room_id, Installation.installed_at, Installation.removed_at)
        .where(Installation.device_id.in_(devices_here))
        .order_by(Installation.device_id, Installation.installed_at, Installation.id)).all()
    spans, previous = [], None
    for device_id, in_room, installed_at, removed_at in installs:
        first, previous = device_id != previous, device_id
        low = start if first else max(start, installed_at)
        high = end if removed_at is None else min(end, removed_at)
        if in_room == room_id and low < high:
            spans.append((device_id, low, high))
    return spans


@bp.get("/rooms/<room_id>/readings")
@api_token_required(*READERS)
def room_readings(room_id: str):
    _check_query()
    number = _whole_number(room_id, "room_id")
    end = _time("to") or _now()
    start = _time("from") or end - dt.timedelta(days=READINGS_DEFAULT_DAYS)
    start, end = _hour_floor(start), _hour_ceil(end)
    if end <= start:
        raise _bad(f"from ({_iso(start)}) must be before to ({_iso(end)}).", "invalid_range")
    if end - start > dt.timedelta(days=READINGS_MAX_DAYS):
        days = (end - start) / dt.timedelta(days=1)
        raise _bad(f"The span from {_iso(start)} to {_iso(end)} is {days:.1f} days; ask for "
                   f"{READINGS_MAX_DAYS} days or less, and make several requests for a longer span.",
                   "range_too_long")
    with get_database().session() as session:
        room = session.get(Room, number)
        if room is None:
            raise _not_found(f"There is no room {number}. Room ids are listed with each property at "
                             "/api/v1/properties/{uprn}.")
        spans = _room_spans(session, number, start, end)
    hours: list[dict[str, Any]] = []
    store = get_store()
    for device_id, low, high in spans:
        try:
            frame = store.hourly(low, high, [device_id])
        except StoreError as exc:
            logger.warning("API: could not read hourly readings of %s: %s", device_id, exc)
            raise ApiError(503, "store_unavailable", "The readings store cannot be reached just now. Try "
                           "again in a few minutes; if it goes on, tell the DampWatch administrator.") from exc
        for device_id, hour, temperature, humidity, humidity_max, count in frame.itertuples(index=False):
            hours.append({"device_id": device_id, "hour": _iso(hour.to_pydatetime()),
                          "temperature_c": _finite(temperature), "humidity_pct": _finite(humidity),
                          "humidity_max_pct": _finite(humidity_max), "count": int(count)})
    hours.sort(key=lambda row: (row["device_id"], row["hour"]))
    return jsonify({"room_id": room.id, "uprn": room.uprn, "room": room.name, "from": _iso(start),
                    "to": _iso(end), "hours": hours})


@bp.get("/devices")
@api_token_required(*READERS)
def list_devices():
    _check_query()
    uprn, offline, limit = _uprn_filter(), _boolean("offline"), _limit()
    after = _cursor([_cursor_text])
    now = _now()
    cutoff = now - dt.timedelta(seconds=get_settings().device_offline_after_s)
    query = (
        select(Device, DeviceHealth, Room)
        .outerjoin(DeviceHealth, DeviceHealth.device_id == Device.device_id)
        .outerjoin(Installation, and_(Installation.device_id == Device.device_id, Installation.removed_at.is_(None)))
        .outerjoin(Room, Room.id == Installation.room_id)
    )
    if uprn is not None:
        query = query.where(Room.uprn == uprn)
    silent = or_(DeviceHealth.last_seen.is_(None), DeviceHealth.last_seen < cutoff)
    if offline is not None:
        query = query.where(silent if offline else not_(silent))
    if after is not None:
        query = query.where(Device.device_id > after[0])
    query = query.order_by(Device.device_id)

    def item(row: Any) -> dict[str, Any]:
        device, health, room = row.Device, row.DeviceHealth, row.Room
        last_seen = health.last_seen if health else None
        battery = _finite(health.battery_v) if health else None
        return {
            "device_id": device.device_id, "model": device.model, "active": bool(device.active),
            "uprn": room.uprn if room else None, "room_id": room.id if room else None,
            "room": room.name if room else None,
            "last_seen": _iso(last_seen), "last_received_at": _iso(health.last_received_at if health else None),
            "battery_v": battery, "low_battery": battery is not None and battery < LOW_BATTERY_V,
            "offline": last_seen is None or last_seen < cutoff, "status": health.status if health else None,
            "readings": int(health.readings or 0) if health else 0, "seq_gaps": health.seq_gaps if health else 0,
        }

    with get_database().session() as session:
        return _page(session, query, limit, item, lambda row: [row.Device.device_id])


# --- cases and inspections ----------------------------------------------------------------------------


@bp.get("/cases")
@api_token_required(*READERS)
def list_cases():
    _check_query()
    status, uprn, limit = _choice("status", CASE_STATUSES), _uprn_filter(), _limit()
    after = _cursor([_cursor_int])
    query = scope(select(Case), Case, current_viewer())
    if status:
        query = query.where(Case.status == status)
    if uprn:
        query = query.where(Case.uprn == uprn)
    if after is not None:
        query = query.where(Case.id < after[0])
    query = query.order_by(Case.id.desc())
    with get_database().session() as session:
        return _page(session, query, limit, lambda row: _case(row.Case), lambda row: [row.Case.id])


def _case_or_404(session: Session, case_id: int) -> Case:
    case = session.scalars(
        scope(select(Case), Case, current_viewer()).where(Case.id == case_id).options(
            selectinload(Case.events),
            selectinload(Case.inspections).options(joinedload(Inspection.team), joinedload(Inspection.finding)))
    ).first()
    if case is None:
        raise _not_found(f"There is no case {case_id}. List cases at {url_for('api.list_cases')}.")
    return case


@bp.get("/cases/<case_id>")
@api_token_required(*READERS)
def get_case(case_id: str):
    _check_query()
    number = _whole_number(case_id, "case_id")
    with get_database().session() as session:
        return jsonify(_case_detail(_case_or_404(session, number), _now()))


def _new_case_body() -> dict[str, Any]:
    """The request body of ``POST /cases``, checked field by field against the document's ``NewCase``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _bad("Send the case as a JSON object with Content-Type: application/json, for example "
                   f'{{"uprn": "100023336956", "aware_at": "{_TIME_EXAMPLE}", "summary": "Mould in the bathroom"}}.',
                   "invalid_body")
    fields = NEW_CASE["properties"]
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise _bad(f"Unknown field {', '.join(repr(name) for name in unknown)}. A case takes: "
                   f"{', '.join(fields)}.", "invalid_body")
    missing = [name for name in NEW_CASE["required"] if body.get(name) in (None, "")]
    if missing:
        raise _bad(f"Give {' and '.join(missing)}: they are required.", "invalid_body")
    uprn = body["uprn"]
    if not isinstance(uprn, str):
        raise _bad("uprn must be a string of 1 to 12 digits (UPRNs can be longer than a JSON number keeps exactly).",
                   "invalid_body")
    aware_at = body["aware_at"]
    if not isinstance(aware_at, str):
        raise _bad(f"aware_at must be a string such as {_TIME_EXAMPLE}.", "invalid_body")
    source = body.get("source", "tenant_report")
    if source not in API_CASE_SOURCES:
        raise _bad(f"source must be one of {', '.join(API_CASE_SOURCES)}, not {source!r}.", "invalid_body")
    emergency = body.get("emergency", False)
    if not isinstance(emergency, bool):
        raise _bad("emergency must be true or false.", "invalid_body")
    summary = body.get("summary", "")
    if not isinstance(summary, str) or len(summary) > fields["summary"]["maxLength"]:
        raise _bad(f"summary must be text of {fields['summary']['maxLength']} characters or fewer.", "invalid_body")
    room_id = body.get("room_id")
    if room_id is not None and (isinstance(room_id, bool) or not isinstance(room_id, int)):
        raise _bad("room_id must be a room's id (a whole number) or null.", "invalid_body")
    hazards = body.get("hazards")
    if hazards is not None:
        allowed = {"hazard", "severity", "emergency"}
        if (not isinstance(hazards, list) or not 1 <= len(hazards) <= 29
                or not all(isinstance(h, dict) and set(h) <= allowed and isinstance(h.get("hazard"), str)
                           and isinstance(h.get("severity"), str) and isinstance(h.get("emergency", False), bool)
                           for h in hazards)):
            raise _bad('hazards must be a list of 1 to 29 objects such as {"hazard": "excess_cold", "severity": '
                       '"high", "emergency": false}.', "invalid_body")
    try:
        when = _parse_time(aware_at, "aware_at")
    except ApiError as exc:
        raise _bad(exc.message, "invalid_body") from None
    return {"uprn": _uprn(uprn), "aware_at": when, "source": source, "emergency": emergency,
            "summary": summary.strip(), "room_id": room_id, "hazards": hazards}


@bp.post("/cases")
@api_token_required(*CASE_OPENERS)
def create_case():
    _check_query()
    fields = _new_case_body()
    user = g.api_user
    with get_database().session() as session:
        if session.get(Property, fields["uprn"]) is None:
            raise _not_found(f"There is no property with UPRN {fields['uprn']}. Check the UPRN; DampWatch "
                             "opens cases only for homes in its register.")
        try:
            case = open_case(session, actor=user.email, user_id=user.id, **fields)
        except DuplicateCaseError as exc:
            raise ApiError(409, "case_already_open", f"Property {fields['uprn']} already has an open case "
                           f"({exc.case_id}). Add to that case instead: "
                           f"{url_for('api.get_case', case_id=exc.case_id)}.") from exc
        except CaseError as exc:
            raise _bad(f"{exc}.".replace("..", "."), "invalid_body") from exc
        session.flush()
        case_id = case.id
    with get_database().session() as session:
        response = jsonify(_case_detail(_case_or_404(session, case_id), _now()))
    logger.info("API: %s opened case %d at UPRN %s", user.email, case_id, fields["uprn"])
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_case", case_id=case_id)
    return response


@bp.post("/cases/<case_id>/emergency")
@api_token_required(*CASE_OPENERS)
def change_case_emergency(case_id: str):
    """Put a case on the emergency track or take it off, with the reason (issue 15)."""
    from core.cases import set_emergency

    _check_query()
    number = _whole_number(case_id, "case_id")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) - {"emergency", "reason"}:
        raise _bad('Send a JSON object {"emergency": true, "reason": "..."} (no other fields).', "invalid_body")
    emergency, reason = body.get("emergency"), body.get("reason")
    if not isinstance(emergency, bool):
        raise _bad("emergency must be true or false.", "invalid_body")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 5000:
        raise _bad("Give the reason for the change: text of 1 to 5,000 characters.", "invalid_body")
    user = g.api_user
    with get_database().session() as session:
        case = _case_or_404(session, number)
        try:
            set_emergency(session, case, emergency, actor=user.email, reason=reason, user_id=user.id,
                          ip=request.remote_addr)
        except CaseError as exc:
            raise _bad(f"{exc}.".replace("..", "."), "invalid_body") from exc
    with get_database().session() as session:
        return jsonify(_case_detail(_case_or_404(session, number), _now()))


@bp.get("/awaab-export")
@api_token_required(*READERS)
def awaab_export():
    """Cases in the MHCLG/HACT Awaab's Law data model (JSON)."""
    import json as json_module

    from core.awaab_model import export_cases

    _check_query()
    since, until = _date("since"), _date("until")
    if since is not None and until is not None and until < since:
        raise _bad(f"since ({since}) must be on or before until ({until}).", "invalid_range")
    with get_database().session() as session:
        data = export_cases(session, now=_now(), since=since, until=until)
    return jsonify(json_module.loads(data.to_json()))


@bp.get("/inspections")
@api_token_required(*READERS)
def list_inspections():
    _check_query()
    team_text = request.args.get("team")
    team = None if team_text is None else _whole_number(team_text, "team")
    first, last = _date("from"), _date("to")
    status, limit = _choice("status", INSPECTION_STATUSES), _limit()
    if first is not None and last is not None and last < first:
        raise _bad(f"from ({first}) must be on or before to ({last}).", "invalid_range")
    after = _cursor([_cursor_date, _cursor_int])
    query = scope(select(Inspection), Inspection, current_viewer()).options(
        joinedload(Inspection.team), joinedload(Inspection.finding))
    if team is not None:
        query = query.where(Inspection.team_id == team)
    if first is not None:
        query = query.where(Inspection.scheduled_for >= first)
    if last is not None:
        query = query.where(Inspection.scheduled_for <= last)
    if status:
        query = query.where(Inspection.status == status)
    if after is not None:
        day, inspection_id = after
        query = query.where(or_(Inspection.scheduled_for > day,
                                and_(Inspection.scheduled_for == day, Inspection.id > inspection_id)))
    query = query.order_by(Inspection.scheduled_for, Inspection.id)
    with get_database().session() as session:
        return _page(session, query, limit, lambda row: _inspection(row.Inspection),
                     lambda row: [row.Inspection.scheduled_for.isoformat(), row.Inspection.id])


# --- the description -----------------------------------------------------------------------------------


@bp.get("/openapi.json")
@public("the API's description is what a developer reads before they have a token; it holds no data")
def openapi():
    _check_query()
    document = openapi_document()
    document["servers"] = [{"url": get_settings().web_public_url.rstrip("/") or "/"}]
    return jsonify(document)
