"""The morning risk list and the property page: where housing officers start their day.

The risk list shows every home with its latest risk, household vulnerability, open case and data health,
filtered and sorted with a plain GET form (it works without JavaScript, and a filtered list can be
bookmarked or downloaded as CSV). The property page shows everything known about one home: its rooms'
readings and risk, charts drawn on the server with the same numbers as a table, the reasons and what would
help, its sensors' health and its cases.

Officers, managers and admins see every home. Repair team members may open the property page of a home
where their team has an inspection (not cancelled): they need the readings and the reasons when they
visit, but not the list of every household's vulnerabilities.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovCheckboxInput, GovSelect
from werkzeug.routing import BuildError
from wtforms import BooleanField, Form, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice (new in WTForms 3.3)

from analytics.risk import BANDS, CAUSES, INSUFFICIENT_DATA
from analytics.wording import render as wording
from core.readings import Reading
from dashboard import charts, queries
from dashboard.access import current_viewer, may_see_home
from dashboard.auth import access_of, audit, roles_required
from dashboard.csv_cells import safe_cell
from dashboard.extensions import get_database, get_settings, get_store

logger = logging.getLogger(__name__)

bp = Blueprint("main", __name__)

NAV_ITEMS = [("Risk list", "main.risk_list", ("officer", "manager", "admin"))]

#: The highest page number asked for that is taken as it is (beyond it: the last page).
MAX_PAGE = 100_000
#: Who sees the risk list; repair team members see property pages of their own jobs only.
LIST_ROLES = ("officer", "manager", "admin")

BAND_LABELS = {
    "critical": "Critical",
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    "insufficient data": "Not enough data",
}
VULNERABILITY_LABELS = {
    "child_under_15": "Child under 15",
    "over_65": "Someone over 65",
    "respiratory_condition": "Breathing condition",
}
#: Columns whose first click sorts highest (or newest) first; the others sort A to Z first.
DESCENDING_FIRST = ("score", "band", "last_reading")
CASE_FILTER_LABELS = {"any": "Any", "open": "Has an open case", "none": "No open case"}
CASE_SOURCE_LABELS = {
    "risk_flag": "Risk flag",
    "tenant_report": "Tenant report",
    "officer": "Officer",
    "inspection": "Inspection",
    "alarm": "Alarm",
}


def cause_label(cause: str | None) -> str:
    """A likely cause in words, starting with a capital ("Poor ventilation")."""
    if not cause:
        return ""
    text = wording(f"cause.{cause}")
    return text[:1].upper() + text[1:]


def optional_url(endpoint: str, **values: Any) -> str | None:
    """The URL of an endpoint another part of the dashboard provides, or None while it does not exist."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def url_maker(endpoint: str, argument: str) -> Callable[[str], str]:
    """A function giving ``url_for(endpoint, argument=value)`` by filling in a pattern built once.

    A page of 50 rows with a few links each would otherwise spend a noticeable part of its time in
    ``url_for``.
    """
    marker = "__dampwatch_value__"
    values: dict[str, Any] = {argument: marker}  # url_for's keyword values are Any
    pattern = url_for(endpoint, **values)
    return lambda value: pattern.replace(marker, quote(str(value), safe=""))


def open_case_urls() -> Callable[[str], str | None]:
    """Where the one-click "Open a case" button of a home posts, if the cases part is there and lets the
    signed-in person in (otherwise the page shows no button)."""
    view = current_app.view_functions.get("cases.open_from_risk")
    access = access_of(view) if view is not None else None
    if view is None or (access is not None and current_user.role not in access.roles):
        return lambda uprn: None
    return url_maker("cases.open_from_risk", "uprn")


@bp.app_template_filter("risk_band_class")
def band_class(band: str | None) -> str:
    """The classes of a risk band's tag (the layout's band colours; a home not yet scored is grey)."""
    name = (band or "insufficient data").replace(" ", "-")
    return f"govuk-tag dampwatch-band dampwatch-band--{name}"


# --------------------------------------------------------------------------------------------------------
# The risk list
# --------------------------------------------------------------------------------------------------------


class RiskFilterForm(Form):
    """The risk list's filters: read from the query string (GET, so no CSRF token)."""

    band = SelectMultipleField("Risk band", widget=GovCheckboxesInput(), choices=[
        SelectChoice(band, BAND_LABELS[band]) for band in (*reversed(BANDS), INSUFFICIENT_DATA)])
    cause = SelectField("Likely cause", widget=GovSelect(), choices=[
        SelectChoice("", "Any cause"), *(SelectChoice(cause, cause_label(cause)) for cause in CAUSES)])
    district = SelectField("Postcode district", widget=GovSelect(), choices=[SelectChoice("", "Any district")])
    case = SelectField("Cases", widget=GovSelect(), default="any",
                       choices=[SelectChoice(value, label) for value, label in CASE_FILTER_LABELS.items()])
    vulnerable = BooleanField("Only households with someone more at risk from damp", widget=GovCheckboxInput())


def _filters_from_request() -> tuple[RiskFilterForm, queries.RiskFilters]:
    """The filter form and the filters, from the query string; values that make no sense are ignored."""
    form = RiskFilterForm(request.args)
    with get_database().session() as session:
        form.district.choices = [SelectChoice("", "Any district"),
                                 *(SelectChoice(d, d) for d in queries.district_options(session))]
    if not form.validate():
        for name in form.errors:
            field = getattr(form, name)
            field.data = field.default
            field.errors = []
    sort = request.args.get("sort", "score")
    if sort not in queries.SORTS:
        sort = "score"
    descending = request.args.get("order", "desc" if sort in DESCENDING_FIRST else "asc") != "asc"
    try:
        page = min(max(1, int(request.args.get("page", "1"))), MAX_PAGE)
    except ValueError:
        page = 1
    filters = queries.RiskFilters(
        bands=tuple(form.band.data or ()), cause=form.cause.data or None, district=form.district.data or None,
        vulnerable=bool(form.vulnerable.data), case=form.case.data or "any", sort=sort, descending=descending,
        page=page,
    )
    return form, filters


def _filter_args(filters: queries.RiskFilters, **changes: Any) -> dict[str, Any]:
    """Query arguments that reproduce ``filters`` (with ``changes``), for links that keep the filters."""
    args: dict[str, Any] = {
        "band": list(filters.bands) or None,
        "cause": filters.cause,
        "district": filters.district,
        "vulnerable": "y" if filters.vulnerable else None,
        "case": filters.case if filters.case != "any" else None,
        "sort": filters.sort if filters.sort != "score" else None,
        "order": None if filters.descending else "asc",
        "page": filters.page if filters.page > 1 else None,
    }
    if filters.sort != "score" and filters.descending:
        args["order"] = "desc"
    args.update(changes)
    return {name: value for name, value in args.items() if value not in (None, "", [])}


def _sort_links(filters: queries.RiskFilters) -> dict[str, dict[str, Any]]:
    """For each sortable column: its link (toggling the order if it is the current one) and aria-sort."""
    links = {}
    for column in queries.SORTS:
        current = filters.sort == column
        descending = not filters.descending if current else column in DESCENDING_FIRST
        order = "desc" if descending else "asc"
        links[column] = {
            "href": url_for("main.risk_list", **_filter_args(filters, sort=column, order=order, page=None)),
            "aria_sort": ("descending" if filters.descending else "ascending") if current else "none",
            "current": current,
        }
    return links


def _pagination(page: queries.RiskPage, filters: queries.RiskFilters) -> dict[str, Any] | None:
    """Parameters of GOV.UK's pagination component (numbers with ellipses), or None for one page."""
    if page.pages <= 1:
        return None

    def href(number: int) -> str:
        return url_for("main.risk_list", **_filter_args(filters, page=number if number > 1 else None))

    shown = sorted({1, page.pages, page.page - 1, page.page, page.page + 1} & set(range(1, page.pages + 1)))
    items: list[dict[str, Any]] = []
    previous = 0
    for number in shown:
        if number - previous > 1:
            items.append({"ellipsis": True})
        items.append({"number": number, "href": href(number), "current": number == page.page})
        previous = number
    params: dict[str, Any] = {"items": items, "landmarkLabel": "Pages of the risk list"}
    if page.page > 1:
        params["previous"] = {"href": href(page.page - 1)}
    if page.page < page.pages:
        params["next"] = {"href": href(page.page + 1)}
    return params


@bp.route("/")
@roles_required(*LIST_ROLES)
def risk_list():
    form, filters = _filters_from_request()
    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    with get_database().session() as session:
        page = queries.risk_page(session, filters, now=now, offline_after_s=settings.device_offline_after_s)
    return render_template(
        "main/risk_list.html",
        form=form,
        filters=filters,
        page=page,
        sort_links=_sort_links(filters),
        pagination=_pagination(page, filters),
        csv_url=url_for("main.risk_list_csv", **_filter_args(filters, page=None)),
        clear_url=url_for("main.risk_list"),
        open_case_url=open_case_urls(),
        property_url=url_maker("main.property_page", "uprn"),
        band_labels=BAND_LABELS,
        cause_label=cause_label,
        vulnerability_labels=VULNERABILITY_LABELS,
        filtered=any((filters.bands, filters.cause, filters.district, filters.vulnerable, filters.case != "any")),
    )


CSV_COLUMNS = (
    "UPRN", "Address", "Postcode", "Score", "Risk band", "Driver room", "Likely cause", "Cold home",
    "Data coverage (%)", "Child under 15", "Over 65", "Breathing condition", "Open case", "Sensors",
    "Sensors offline", "Low batteries", "Last reading (UTC)",
)
_cell = safe_cell  # a spreadsheet will not run a cell as a formula (dashboard.csv_cells)


def _flag(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _csv_row(row: queries.RiskRow) -> list[Any]:
    return [_cell(value) for value in (
        row.uprn, row.address, row.postcode,
        "" if row.score is None else f"{row.score:.1f}",
        row.band or "not scored", row.driver_room or "", row.cause or "",
        _flag(row.cold_home) if row.band else "",
        "" if row.data_coverage is None else f"{100 * row.data_coverage:.0f}",
        _flag(row.child_under_15), _flag(row.over_65), _flag(row.respiratory_condition),
        row.open_case_id or "", row.devices, row.devices_offline, row.devices_low_battery,
        row.last_reading.isoformat() if row.last_reading else "",
    )]


@bp.route("/risk-list.csv")
@roles_required(*LIST_ROLES)
def risk_list_csv():
    _, filters = _filters_from_request()
    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    database = get_database()

    # The file lists households' vulnerabilities: who took a copy, and of what, goes in the audit log.
    with database.session() as session:
        audit(session, "risk_list.downloaded", "risk_list", None, bands=list(filters.bands), cause=filters.cause,
              district=filters.district, vulnerable=filters.vulnerable, case=filters.case)
    logger.info("risk list downloaded as CSV by %s", current_user.email)

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        with database.session() as session:
            for number, row in enumerate(queries.risk_rows(session, filters, now=now,
                                                           offline_after_s=settings.device_offline_after_s)):
                writer.writerow(_csv_row(row))
                if number % 500 == 499:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    filename = f"dampwatch-risk-list-{now:%Y-%m-%d}.csv"
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --------------------------------------------------------------------------------------------------------
# The property page
# --------------------------------------------------------------------------------------------------------


def _check_may_see(uprn: str) -> None:
    """Only homes the signed-in person may see (``dashboard.access``: repair teams, where they have an inspection)."""
    with get_database().session() as session:
        if not may_see_home(session, current_viewer(), uprn):
            abort(403)


def _chart_days() -> int:
    try:
        days = int(request.args.get("days", charts.DEFAULT_CHART_DAYS))
    except ValueError:
        return charts.DEFAULT_CHART_DAYS
    return days if days in charts.CHART_DAYS else charts.DEFAULT_CHART_DAYS


def _latest_by_room(detail: queries.PropertyDetail) -> dict[int, Reading]:
    """The newest reading of each room (of the devices installed there now)."""
    device_ids = detail.device_ids
    if not device_ids:
        return {}
    latest = get_store().latest(device_ids)
    out: dict[int, Reading] = {}
    for room in detail.rooms:
        readings = [latest[d] for d in room.device_ids if d in latest]
        if readings:
            out[room.room_id] = max(readings, key=lambda r: r.ts)
    return out


@bp.route("/properties/<uprn>")
@roles_required("officer", "manager", "admin", "repair")
def property_page(uprn: str):
    _check_may_see(uprn)
    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    days = _chart_days()
    with get_database().session() as session:
        detail = queries.property_detail(session, uprn, now=now, offline_after_s=settings.device_offline_after_s)
        if detail is None:
            abort(404)
        series = charts.property_series(session, get_store(), uprn, days=days, now=now)
        events = ([{**event, "at": dt.datetime.fromtimestamp(event["t"], dt.UTC)} for event in
                   charts.chart_events(session, uprn, series[0].start, series[0].end)] if series else [])
        thermal = charts.property_thermal(session, get_store(), uprn, now)  # excess cold and heat (issue 15)
    latest = _latest_by_room(detail)
    open_case = next((case for case in detail.cases if case.status == "open"), None)
    return render_template(
        "main/property.html",
        detail=detail,
        home=detail.property,
        risk=detail.risk,
        latest=latest,
        series=series,
        events=events,
        days=days,
        chart_days=charts.CHART_DAYS,
        alt_text=charts.alt_text,
        table_rows=charts.table_rows,
        open_case=open_case,
        open_case_url=open_case_urls(),
        case_url=lambda case: optional_url("cases.case_page", case_id=case.id),
        band_labels=BAND_LABELS,
        cause_label=cause_label,
        vulnerability_labels=VULNERABILITY_LABELS,
        case_source_labels=CASE_SOURCE_LABELS,
        may_see_list=current_user.role in LIST_ROLES,
        site_url=(optional_url("portfolio.site", site=home_site) if (home_site := detail.property.site)
                  and current_user.role in LIST_ROLES else None),
        surface_rh_limit=int(charts.SURFACE_RH_MOULD_LIMIT),
        kept_days=charts.KEPT_DAYS,
        thermal=thermal,
    )


@bp.route("/properties/<uprn>/chart-data.json")
@roles_required("officer", "manager", "admin", "repair")
def property_chart_data(uprn: str):
    """The interactive charts' data (``analytics.room_series`` as JSON, with the home's events)."""
    _check_may_see(uprn)
    days = _chart_days()
    with get_database().session() as session:
        data = charts.property_chart_data(session, get_store(), uprn, days=days, now=dt.datetime.now(dt.UTC))
    if data is None:
        abort(404)
    return current_app.json.response(data)


@bp.route("/properties/<uprn>/rooms/<int:room_id>/chart.png")
@roles_required("officer", "manager", "admin", "repair")
def property_chart(uprn: str, room_id: int):
    _check_may_see(uprn)
    days = _chart_days()
    with get_database().session() as session:
        image = charts.room_chart_png(session, get_store(), uprn, room_id, days=days, now=dt.datetime.now(dt.UTC))
    if image is None:
        abort(404)
    return Response(image, mimetype="image/png")
