"""The JSON API's OpenAPI 3.1 document, built in Python so its lists of values come from the model.

Kept as a dictionary rather than a YAML file so that the bands, statuses, causes and room types it
lists are the very tuples the database checks against (a new band cannot be missing from the
document), and so the views can read each operation's query parameters from it and reject any other
(a typo such as ``?bands=high`` gets a 400 instead of being silently ignored). The dashboard serves
it at ``/api/v1/openapi.json``; ``tests/dashboard/test_openapi.py`` validates it and checks every
documented response against the app's real answers.

Responses list every field as ``required`` (a field with no value is ``null``, never missing) and leave
``additionalProperties`` open, so clients may expect new fields to appear in later versions.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from analytics.risk import CAUSES
from core.cases import STATES as STEP_STATES
from core.hazards import HAZARD_CODES, HAZARD_SEVERITIES
from core.model import (
    CASE_SOURCES,
    CASE_STATUSES,
    INSPECTION_STATUSES,
    LIKELY_CAUSES,
    RISK_BANDS,
    ROOM_TYPES,
    SEVERITIES,
)

API_VERSION = "1.0.0"
#: Items per page unless ``limit`` says otherwise, and the most a page may hold.
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
#: Ids the API accepts (PostgreSQL's integer) and the years of the times and dates it accepts.
MAX_ID = 2**31 - 1
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
#: The longest span of hourly readings one request may ask for, and the span given when none is asked.
READINGS_MAX_DAYS = 31
READINGS_DEFAULT_DAYS = 7
#: Sources another system may give a case it opens (risk flags and alarms are DampWatch's own).
API_CASE_SOURCES = ("tenant_report", "officer", "inspection")

UPRN_PATTERN = "^[0-9]{1,12}$"
DISTRICT_PATTERN = "^[A-Za-z]{1,2}[0-9][A-Za-z0-9]?$"

JSON = "application/json"


# --- small builders --------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null (JSON Schema 2020-12, as OpenAPI 3.1 uses)."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    result = dict(schema)
    kind = result["type"]
    result["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
    if "enum" in result:
        result["enum"] = [*result["enum"], None]
    return result


def _object(description: str, properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An object schema whose every property is required (absent values are sent as null)."""
    return {"type": "object", "description": description, "required": list(properties), "properties": properties}


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _datetime(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "date-time", "description": description + " (ISO 8601, UTC)."}


def _integer(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **extra}


def _number(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "number", "description": description, **extra}


def _boolean(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


def _array(items: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "array", "items": items, "description": description}


def _page(item: str, description: str) -> dict[str, Any]:
    return _object(description, {
        "items": _array(_ref(item), "This page's items."),
        "limit": _integer("The page size used.", minimum=1, maximum=MAX_LIMIT),
        "next_cursor": _nullable(_string(
            "Pass as ``cursor`` to get the next page; null on the last page.")),
    })


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _json_response(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def _errors(*statuses: str) -> dict[str, Any]:
    return {status: {"$ref": f"#/components/responses/{ERROR_RESPONSES[status]}"} for status in statuses}


ERROR_RESPONSES = {
    "400": "BadRequest",
    "401": "Unauthorised",
    "403": "Forbidden",
    "404": "NotFound",
    "409": "Conflict",
    "503": "Unavailable",
}

PAGINATION = [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}]


# --- the schemas -------------------------------------------------------------------------------------

VULNERABILITY = _object(
    "The household's recorded vulnerability: true, false, or null when not recorded.",
    {
        "child_under_15": _nullable(_boolean("A child under 15 lives in the home.")),
        "over_65": _nullable(_boolean("Someone aged 65 or over lives in the home.")),
        "respiratory_condition": _nullable(_boolean("Someone in the home has a respiratory condition.")),
    },
)

_SCORE = _nullable(_number("Risk score, 0 (no risk) to 100; null when there is not enough data.",
                           minimum=0, maximum=100))
_BAND = _string("Risk band.", enum=list(RISK_BANDS))
_CAUSE = _nullable(_string("Likely cause, for homes in band medium or above; otherwise null.", enum=list(CAUSES)))

RISK_SUMMARY = _object("A property's latest risk, in brief.", {
    "score": _SCORE,
    "band": _BAND,
    "cause": _CAUSE,
    "driver_room": _nullable(_string("The room that drives the score.")),
    "computed_at": _datetime("When the score was computed"),
})

_RISK_PROPERTIES: dict[str, dict[str, Any]] = {
    "uprn": _string("Unique Property Reference Number.", pattern=UPRN_PATTERN),
    "run_id": _integer("The scoring run that produced this record."),
    "computed_at": _datetime("The time the scores were computed for"),
    "score": _SCORE,
    "physics_score": _nullable(_number("The physics-based score before any trained model.", minimum=0, maximum=100)),
    "band": _BAND,
    "driver_room_id": _nullable(_integer("Id of the room that drives the score.")),
    "driver_room": _nullable(_string("Name of the room that drives the score.")),
    "cause": _CAUSE,
    "cold_home": _boolean("The home is kept too cold (averaged below 16 °C, or long spells below it)."),
    "mean_temperature_c": _nullable(_number("The home's mean air temperature over the window. [°C]")),
    "data_coverage": _number("Share of the window's hours with readings, 0 to 1.", minimum=0, maximum=1),
    "outdoor_source": _string("Where the outdoor conditions came from (a sensor, imported weather or climatology)."),
    "reasons": _array(_string("A reason, in plain English."), "Why the home got this score."),
    "what_would_help": _array(_string("Advice, in plain English."), "What would lower the risk."),
    "model_name": _string("The risk model used."),
    "model_version": _string("The risk model's version."),
}

RISK = _object("A property's damp and mould risk as one scoring run found it.", _RISK_PROPERTIES)

RISK_ITEM = _object("A property's latest risk with the details needed to sort and filter it.", {
    **_RISK_PROPERTIES,
    "address": _string("The property's address."),
    "postcode_district": _string("Outward code of the postcode, such as LS6."),
    "vulnerable": _boolean("Any household vulnerability is recorded."),
})

_PROPERTY_PROPERTIES: dict[str, dict[str, Any]] = {
    "uprn": _string("Unique Property Reference Number.", pattern=UPRN_PATTERN),
    "address": _string("The property's address."),
    "postcode": _string("Postcode in its standard form (LS6 1AB)."),
    "postcode_district": _string("Outward code of the postcode, such as LS6."),
    "site": _nullable(_string("The estate or block the property belongs to.")),
    "vulnerable": _boolean("Any household vulnerability flag is true."),
    "vulnerability": _ref("Vulnerability"),
    "updated_at": _datetime("When the property record last changed"),
}

PROPERTY_SUMMARY = _object("A property, with its latest risk in brief.", {
    **_PROPERTY_PROPERTIES,
    "latest_risk": _nullable(_ref("RiskSummary")),
})

ROOM_RISK = _object("A room's latest risk and the conditions behind it.", {
    "computed_at": _datetime("The time the scores were computed for"),
    "score": _SCORE,
    "band": _BAND,
    "mould_index": _nullable(_number("Mould growth index at the room's cold spot (VTT model, 0 to 6).")),
    "mean_temperature_c": _nullable(_number("Mean air temperature. [°C]")),
    "mean_humidity_pct": _nullable(_number("Mean relative humidity. [%]")),
    "mean_surface_rh_pct": _nullable(_number("Mean relative humidity at the cold spot. [%]")),
    "data_coverage": _number("Share of the window's hours with readings, 0 to 1.", minimum=0, maximum=1),
    "hours_since_data": _nullable(_number("Hours since the room's sensor last sent a reading.")),
})

ROOM = _object("A room of a property.", {
    "id": _integer("Room id (use it to ask for the room's readings)."),
    "name": _string("Room name."),
    "room_type": _string("Room type.", enum=list(ROOM_TYPES)),
    "device_ids": _array(_string("Device id."), "Devices installed in the room now."),
    "latest_risk": _nullable(_ref("RoomRisk")),
})

PROPERTY_DETAIL = _object("A property with its rooms, household vulnerability and latest risk.", {
    **_PROPERTY_PROPERTIES,
    "build_year": _nullable(_integer("Year the building was built.")),
    "wall_type": _nullable(_string("Wall construction.")),
    "floor_level": _nullable(_integer("Floor the home is on (0 is the ground floor).")),
    "created_at": _datetime("When the property was added to DampWatch"),
    "rooms": _array(_ref("Room"), "The property's rooms."),
    "latest_risk": _nullable(_ref("Risk")),
    "open_case_ids": _array(_integer("Case id."), "Open damp and mould cases at the property."),
})

READING_HOUR = _object("One hour of one device's readings, aggregated.", {
    "hour": _datetime("Start of the hour"),
    "device_id": _string("The device that took the readings."),
    "temperature_c": _number("Mean air temperature. [°C]"),
    "humidity_pct": _number("Mean relative humidity. [%]"),
    "humidity_max_pct": _number("Highest relative humidity. [%]"),
    "count": _integer("Readings in the hour.", minimum=1),
})

ROOM_READINGS = _object("Hourly readings of a room's devices over a span of time.", {
    "room_id": _integer("Room id."),
    "uprn": _string("The property the room belongs to.", pattern=UPRN_PATTERN),
    "room": _string("Room name."),
    "from": _datetime("Start of the span, rounded down to the hour"),
    "to": _datetime("End of the span (exclusive), rounded up to the hour"),
    "hours": _array(_ref("ReadingHour"),
                    "Hours with readings, by device then hour; an hour with no reading is left out."),
})

DEVICE = _object("A sensor, where it is installed and how healthy it is.", {
    "device_id": _string("The id the device publishes under."),
    "model": _nullable(_string("Device model.")),
    "active": _boolean("The device is in service."),
    "uprn": _nullable(_string("The property it is installed in, if any.", pattern=UPRN_PATTERN)),
    "room_id": _nullable(_integer("The room it is installed in, if any.")),
    "room": _nullable(_string("Name of that room.")),
    "last_seen": _nullable(_datetime("Time of its newest reading")),
    "last_received_at": _nullable(_datetime("When its newest message arrived")),
    "battery_v": _nullable(_number("Battery voltage last reported. [V]")),
    "low_battery": _boolean("The battery needs changing."),
    "offline": _boolean("No reading for longer than the offline threshold (DAMPWATCH_DEVICE_OFFLINE_AFTER_S)."),
    "status": _nullable(_string("Last status the device reported (online or offline).")),
    "readings": _integer("Readings stored from it.", minimum=0),
    "seq_gaps": _integer("Readings missing by sequence number.", minimum=0),
})

_CASE_PROPERTIES: dict[str, dict[str, Any]] = {
    "id": _integer("Case id."),
    "uprn": _string("The property.", pattern=UPRN_PATTERN),
    "room_id": _nullable(_integer("The room the case is about, if one.")),
    "source": _string("How the landlord became aware.", enum=list(CASE_SOURCES)),
    "emergency": _boolean("An emergency (the safety work is due within 24 hours)."),
    "status": _string("Case status.", enum=list(CASE_STATUSES)),
    "summary": _string("What was reported or flagged."),
    "aware_at": _datetime("When the landlord became aware: the clocks start here"),
    "opened_at": _datetime("When the case was opened"),
    "opened_by": _string("Who opened it."),
    "investigated_at": _nullable(_datetime("When the hazard was investigated")),
    "summary_sent_at": _nullable(_datetime("When the written summary was sent to the tenant")),
    "made_safe_at": _nullable(_datetime("When safety work was done")),
    "preventative_started_at": _nullable(_datetime("When preventative work started")),
    "works_completed_at": _nullable(_datetime("When the works were completed")),
    "closed_at": _nullable(_datetime("When the case was closed")),
    "closed_reason": _nullable(_string("Why it was closed.")),
}

CASE = _object("A damp and mould case.", _CASE_PROPERTIES)

STEP_CLOCK = _object("One Awaab's Law step of a case, against its deadline.", {
    "key": _string("Step key: investigate, summary, make_safe or preventative."),
    "label": _string("Step name in plain English."),
    "due": _nullable(_datetime(
        "Deadline: the end of the last working day allowed, or 24 hours from awareness for an emergency; "
        "null while the step waits for the investigation, or when it has no deadline")),
    "done_at": _nullable(_datetime("When the step was done")),
    "state": _string("Where the step stands: waiting means it counts from an investigation not yet recorded.",
                     enum=list(STEP_STATES)),
    "working_days_left": _nullable(_integer(
        "Working days left before the deadline (0: due today; negative when overdue); null once done, "
        "while waiting, or with no deadline.")),
    "long_stop": _nullable(_datetime(
        "Preventative work only: the latest it may begin where 5 working days is not practicable (12 weeks)")),
    "hours_based": _boolean("The deadline runs in hours (an emergency's 24 hours), not working days."),
})

CASE_EVENT = _object("An entry on a case's timeline.", {
    "at": _datetime("When it happened"),
    "kind": _string("What happened: opened, investigated, note, message_to_tenant, ..."),
    "actor": _string("Who did it."),
    "text": _string("What was recorded."),
})

FINDING = _object("What a repair team member found at an inspection.", {
    "recorded_at": _datetime("When the finding was recorded"),
    "recorded_by": _string("Who recorded it."),
    "mould_found": _boolean("Mould was found."),
    "severity": _string("How bad it was.", enum=list(SEVERITIES)),
    "room_ids": _array(_integer("Room id."), "Rooms where damp or mould was seen."),
    "where": _string("Where exactly, in words."),
    "likely_cause": _string("Likely cause.", enum=list(LIKELY_CAUSES)),
    "actions_taken": _string("What was done on the visit."),
    "follow_up_work": _string("Work still needed."),
    "follow_up_needed": _boolean("Follow-up work is needed."),
})

TEAM = _object("A repair team.", {"id": _integer("Team id."), "name": _string("Team name.")})

INSPECTION = _object("An inspection visit by a repair team.", {
    "id": _integer("Inspection id."),
    "case_id": _integer("The case it is for."),
    "uprn": _string("The property.", pattern=UPRN_PATTERN),
    "team": _ref("Team"),
    "scheduled_for": _string("The day of the visit (Europe/London).", format="date"),
    "status": _string("Inspection status.", enum=list(INSPECTION_STATUSES)),
    "created_at": _datetime("When it was scheduled"),
    "created_by": _string("Who scheduled it."),
    "completed_at": _nullable(_datetime("When it was completed")),
    "finding": _nullable(_ref("Finding")),
})

CASE_HAZARD = _object("An HHSRS hazard on a case.", {
    "hazard": _string("The hazard's code.", enum=list(HAZARD_CODES)),
    "name": _string("The hazard's HHSRS name."),
    "severity": _string("How severe it is.", enum=list(HAZARD_SEVERITIES)),
    "emergency": _boolean("An emergency hazard (24-hour clocks)."),
})

NEW_CASE_HAZARD: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["hazard", "severity"],
    "description": "A hazard the case is about.",
    "properties": {
        "hazard": _string("The hazard's code (HHSRS).", enum=list(HAZARD_CODES)),
        "severity": _string("How severe it is.", enum=list(HAZARD_SEVERITIES)),
        "emergency": {**_boolean("An emergency hazard (24-hour clocks)."), "default": False},
    },
}

CASE_DETAIL = _object("A damp and mould case with its Awaab's Law clocks, inspections and timeline.", {
    **_CASE_PROPERTIES,
    "hazards": _array(_ref("CaseHazard"), "The HHSRS hazards on the case."),
    "clock_profile": _string("The clock profile that set the deadlines (england_social, wales_whqs, other)."),
    "rules_version": _string("The rules version of that profile when the case opened."),
    "steps": _array(_ref("StepClock"), "The Awaab's Law steps, in order, each against its deadline."),
    "inspections": _array(_ref("Inspection"), "Inspections for the case, by date."),
    "timeline": _array(_ref("CaseEvent"), "Everything recorded on the case, oldest first."),
})

NEW_CASE: dict[str, Any] = {
    "type": "object",
    "description": "A damp or mould report from another system, to open a case for.",
    "required": ["uprn", "aware_at"],
    "additionalProperties": False,
    "properties": {
        "uprn": _string("The property.", pattern=UPRN_PATTERN),
        "aware_at": _datetime("When the landlord became aware of the problem; the clocks start here"),
        "source": _string("How the landlord became aware.", enum=list(API_CASE_SOURCES), default="tenant_report"),
        "emergency": {**_boolean("The hazard is an emergency (safety work due within 24 hours)."), "default": False},
        "summary": _string("What was reported, in plain words.", maxLength=5000, default=""),
        "room_id": _nullable(_integer("The room affected, if known (a room of the same property).", minimum=1,
                                      maximum=MAX_ID)),
        "hazards": {"type": "array", "items": _ref("NewCaseHazard"), "minItems": 1, "maxItems": 29,
                    "description": "The HHSRS hazards (default: damp and mould)."},
    },
}

ERROR = _object("What went wrong and how to put it right.", {
    "error": _object("The error.", {
        "code": _string("A stable code to act on, such as invalid_parameter or not_found."),
        "message": _string("What went wrong and how to fix it, in plain English."),
    }),
})

_THERMAL_LEVEL = ("unknown", "none", "medium", "high")


def _criterion(description: str, counted: str, counted_words: str, second: str, second_words: str) -> dict[str, Any]:
    return _nullable(_object(description, {
        counted: _integer(counted_words, minimum=0), second: _integer(second_words, minimum=0),
        "passes": _boolean("Whether the room meets the criterion."),
    }))


ROOM_THERMAL = _object("One room's excess cold and heat figures over the period.", {
    "room_id": _integer("The room."),
    "name": _string("The room's name."),
    "room_type": _string("living_room, bedroom or kitchen (the rooms judged)."),
    "cold": _string("Cold verdict; unknown for kitchens and rooms without readings.", enum=list(_THERMAL_LEVEL)),
    "heat": _string("Heat verdict.", enum=list(_THERMAL_LEVEL)),
    "hours_assessed": _integer("Occupied hours with readings (CIBSE TM59's occupancy).", minimum=0),
    "share_below_18c": _nullable(_number("Share of those hours below 18 °C (WHO 2018).", minimum=0, maximum=1)),
    "share_below_16c": _nullable(_number("Share below 16 °C (PHE 2014).", minimum=0, maximum=1)),
    "tm59_a": _criterion("CIBSE TM59 criterion (a), where outdoor temperatures were measured.", "hours_exceeding",
                         "Hours 1 K or more above the adaptive limit.", "hours_assessed", "Hours judged."),
    "tm59_b": _criterion("CIBSE TM59 criterion (b), bedrooms.", "hours_above_26c", "Night hours above 26 °C.",
                         "hours_allowed", "1 % of the night hours, rounded down."),
    "static_28c": _criterion("CIBSE Guide A's 28 °C for living rooms and kitchens without measured outdoor "
                             "temperatures.", "hours_above_28c", "Occupied hours above 28 °C.", "hours_assessed",
                             "Hours judged."),
})

HOME_THERMAL = _object("Excess cold and excess heat in a home over the last 14 days: each room and the home's "
                       "verdict (its worst room's), with reasons and advice.", {
    "uprn": _string("Unique Property Reference Number."),
    "from": _datetime("Start of the period"),
    "to": _datetime("End of the period"),
    "cold": _string("The home's cold verdict: medium when half a room's occupied hours were below 18 °C, high when "
                    "a quarter were below 16 °C.", enum=list(_THERMAL_LEVEL)),
    "heat": _string("The home's heat verdict: medium when a room fails one overheating criterion, high when two.",
                    enum=list(_THERMAL_LEVEL)),
    "reasons": _array(_string("A reason."), "Why, room by room."),
    "advice": _array(_string("Advice."), "What to advise: energy help for cold, shading and ventilation for heat."),
    "outdoor_source": _nullable(_string("Where TM59 (a)'s outdoor temperatures came from (site sensor, district "
                                        "sensor, weather file, estate sensor); null when none were measured.")),
    "rooms": _array(_ref("RoomThermal"), "Living rooms, bedrooms and kitchens with a sensor."),
})

SCHEMAS = {
    "Error": ERROR,
    "Vulnerability": VULNERABILITY,
    "RiskSummary": RISK_SUMMARY,
    "Risk": RISK,
    "RiskItem": RISK_ITEM,
    "PropertySummary": PROPERTY_SUMMARY,
    "PropertyDetail": PROPERTY_DETAIL,
    "HomeThermal": HOME_THERMAL,
    "RoomThermal": ROOM_THERMAL,
    "Room": ROOM,
    "RoomRisk": ROOM_RISK,
    "ReadingHour": READING_HOUR,
    "RoomReadings": ROOM_READINGS,
    "Device": DEVICE,
    "Case": CASE,
    "CaseDetail": CASE_DETAIL,
    "StepClock": STEP_CLOCK,
    "CaseEvent": CASE_EVENT,
    "Inspection": INSPECTION,
    "Finding": FINDING,
    "Team": TEAM,
    "NewCase": NEW_CASE,
    "NewCaseHazard": NEW_CASE_HAZARD,
    "CaseHazard": CASE_HAZARD,
    "EmergencyChange": {
        "type": "object", "additionalProperties": False, "required": ["emergency", "reason"],
        "description": "Put a case on the emergency track (24-hour clocks) or take it off, with the reason.",
        "properties": {
            "emergency": {"type": "boolean", "description": "true: an emergency hazard; false: not."},
            "reason": {"type": "string", "minLength": 1, "maxLength": 5000,
                       "description": "Why the status is changing (kept on the case's timeline and audit log)."},
        },
    },
    "AwaabExport": {
        "type": "object", "additionalProperties": False,
        "required": ["schema_version", "model", "hazard_report", "investigation", "investigation_hazard",
                     "notification", "escalation", "work_order"],
        "description": "Cases in the MHCLG/HACT Awaab's Law data model: its entities, field names and code-list "
                       "values (see the README, \"Awaab's Law\").",
        "properties": {
            "schema_version": {"type": "integer", "description": "1."},
            "model": {"type": "string", "description": "The data model's name."},
            **{entity: {"type": "array", "items": {"type": "object"}, "description": f"The {entity} rows."}
               for entity in ("hazard_report", "investigation", "investigation_hazard", "notification",
                              "escalation", "work_order")},
        },
    },
    "PropertyPage": _page("PropertySummary", "A page of properties, by UPRN."),
    "RiskPage": _page("RiskItem", "A page of latest risks, highest score first."),
    "RiskHistoryPage": _page("Risk", "A page of a property's risk history, newest first."),
    "DevicePage": _page("Device", "A page of devices, by device id."),
    "CasePage": _page("Case", "A page of cases, newest first."),
    "InspectionPage": _page("Inspection", "A page of inspections, by date."),
}


# --- parameters and operations -------------------------------------------------------------------

_BAND_FILTER = _query(
    "band", {"type": "array", "items": {"type": "string", "enum": list(RISK_BANDS)}},
    "Only homes whose latest band is one of these (repeat the parameter for several).",
    style="form", explode=True)
_DISTRICT_FILTER = _query(
    "postcode_district", {"type": "string", "pattern": DISTRICT_PATTERN},
    "Only homes in this postcode district (the outward code, such as LS6).")
_UPRN = _path("uprn", {"type": "string", "pattern": UPRN_PATTERN}, "Unique Property Reference Number.")

_OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "/api/v1/properties": {"get": {
        "operationId": "listProperties",
        "summary": "List properties",
        "description": "Every property with its household vulnerability and latest risk in brief, by UPRN.",
        "tags": ["Properties"],
        "parameters": [
            _BAND_FILTER,
            _DISTRICT_FILTER,
            _query("updated_since", {"type": "string", "format": "date-time"},
                   "Only properties whose record changed, or that were scored, at or after this time "
                   "(ISO 8601 with a time zone, for example 2026-01-05T00:00:00Z)."),
            *PAGINATION,
        ],
        "responses": {"200": _json_response("A page of properties.", _ref("PropertyPage")),
                      **_errors("400", "401", "403")},
    }},
    "/api/v1/properties/{uprn}": {"get": {
        "operationId": "getProperty",
        "summary": "Get a property",
        "description": "A property with its rooms (and each room's latest risk), vulnerability, latest risk "
                       "and open cases.",
        "tags": ["Properties"],
        "parameters": [_UPRN],
        "responses": {"200": _json_response("The property.", _ref("PropertyDetail")),
                      **_errors("400", "401", "403", "404")},
    }},
    "/api/v1/properties/{uprn}/thermal": {"get": {
        "operationId": "getPropertyThermal",
        "summary": "Get a property's excess cold and heat",
        "description": "Excess cold (WHO 18 °C, PHE 16 °C) and excess heat (CIBSE TM59; CIBSE Guide A's 28 °C where no "
                       "outdoor temperature is measured) over the last 14 days, per room and for the home, with "
                       "reasons and advice. Computed from the readings on each request.",
        "tags": ["Properties"],
        "parameters": [_UPRN],
        "responses": {"200": _json_response("The property's excess cold and heat.", _ref("HomeThermal")),
                      **_errors("400", "401", "403", "404", "503")},
    }},
    "/api/v1/properties/{uprn}/risk": {"get": {
        "operationId": "getPropertyRiskHistory",
        "summary": "Get a property's risk history",
        "description": "Every score the property has had: score, band, driver room, cause and reasons, newest first.",
        "tags": ["Risk"],
        "parameters": [
            _UPRN,
            _query("since", {"type": "string", "format": "date-time"},
                   "Only scores computed at or after this time (ISO 8601 with a time zone)."),
            *PAGINATION,
        ],
        "responses": {"200": _json_response("A page of the property's risk history.", _ref("RiskHistoryPage")),
                      **_errors("400", "401", "403", "404")},
    }},
    "/api/v1/risk": {"get": {
        "operationId": "listRisk",
        "summary": "List the latest risk of every property",
        "description": "Each property's score in the latest scoring run, highest first (homes the run could "
                       "not score, band insufficient data, last). Homes the run left out are not listed; "
                       "/api/v1/properties lists every home.",
        "tags": ["Risk"],
        "parameters": [
            _BAND_FILTER,
            _query("cause", {"type": "string", "enum": list(CAUSES)}, "Only homes with this likely cause."),
            _DISTRICT_FILTER,
            _query("vulnerable", {"type": "boolean"},
                   "true: only homes with a vulnerable household; false: only homes without one."),
            *PAGINATION,
        ],
        "responses": {"200": _json_response("A page of latest risks.", _ref("RiskPage")),
                      **_errors("400", "401", "403")},
    }},
    "/api/v1/rooms/{room_id}/readings": {"get": {
        "operationId": "getRoomReadings",
        "summary": "Get a room's hourly readings",
        "description": f"Hourly means of the readings of the devices installed in the room while they were "
                       f"there (as in scoring, readings a device sent before its first installation was "
                       f"recorded count for that first room). The span may be at most {READINGS_MAX_DAYS} "
                       f"days: make several requests for longer ones.",
        "tags": ["Readings"],
        "parameters": [
            _path("room_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Room id (from the property's rooms)."),
            _query("from", {"type": "string", "format": "date-time"},
                   f"Start of the span (ISO 8601 with a time zone, for example 2026-01-05T00:00:00Z); "
                   f"default: {READINGS_DEFAULT_DAYS} days before ``to``."),
            _query("to", {"type": "string", "format": "date-time"},
                   "End of the span, exclusive (ISO 8601 with a time zone); default: now."),
        ],
        "responses": {"200": _json_response("The room's hourly readings.", _ref("RoomReadings")),
                      **_errors("400", "401", "403", "404", "503")},
    }},
    "/api/v1/devices": {"get": {
        "operationId": "listDevices",
        "summary": "List devices and their health",
        "description": "Every sensor with where it is installed, when it was last heard from, its battery "
                       "and whether it is offline, by device id.",
        "tags": ["Devices"],
        "parameters": [
            _query("uprn", {"type": "string", "pattern": UPRN_PATTERN}, "Only devices installed in this property."),
            _query("offline", {"type": "boolean"}, "true: only offline devices; false: only devices reporting."),
            *PAGINATION,
        ],
        "responses": {"200": _json_response("A page of devices.", _ref("DevicePage")),
                      **_errors("400", "401", "403")},
    }},
    "/api/v1/cases": {
        "get": {
            "operationId": "listCases",
            "summary": "List damp and mould cases",
            "description": "Cases, newest first.",
            "tags": ["Cases"],
            "parameters": [
                _query("status", {"type": "string", "enum": list(CASE_STATUSES)}, "Only cases with this status."),
                _query("uprn", {"type": "string", "pattern": UPRN_PATTERN}, "Only cases at this property."),
                *PAGINATION,
            ],
            "responses": {"200": _json_response("A page of cases.", _ref("CasePage")),
                          **_errors("400", "401", "403")},
        },
        "post": {
            "operationId": "openCase",
            "summary": "Open a case",
            "description": "Another system (a contact centre, a repairs system) reports damp or mould at a "
                           "property: DampWatch opens a case and starts the Awaab's Law clocks from "
                           "``aware_at``. Officers and managers only.",
            "tags": ["Cases"],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("NewCase")}}},
            "responses": {
                "201": _json_response("The case opened.", _ref("CaseDetail"), headers={
                    "Location": {"description": "The new case's address in the API.",
                                 "schema": {"type": "string"}}}),
                **_errors("400", "401", "403", "404", "409"),
            },
        },
    },
    "/api/v1/cases/{case_id}": {"get": {
        "operationId": "getCase",
        "summary": "Get a case",
        "description": "A case with each Awaab's Law step against its deadline (in working days, England and "
                       "Wales bank holidays excluded), its inspections and its timeline.",
        "tags": ["Cases"],
        "parameters": [_path("case_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Case id.")],
        "responses": {"200": _json_response("The case.", _ref("CaseDetail")),
                      **_errors("400", "401", "403", "404")},
    }},
    "/api/v1/cases/{case_id}/emergency": {"post": {
        "operationId": "changeCaseEmergency",
        "summary": "Change a case's emergency status",
        "description": "Put a case on the emergency track (investigate and make safe within 24 hours) or take it "
                       "off, with the reason. Officers and managers only. A case with an emergency hazard cannot "
                       "be taken off the track until that hazard changes.",
        "tags": ["Cases"],
        "parameters": [_path("case_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Case id.")],
        "requestBody": {"required": True, "content": {JSON: {"schema": _ref("EmergencyChange")}}},
        "responses": {"200": _json_response("The case, with its new clocks.", _ref("CaseDetail")),
                      **_errors("400", "401", "403", "404")},
    }},
    "/api/v1/awaab-export": {"get": {
        "operationId": "exportAwaabModel",
        "summary": "Export cases in the Awaab's Law data model",
        "description": "Every case the landlord became aware of in the period, as the MHCLG/HACT data model's "
                       "hazard reports, investigations, investigation hazards, notifications, escalations and "
                       "work orders (the same as 'dampwatch export awaab --format json').",
        "tags": ["Cases"],
        "parameters": [
            _query("since", {"type": "string", "format": "date"}, "Cases aware on or after this day (YYYY-MM-DD)."),
            _query("until", {"type": "string", "format": "date"}, "Cases aware on or before this day (YYYY-MM-DD)."),
        ],
        "responses": {"200": _json_response("The export.", _ref("AwaabExport")), **_errors("400", "401", "403")},
    }},
    "/api/v1/inspections": {"get": {
        "operationId": "listInspections",
        "summary": "List inspections",
        "description": "Inspection visits by date, with what was found at those completed.",
        "tags": ["Inspections"],
        "parameters": [
            _query("team", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Only this team's inspections (team id)."),
            _query("from", {"type": "string", "format": "date"}, "Only visits on or after this day (YYYY-MM-DD)."),
            _query("to", {"type": "string", "format": "date"}, "Only visits on or before this day (YYYY-MM-DD)."),
            _query("status", {"type": "string", "enum": list(INSPECTION_STATUSES)},
                   "Only inspections with this status."),
            *PAGINATION,
        ],
        "responses": {"200": _json_response("A page of inspections.", _ref("InspectionPage")),
                      **_errors("400", "401", "403")},
    }},
    "/api/v1/openapi.json": {"get": {
        "operationId": "getOpenApiDocument",
        "summary": "This document",
        "description": "The OpenAPI description of the API. Public: it needs no token.",
        "tags": ["About"],
        "security": [],
        "responses": {"200": {"description": "The OpenAPI document.",
                              "content": {JSON: {"schema": {"type": "object"}}}}},
    }},
}


def _error_response(description: str, *, authenticate: bool = False) -> dict[str, Any]:
    response = _json_response(description, _ref("Error"))
    if authenticate:
        response["headers"] = {"WWW-Authenticate": {
            "description": 'Bearer realm="DampWatch API", with error="invalid_token" when a token was sent.',
            "schema": {"type": "string"}}}
    return response


@functools.cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DampWatch API",
            "version": API_VERSION,
            "summary": "Damp and mould risk, readings, devices, cases and inspections for a landlord's other systems.",
            "description": (
                "Read-only views of DampWatch's data for a council's other systems, and one way in: opening a "
                "damp and mould case.\n\n"
                "**Tokens.** Every call but this document needs a personal API token, sent as "
                "`Authorization: Bearer <token>`. Housing officers, managers and admins create tokens in the "
                "dashboard under *API tokens* (`/account/api-tokens`); a token acts with its owner's role and "
                "stops working when revoked or when its owner's account is deactivated.\n\n"
                "**Errors** are JSON: `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`; the message says "
                "how to put the request right. Unknown query parameters are refused rather than ignored.\n\n"
                f"**Pages.** Lists return `items` and `next_cursor`: pass `cursor=<next_cursor>` for the next "
                f"page until it is null. `limit` sets the page size (default {DEFAULT_LIMIT}, at most "
                f"{MAX_LIMIT}).\n\n"
                f"**Times** are ISO 8601 in UTC (`2026-01-05T09:00:00Z`); a time you send must carry a time zone "
                f"(`Z` or an offset) and fall between the years {EARLIEST_YEAR} and {LATEST_YEAR}, like every date you send; "
                f"`aware_at` may not be in the future or before {EARLIEST_YEAR}. Ids are whole numbers from 1 to "
                f"{MAX_ID}. Dates (`scheduled_for`) are days in Europe/London."
            ),
            "license": {"name": "Apache 2.0", "identifier": "Apache-2.0"},
        },
        "security": [{"bearerToken": []}],
        "tags": [{"name": name} for name in
                 ("Properties", "Risk", "Readings", "Devices", "Cases", "Inspections", "About")],
        "paths": _OPERATIONS,
        "components": {
            "securitySchemes": {"bearerToken": {
                "type": "http", "scheme": "bearer",
                "description": "A personal API token, created in the dashboard under API tokens."}},
            "parameters": {
                "limit": _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                          "default": DEFAULT_LIMIT},
                                f"Items per page, 1 to {MAX_LIMIT}."),
                "cursor": _query("cursor", {"type": "string"},
                                 "The ``next_cursor`` of the previous page, unchanged."),
            },
            "responses": {
                "BadRequest": _error_response(
                    "The request is not valid (a query parameter, the body or the span asked for); the message "
                    "says what to change."),
                "Unauthorised": _error_response(
                    "No token was sent, or the token is not valid (unknown, revoked, or its owner's account is "
                    "deactivated).", authenticate=True),
                "Forbidden": _error_response("The token's owner has a role that cannot use this operation."),
                "NotFound": _error_response("Nothing has that id."),
                "Conflict": _error_response("The change clashes with what is already recorded."),
                "Unavailable": _error_response("The readings store cannot be reached just now; try again later."),
            },
            "schemas": SCHEMAS,
        },
    }


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 document (a fresh copy the caller may change)."""
    return copy.deepcopy(_document())


def query_parameters(path: str, method: str) -> tuple[str, ...]:
    """Names of the query parameters the document gives an operation (the views accept no others)."""
    operation = _document()["paths"][path][method.lower()]
    components = _document()["components"]["parameters"]
    names = []
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = components[parameter["$ref"].rsplit("/", 1)[-1]]
        if parameter["in"] == "query":
            names.append(parameter["name"])
    return tuple(names)
