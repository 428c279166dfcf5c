"""Cases under Awaab's Law: opening a case, its clocks, inspections, the schedule and the evidence pack.

Officers open a case in one click from a risk row or from a tenant's report, record each step as it is
done, book inspections against each team's daily capacity (or accept a proposed schedule), and download
the evidence pack the Housing Ombudsman asks for. Managers see every step due soon or past its deadline.
The rules (deadlines in working days, one open case per home, capacity) live in ``core.cases`` and
``core.scheduling``; these views validate forms, call them and redirect.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovDateInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from sqlalchemy import select
from wtforms import DateField, RadioField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice (new in WTForms 3.3)
from wtforms.validators import InputRequired, Length, Optional, StopValidation, ValidationError

from core.cases import (
    EARLIEST_AWARE_AT,
    RECORDABLE_STEPS,
    CaseError,
    DuplicateCaseError,
    add_case_event,
    cases_breached,
    cases_due_soon,
    close_case,
    event_label,
    fix_check,
    next_deadline,
    open_case,
    record_step,
    step_clocks,
)
from core.errors import ValidationError as CoreValidationError
from core.hazards import HAZARDS
from core.model import (
    Case,
    Property,
    PropertyRisk,
    Room,
    Team,
    normalise_uprn,
)
from core.scheduling import (
    Proposal,
    SchedulingError,
    accept_proposals,
    latest_risks,
    next_working_days,
    propose_schedule,
    remaining_capacity,
    schedule_inspection,
    team_covers,
)
from core.workdays import LONDON, is_working_day, london_date
from dashboard import MAX_ROW_ID
from dashboard.access import current_viewer, get_or_404, scope
from dashboard.auth import current_actor, roles_required
from dashboard.extensions import get_database
from dashboard.forms import required

logger = logging.getLogger(__name__)

bp = Blueprint("cases", __name__, url_prefix="/cases")

NAV_ITEMS = [
    ("Cases", "cases.case_list", ("officer", "manager")),
    ("Inspection schedule", "cases.proposed_schedule", ("officer", "manager")),
    ("Deadlines", "cases.manager", ("manager", "admin")),
]

OFFICE = ("officer", "manager")
SCHEDULE_DAYS = 10
"""Working days ahead the schedule pages show."""

STEP_BUTTONS = {
    "investigate": "Record the investigation",
    "summary": "Record the written summary",
    "make_safe": "Record making safe",
    "preventative": "Record preventative work begun",
    "works_completed": "Record works completed",
}
SEVERITY_LABELS = {"none": "None", "minor": "Minor", "moderate": "Moderate", "severe": "Severe"}
CAUSE_LABELS = {
    "ventilation": "Poor ventilation",
    "moisture_load": "High moisture load",
    "under_heating": "Under-heating",
    "cold_fabric": "Cold walls, floors or ceilings (building fabric)",
    "leak": "A leak or water getting in",
    "other": "Something else",
    "unknown": "Not known yet",
}


@bp.context_processor
def _case_template_context() -> dict[str, Any]:
    return {"now": now_utc(), "long_date": long_date}


def who() -> tuple[dict[str, Any], str]:
    """The user id and IP of this request (keyword arguments of the core functions' audit), and the actor."""
    actor, user_id = current_actor()
    return {"user_id": user_id, "ip": request.remote_addr}, actor


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def long_date(day: dt.date) -> str:
    """"Monday 2 March 2026"."""
    return f"{day:%A} {day.day} {day:%B %Y}"


# -- forms ----------------------------------------------------------------------------------------------

TIME_PATTERN = re.compile(r"^\s*([01]?[0-9]|2[0-3])[:.]([0-5][0-9])\s*(am|pm)?\s*$", re.IGNORECASE)


class GovDateField(DateField):
    """A GOV.UK date input (day, month, year) with GOV.UK error messages."""

    def __init__(self, label: str, *, what: str, **kwargs: Any) -> None:
        super().__init__(label, format="%d %m %Y", widget=GovDateInput(), **kwargs)
        self.what = what

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            self.raw_data = None  # the widget reads raw_data as three parts; none were sent
            return
        parts = [part.strip() for part in valuelist]
        if not any(parts):
            self.data = None
            return
        if len(parts) != 3 or not all(parts):
            missing = [name for name, part in zip(("day", "month", "year"), parts + [""] * 3, strict=False)
                       if not part][:1]
            self.data = None
            raise ValueError(f"{self.what} must include a {missing[0] if missing else 'day, month and year'}")
        try:
            day, month, year = (int(p) for p in parts)
            if year < 1000:
                raise ValueError
            self.data = dt.date(year, month, day)
        except ValueError:
            self.data = None
            raise ValueError(f"{self.what} must be a real date") from None


class DateRequired:
    """Like ``InputRequired`` for a date input, but keeps the date's own error ("must be a real date")."""

    field_flags: ClassVar[dict[str, bool]] = {"required": True}

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form, field) -> None:
        if not field.raw_data or not any((part or "").strip() for part in field.raw_data):
            field.errors[:] = []
            raise StopValidation(self.message)


def parse_time(text: str) -> dt.time | None:
    """"14:30", "2.30pm", "9:05" as a time; None if it is not one."""
    match = TIME_PATTERN.match(text or "")
    if not match:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2)), (match.group(3) or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    return dt.time(hour, minute)


def london_instant(day: dt.date, time: dt.time) -> dt.datetime:
    """A London wall-clock date and time as a UTC instant."""
    return dt.datetime.combine(day, time, tzinfo=LONDON).astimezone(dt.UTC)


class WhenMixin:
    """A date and a time, in London time, that must not be in the future."""

    when_date: DateField  # each form declares the two fields
    when_time: StringField

    def validate_when_time(self, field) -> None:
        if parse_time(field.data or "") is None:
            raise ValidationError("Enter the time in the 24-hour clock, for example 14:30")

    def when(self) -> dt.datetime:
        """The date and time as a UTC instant; both must have passed validation."""
        time = parse_time(self.when_time.data or "")
        if self.when_date.data is None or time is None:
            raise ValueError("no valid date and time: validate the form first")
        return london_instant(self.when_date.data, time)

    def check_not_future(self) -> bool:
        """The date and time are now or in the past, and not before ``EARLIEST_AWARE_AT`` (a typo)."""
        if self.when_date.data is None or parse_time(self.when_time.data or "") is None:
            return True
        if self.when() > now_utc() + dt.timedelta(minutes=5):
            self.when_date.errors = [*self.when_date.errors, "The date and time must be now or in the past"]
            return False
        if self.when() < EARLIEST_AWARE_AT:
            self.when_date.errors = [*self.when_date.errors,
                                     f"The date must be on or after {long_date(EARLIEST_AWARE_AT.date())}"]
            return False
        return True

    def prefill_now(self) -> None:
        local = now_utc().astimezone(LONDON)
        if self.when_date.data is None and not self.when_date.raw_data:
            self.when_date.data = local.date()
        if not self.when_time.data:
            self.when_time.data = f"{local:%H:%M}"


class NewCaseForm(WhenMixin, FlaskForm):
    uprn = StringField("UPRN of the home", widget=GovTextInput(),
                       validators=[InputRequired(message="Enter the UPRN of the home"), Length(max=12)])
    when_date = GovDateField("When did the landlord become aware?", what="The date you became aware",
                             validators=[DateRequired("Enter the date you became aware")])
    when_time = StringField("Time (24-hour clock)", widget=GovTextInput(),
                            validators=[InputRequired(message="Enter the time you became aware")])
    source = RadioField("How did you find out?", widget=GovRadioInput(),
                        choices=[SelectChoice("tenant_report", "The tenant reported it"),
                                 SelectChoice("officer", "A member of staff saw it"),
                                 SelectChoice("inspection", "An inspection found it")],
                        default="tenant_report",
                        validators=[InputRequired(message="Select how you found out")])
    emergency = RadioField("Is it an emergency hazard?", widget=GovRadioInput(),
                           choices=[SelectChoice("yes", "Yes: an imminent and significant risk to health or safety"),
                                    SelectChoice("no", "No")],
                           validators=[InputRequired(message="Select yes if it is an emergency hazard")])
    summary = TextAreaField("What was reported", widget=GovTextArea(),
                            validators=[Optional(), Length(max=5000, message="Summary must be 5,000 characters "
                                                                              "or fewer")])
    # The HHSRS hazard (core.hazards; more can be added on the case page), damp and mould unless chosen.
    hazard = SelectField("Hazard", widget=GovSelect(), default="damp_and_mould",
                         choices=[SelectChoice(h.code, h.name) for h in HAZARDS],
                         validators=[Optional()])
    hazard_severity = RadioField("How severe is the hazard?", widget=GovRadioInput(), default="medium",
                                 choices=[SelectChoice("high", "High"), SelectChoice("medium", "Medium"),
                                          SelectChoice("low", "Low")], validators=[Optional()])
    submit = SubmitField("Open case", widget=GovSubmitInput())

    def validate_uprn(self, field) -> None:
        try:
            field.data = normalise_uprn(field.data or "")
        except CoreValidationError:
            raise ValidationError("Enter a UPRN of 1 to 12 digits, for example 100023336956") from None


class StepForm(WhenMixin, FlaskForm):
    when_date = GovDateField("Date done", what="The date done",
                             validators=[DateRequired("Enter the date it was done")])
    when_time = StringField("Time (24-hour clock)", widget=GovTextInput(),
                            validators=[InputRequired(message="Enter the time it was done")])
    note = TextAreaField("Note (optional)", widget=GovTextArea(),
                         validators=[Optional(), Length(max=5000, message="Note must be 5,000 characters or fewer")])
    submit = SubmitField("Record", widget=GovSubmitInput())


class CloseForm(FlaskForm):
    reason = TextAreaField("Why is the case being closed?", widget=GovTextArea(),
                           validators=[InputRequired(message="Enter why the case is being closed"),
                                       Length(max=5000, message="Reason must be 5,000 characters or fewer")])
    submit = SubmitField("Close case", widget=GovSubmitInput())


class NoteForm(FlaskForm):
    text = TextAreaField("Add a note to the timeline", widget=GovTextArea(),
                         validators=[InputRequired(message="Enter the note"),
                                     Length(max=5000, message="Note must be 5,000 characters or fewer")])
    submit = SubmitField("Add note", widget=GovSubmitInput())


class ScheduleForm(FlaskForm):
    team = RadioField("Team", widget=GovRadioInput(), coerce=int,
                      validators=[InputRequired(message="Select a team")])
    date = GovDateField("Inspection date", what="The inspection date",
                        validators=[DateRequired("Enter the inspection date")])
    submit = SubmitField("Book inspection", widget=GovSubmitInput())


# -- helpers --------------------------------------------------------------------------------------------


def _case_or_404(db, case_id: int) -> Case:
    """The case if the signed-in person may see its home (``dashboard.access``); 404 otherwise."""
    return get_or_404(db, Case, case_id, current_viewer())


def _step_forms(case: Case, bound: dict[str, StepForm] | None = None) -> dict[str, StepForm]:
    """A form for each step that can be recorded now (not done, and its investigation recorded if needed)."""
    forms: dict[str, StepForm] = {}
    if case.status != "open":
        return forms
    for key, step in RECORDABLE_STEPS.items():
        if getattr(case, step.column) is not None:
            continue
        needs_investigation = key in ("summary", "preventative", "works_completed") or (
            key == "make_safe" and not case.emergency)
        if needs_investigation and case.investigated_at is None:
            continue
        form = (bound or {}).get(key) or StepForm(prefix=key, formdata=None)
        form.prefill_now()
        form.submit.label.text = STEP_BUTTONS[key]
        forms[key] = form
    return forms


def _case_context(db, case: Case, **forms: Any) -> dict[str, Any]:
    now = now_utc()
    inspections = list(case.inspections)
    findings = [(i, i.finding) for i in inspections if i.finding is not None]
    rooms = {room.id: room.name for room in db.scalars(select(Room).where(Room.uprn == case.uprn))}
    events = sorted(case.events, key=lambda e: (e.at, e.id))
    return {
        "case": case,
        "home": case.property,
        "room_name": rooms.get(case.room_id) if case.room_id else None,
        "clocks": step_clocks(case, now),
        "works_completed_at": case.works_completed_at,
        "inspections": inspections,
        "findings": findings,
        "rooms": rooms,
        "events": events,
        "event_label": event_label,
        "fix": fix_check(db, case, now),
        "step_forms": forms.get("step_forms") or _step_forms(case),
        "close_form": forms.get("close_form") or CloseForm(formdata=None),
        "note_form": forms.get("note_form") or NoteForm(formdata=None),
        "error_form": forms.get("error_form"),
        "can_edit": current_user.role in OFFICE,
        "severity_labels": SEVERITY_LABELS,
        "cause_labels": CAUSE_LABELS,
        "messages": get_flashed_messages(with_categories=True),
    }


# -- case list, new case, open from a risk row ------------------------------------------------------------


@bp.route("/")
@roles_required(*OFFICE)
def case_list():
    """Open cases, the next deadline of each first."""
    now = now_utc()
    with get_database().session() as db:
        cases = db.scalars(scope(select(Case).where(Case.status == "open"), Case, current_viewer())).all()
        rows = []
        for case in cases:
            rows.append({"case": case, "home": case.property, "next": next_deadline(case, now)})
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        rows.sort(key=lambda r: (r["next"].due if r["next"] else far, r["case"].id))
        return render_template("cases/list.html", rows=rows, messages=get_flashed_messages(with_categories=True))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*OFFICE)
def new():
    """Open a case from a tenant's report (or what staff saw), with when the landlord became aware."""
    form = NewCaseForm()
    if request.method == "GET":
        if request.args.get("uprn"):
            form.uprn.data = request.args["uprn"]
        form.prefill_now()
    if form.validate_on_submit() and form.check_not_future():
        audit_kwargs, actor = who()
        try:
            with get_database().session() as db:
                if db.get(Property, form.uprn.data) is None:
                    raise CaseError("There is no home with this UPRN; check it against the asset register")
                case = open_case(db, uprn=required(form.uprn.data), aware_at=form.when(), source=form.source.data,
                                 actor=actor, emergency=form.emergency.data == "yes",
                                 summary=(form.summary.data or "").strip(),
                                 hazards=[{"hazard": form.hazard.data or "damp_and_mould",
                                           "severity": form.hazard_severity.data or "medium",
                                           "emergency": form.emergency.data == "yes"}], **audit_kwargs)
                case_id = case.id
        except DuplicateCaseError as exc:
            flash(f"This home already has an open case (case {exc.case_id}). Add to that case instead.", "info")
            return redirect(url_for("cases.case_page", case_id=exc.case_id))
        except CaseError as exc:
            form.uprn.errors = [*form.uprn.errors, str(exc)]
        else:
            flash(f"Case {case_id} opened. The clocks started when you became aware.", "success")
            return redirect(url_for("cases.case_page", case_id=case_id))
    from core.clock_profiles import configured_profile

    return render_template("cases/new.html", form=form, rules=configured_profile())


@bp.route("/from-risk/<uprn>", methods=["POST"])
@roles_required(*OFFICE)
def open_from_risk(uprn: str):
    """One click from a risk row: open a case now (source: risk flag), linked to the home's latest risk."""
    audit_kwargs, actor = who()
    try:
        with get_database().session() as db:
            home = db.get(Property, uprn)
            if home is None:
                abort(404)
            risk = latest_risks(db, [uprn]).get(uprn)
            summary = "Opened from the risk list"
            if risk is not None:
                score = f" (score {risk.score:.2f})" if risk.score is not None else ""
                summary = f"Opened from the risk list: risk {risk.band}{score}"
                if risk.driver_room:
                    summary += f", worst room {risk.driver_room}"
            case = open_case(db, uprn=uprn, aware_at=now_utc(), source="risk_flag", actor=actor,
                             room_id=risk.driver_room_id if risk is not None else None,
                             property_risk_id=risk.id if risk is not None else None, summary=summary, **audit_kwargs)
            case_id = case.id
            due = step_clocks(case, now_utc())[0].due  # the clock profile the case was opened under
            assert due is not None  # the investigation always has a deadline
    except DuplicateCaseError as exc:
        flash(f"This home already has an open case (case {exc.case_id}).", "info")
        return redirect(url_for("cases.case_page", case_id=exc.case_id))
    flash(f"Case {case_id} opened. The investigation is due by {long_date(london_date(due))}.", "success")
    return redirect(url_for("cases.case_page", case_id=case_id))


# -- the case page and its actions -------------------------------------------------------------------------


@bp.route("/<int:case_id>")
@roles_required("officer", "manager", "repair")
def case_page(case_id: int):
    """A case: its home, each Awaab's Law step against its deadline, inspections, findings and timeline."""
    with get_database().session() as db:
        case = _case_or_404(db, case_id)
        return render_template("cases/case.html", **_case_context(db, case))


@bp.route("/<int:case_id>/steps/<key>", methods=["POST"])
@roles_required(*OFFICE)
def record(case_id: int, key: str):
    """Record that a step was done (date and time in London time, and a note)."""
    if key not in RECORDABLE_STEPS:
        abort(404)
    form = StepForm(prefix=key)
    form.submit.label.text = STEP_BUTTONS[key]
    audit_kwargs, actor = who()
    with get_database().session() as db:
        case = _case_or_404(db, case_id)
        if form.validate_on_submit() and form.check_not_future():
            try:
                record_step(db, case, key, form.when(), actor, (form.note.data or "").strip(), **audit_kwargs)
            except CaseError as exc:
                form.when_date.errors = [*form.when_date.errors, str(exc)]
            else:
                flash(f"{RECORDABLE_STEPS[key].label}: recorded.", "success")
                return redirect(url_for("cases.case_page", case_id=case_id))
        db.rollback()
        case = _case_or_404(db, case_id)
        forms = _step_forms(case, {key: form})
        return render_template("cases/case.html", **_case_context(db, case, step_forms=forms, error_form=form)), 400


@bp.route("/<int:case_id>/close", methods=["POST"])
@roles_required(*OFFICE)
def close(case_id: int):
    """Close a case, with the reason."""
    form = CloseForm()
    audit_kwargs, actor = who()
    with get_database().session() as db:
        case = _case_or_404(db, case_id)
        if form.validate_on_submit():
            try:
                close_case(db, case, actor=actor, reason=required(form.reason.data), **audit_kwargs)
            except CaseError as exc:
                form.reason.errors = [*form.reason.errors, str(exc)]
            else:
                flash(f"Case {case_id} closed.", "success")
                return redirect(url_for("cases.case_page", case_id=case_id))
        db.rollback()
        case = _case_or_404(db, case_id)
        return render_template("cases/case.html", **_case_context(db, case, close_form=form, error_form=form)), 400


@bp.route("/<int:case_id>/notes", methods=["POST"])
@roles_required(*OFFICE)
def add_note(case_id: int):
    """Add a note to the case's timeline."""
    form = NoteForm()
    audit_kwargs, actor = who()
    with get_database().session() as db:
        case = _case_or_404(db, case_id)
        if form.validate_on_submit():
            text = required(form.text.data).strip()
            add_case_event(db, case, "note", actor, text)
            from core import audit as core_audit

            core_audit.record(db, actor, "case.note_added", "case", case.id, text=text, **audit_kwargs)
            flash("Note added.", "success")
            return redirect(url_for("cases.case_page", case_id=case_id))
        return render_template("cases/case.html", **_case_context(db, case, note_form=form, error_form=form)), 400


# -- manager's view ----------------------------------------------------------------------------------------


@bp.route("/deadlines")
@roles_required("manager", "admin")
def manager():
    """Every step of an open case that is past its deadline, then every step due within 2 working days."""
    now = now_utc()
    with get_database().session() as db:
        breached = cases_breached(db, now)
        due_soon = cases_due_soon(db, now)
        open_count = len(db.scalars(select(Case.id).where(Case.status == "open")).all())
        return render_template("cases/manager.html", breached=breached, due_soon=due_soon, open_count=open_count)


# -- scheduling --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamDays:
    """A team and its remaining capacity on each of the next working days."""

    team: Team
    days: list[tuple[dt.date, int]]
    covers: bool


def _team_days(db, home: Property | None, start: dt.date) -> list[TeamDays]:
    window = next_working_days(start, SCHEDULE_DAYS)
    rows = []
    for team in db.scalars(select(Team).order_by(Team.name)):
        free = remaining_capacity(db, team, window)
        rows.append(TeamDays(team, [(day, free[day]) for day in window],
                             team_covers(team, home.postcode) if home is not None else True))
    return rows


@bp.route("/<int:case_id>/schedule", methods=["GET", "POST"])
@roles_required(*OFFICE)
def schedule(case_id: int):
    """Book an inspection for a case with a team on a date, seeing each team's remaining capacity per day."""
    form = ScheduleForm()
    audit_kwargs, actor = who()
    with get_database().session() as db:
        case = _case_or_404(db, case_id)
        today = london_date(now_utc())
        teams = _team_days(db, case.property, today)
        form.team.choices = [SelectChoice(t.team.id, t.team.name + ("" if t.covers else " (does not cover this area)"))
                             for t in teams]
        covering = [t.team.id for t in teams if t.covers]
        if request.method == "GET" and len(covering) == 1:
            form.team.data = covering[0]
        if form.validate_on_submit():
            team = db.get(Team, form.team.data)
            assert team is not None  # the form takes only the id of a team listed above, in this session
            try:
                inspection = schedule_inspection(db, case, team, required(form.date.data), actor, **audit_kwargs)
            except SchedulingError as exc:
                form.date.errors = [*form.date.errors, str(exc)]
            else:
                deadline = step_clocks(case, now_utc())[0]
                late = (case.investigated_at is None and deadline.due is not None
                        and inspection.scheduled_for > london_date(deadline.due))
                flash(f"Inspection booked with {team.name} on {long_date(inspection.scheduled_for)}."
                      + (" This is after the investigation deadline." if late else ""),
                      "warning" if late else "success")
                return redirect(url_for("cases.case_page", case_id=case_id))
            db.rollback()
            case = _case_or_404(db, case_id)
        clocks = step_clocks(case, now_utc())
        status = 400 if form.errors else 200
        return render_template("cases/schedule.html", form=form, case=case, home=case.property, teams=teams,
                               investigate=clocks[0]), status


def _proposal_rows(db, team: Team, days: int) -> tuple[list[Proposal], list[dt.date]]:
    now = now_utc()
    today = london_date(now)
    proposals = propose_schedule(db, team, today, days, now)
    return proposals, next_working_days(today, days)


@bp.route("/schedule", methods=["GET", "POST"])
@roles_required(*OFFICE)
def proposed_schedule():
    """A proposed schedule for a team: accept it all, or change a date or drop a row, then accept."""
    audit_kwargs, actor = who()
    with get_database().session() as db:
        teams = db.scalars(select(Team).order_by(Team.name)).all()
        team_id = _row_id(request.values.get("team")) or (teams[0].id if teams else None)
        days = min(max(request.values.get("days", type=int) or SCHEDULE_DAYS, 1), 30)
        team = db.get(Team, team_id) if team_id else None
        errors: list[dict[str, str]] = []
        if team is None:
            return render_template("cases/proposed.html", teams=teams, team=None, days=days, proposals=[],
                                   window=[], errors=errors, chosen={}, long_date=long_date,
                                   messages=get_flashed_messages(with_categories=True))
        if request.method == "POST":
            chosen, errors = _chosen_rows(db, request.form)
            if not errors:
                rows = [row for row in chosen if row.date is not None]
                if not rows:
                    errors.append({"text": "Choose a date for at least one home, or go back", "href": "#row-0"})
                else:
                    try:
                        booked = accept_proposals(db, team, rows, actor, **audit_kwargs)
                    except SchedulingError as exc:
                        errors.append({"text": str(exc), "href": "#row-0"})
                    else:
                        opened = sum(1 for row in rows if row.case_id is None)
                        flash(f"{len(booked)} inspections booked for {team.name}"
                              + (f"; {opened} new cases opened." if opened else "."), "success")
                        return redirect(url_for("cases.proposed_schedule", team=team.id, days=days))
            db.rollback()
        proposals, window = _proposal_rows(db, team, days)
        chosen_dates = {}
        if request.method == "POST":
            chosen_dates = {key: value for key, value in request.form.items() if key.startswith("date-")}
        status = 400 if errors else 200
        return render_template("cases/proposed.html", teams=teams, team=team, days=days, proposals=proposals,
                               window=window, errors=errors, chosen=chosen_dates, long_date=long_date,
                               messages=get_flashed_messages(with_categories=True)), status


def _row_id(text: str | None) -> int | None:
    """A whole number from a form or query (an id, a count) within the database's range; None otherwise."""
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > MAX_ROW_ID:
        return None
    return int(text)


def _chosen_rows(db, form) -> tuple[list[Proposal], list[dict[str, str]]]:
    """The rows the officer accepted, rebuilt from the form (uprn, case, risk record and the chosen date)."""
    rows, errors = [], []
    count = _row_id(form.get("rows")) or 0
    for index in range(min(count, 500)):
        uprn = form.get(f"uprn-{index}", "")
        home = db.get(Property, uprn)
        if home is None:
            continue
        value = form.get(f"date-{index}", "")
        if value in ("", "drop"):
            day = None
        else:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                errors.append({"text": f"Choose a date for {home.address}", "href": f"#date-{index}"})
                continue
            if not is_working_day(day):
                errors.append({"text": f"{long_date(day)} is not a working day", "href": f"#date-{index}"})
                continue
        case_id = _row_id(form.get(f"case-{index}"))
        risk_id = _row_id(form.get(f"risk-{index}"))
        if risk_id is not None:
            risk = db.get(PropertyRisk, risk_id)
            risk_id = risk.id if risk is not None and risk.uprn == uprn else None
        rows.append(Proposal(uprn, home.address, home.postcode, case_id, day, now_utc(), 0.0, None, None, risk_id))
    return rows, errors


# -- evidence ----------------------------------------------------------------------------------------------


def _evidence(case_id: int):
    from dashboard.evidence import collect_evidence
    from dashboard.extensions import get_store

    actor, _ = current_actor()
    with get_database().session() as db:
        case = _case_or_404(db, case_id)
        try:
            store = get_store()
        except Exception as exc:  # no readings store configured or reachable: the pack says so
            logger.warning("evidence pack for case %d without readings: %s", case_id, exc)
            store = None
        return collect_evidence(db, store, case, now=now_utc(), generated_by=f"{current_user.name} ({actor})")


def _audit_download(case_id: int, kind: str) -> None:
    from dashboard.auth import audit

    with get_database().session() as db:
        audit(db, "case.evidence_downloaded", "case", case_id, format=kind)


@bp.route("/<int:case_id>/evidence.pdf")
@roles_required(*OFFICE)
def evidence_pack(case_id: int):
    """The case's evidence pack as a PDF: steps against deadlines, readings, risk, findings, messages."""
    from flask import Response

    from dashboard.evidence import evidence_pdf

    evidence = _evidence(case_id)
    body = evidence_pdf(evidence)
    _audit_download(case_id, "pdf")
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="dampwatch-case-{case_id}-evidence.pdf"'})


@bp.route("/<int:case_id>/evidence.zip")
@roles_required(*OFFICE)
def evidence_zip(case_id: int):
    """The same evidence as CSV files in a ZIP, for the landlord's own records or the Ombudsman."""
    from flask import Response

    from dashboard.evidence import evidence_zip as make_zip

    evidence = _evidence(case_id)
    body = make_zip(evidence)
    _audit_download(case_id, "zip")
    return Response(body, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="dampwatch-case-{case_id}-evidence.zip"'})

