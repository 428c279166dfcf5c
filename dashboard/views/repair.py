"""Repair teams' jobs: the job list, the findings form and the iCalendar feed.

A repair team member sees their team's inspections (upcoming first), records what each visit found on a
GOV.UK form (which completes the inspection, starts the case's post-investigation clocks and becomes a
training label for the risk model), and can subscribe to the team's inspections in any calendar app
through a secret URL that they can rotate if it leaks.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from flask import Blueprint, Response, abort, flash, get_flashed_messages, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovRadioInput, GovSubmitInput, GovTextArea
from sqlalchemy import select
from wtforms import RadioField, SelectChoice, SelectMultipleField, SubmitField, TextAreaField  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice (new in WTForms 3.3)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from core.cases import CaseError, record_finding
from core.keyed_hash import settings_hash
from core.model import Inspection, Room, Team, User
from core.workdays import london_date
from dashboard.auth import audit, public, roles_required, signed_in_user_row
from dashboard.extensions import get_database, get_settings
from dashboard.views.cases import CAUSE_LABELS, SEVERITY_LABELS, long_date, now_utc, who

logger = logging.getLogger(__name__)

bp = Blueprint("repair", __name__, url_prefix="/jobs")

NAV_ITEMS = [
    ("Jobs", "repair.job_list", ("repair",)),
    ("Calendar", "repair.calendar", ("repair",)),
]

RECENT_DAYS = 30
"""Completed inspections shown on the job list (and in the calendar feed) for this many days."""
CALENDAR_PAST_DAYS = 60


@bp.context_processor
def _repair_template_context() -> dict[str, Any]:
    return {"now": now_utc(), "long_date": long_date}


class FindingForm(FlaskForm):
    mould_found = RadioField("Did you find mould or damp?", widget=GovRadioInput(),
                             choices=[SelectChoice("yes", "Yes"), SelectChoice("no", "No")],
                             validators=[InputRequired(message="Select yes if you found mould or damp")])
    severity = RadioField("How severe is it?", widget=GovRadioInput(),
                          choices=[SelectChoice("minor", "Minor: small patches, surface only"),
                                   SelectChoice("moderate", "Moderate: spreading, or on more than one surface"),
                                   SelectChoice("severe", "Severe: large areas, or damage to plaster or belongings")],
                          validate_choice=False)
    rooms = SelectMultipleField("Which rooms?", widget=GovCheckboxesInput(), coerce=int, validators=[Optional()])
    where_text = TextAreaField("Where else, or exactly where", widget=GovTextArea(),
                               validators=[Optional(), Length(max=2000, message="Where must be 2,000 characters "
                                                                                 "or fewer")])
    likely_cause = RadioField("What is the likely cause?", widget=GovRadioInput(),
                              choices=[SelectChoice(key, text) for key, text in CAUSE_LABELS.items()],
                              validate_choice=False)
    actions_taken = TextAreaField("What did you do today?", widget=GovTextArea(),
                                  validators=[Optional(), Length(max=5000, message="Actions must be 5,000 characters "
                                                                                    "or fewer")])
    follow_up_work = TextAreaField("What follow-up work is needed?", widget=GovTextArea(),
                                   validators=[Optional(), Length(max=5000, message="Follow-up work must be 5,000 "
                                                                                     "characters or fewer")])
    submit = SubmitField("Save findings", widget=GovSubmitInput())

    def validate_severity(self, field) -> None:
        if self.mould_found.data == "yes" and field.data not in {"minor", "moderate", "severe"}:
            raise ValidationError("Select how severe the mould or damp is")

    def validate_likely_cause(self, field) -> None:
        if self.mould_found.data == "yes" and field.data not in CAUSE_LABELS:
            raise ValidationError("Select the likely cause, or 'Not known yet'")

    def fields(self) -> dict[str, Any]:
        found = self.mould_found.data == "yes"
        return {
            "mould_found": found,
            "severity": self.severity.data if found else "none",
            "room_ids": list(self.rooms.data or []),
            "where_text": self.where_text.data or "",
            "likely_cause": (self.likely_cause.data or "unknown") if found else "unknown",
            "actions_taken": self.actions_taken.data or "",
            "follow_up_work": self.follow_up_work.data or "",
        }


def _my_team_id() -> int | None:
    return current_user.team_id


def _inspection_of_my_team(db, inspection_id: int) -> Inspection:
    """The inspection if it belongs to the signed-in member's team; 404 otherwise (do not say it exists)."""
    inspection = db.get(Inspection, inspection_id)
    if inspection is None or _my_team_id() is None or inspection.team_id != _my_team_id():
        abort(404)
    return inspection


@bp.route("/")
@roles_required("repair")
def job_list():
    """The team's inspections: those not yet recorded (upcoming first), then recently completed ones."""
    today = london_date(now_utc())
    team_id = _my_team_id()
    with get_database().session() as db:
        if team_id is None:
            return render_template("repair/jobs.html", team=None, upcoming=[], overdue=[], done=[],
                                   messages=get_flashed_messages(with_categories=True))
        rows = db.scalars(select(Inspection).where(Inspection.team_id == team_id)
                          .order_by(Inspection.scheduled_for, Inspection.id)).all()
        upcoming = [i for i in rows if i.status == "scheduled" and i.scheduled_for >= today]
        overdue = [i for i in rows if i.status == "scheduled" and i.scheduled_for < today]
        since = today - dt.timedelta(days=RECENT_DAYS)
        done = sorted((i for i in rows if i.status in ("completed", "no_access") and i.scheduled_for >= since),
                      key=lambda i: i.scheduled_for, reverse=True)
        for inspection in rows:  # load what the template reads while the session is open
            _ = inspection.case.property, inspection.team
        return render_template("repair/jobs.html", team=db.get(Team, team_id), upcoming=upcoming, overdue=overdue,
                               done=done,
                               messages=get_flashed_messages(with_categories=True))


@bp.route("/<int:inspection_id>/findings", methods=["GET", "POST"])
@roles_required("repair")
def findings(inspection_id: int):
    """The findings form of one inspection (GOV.UK radios, checkboxes and text areas)."""
    with get_database().session() as db:
        inspection = _inspection_of_my_team(db, inspection_id)
        rooms = db.scalars(select(Room).where(Room.uprn == inspection.uprn, Room.room_type != "outdoor")
                           .order_by(Room.name)).all()
        form = FindingForm()
        form.rooms.choices = [SelectChoice(room.id, room.name) for room in rooms]
        home = inspection.case.property
        if inspection.finding is not None or inspection.status != "scheduled":
            return render_template("repair/finding_done.html", inspection=inspection, home=home,
                                   finding=inspection.finding, rooms={r.id: r.name for r in rooms},
                                   severity_labels=SEVERITY_LABELS, cause_labels=CAUSE_LABELS)
        if form.validate_on_submit():
            audit_kwargs, actor = who()
            try:
                record_finding(db, inspection, form.fields(), actor, **audit_kwargs)
            except CaseError as exc:
                form.mould_found.errors = [*form.mould_found.errors, str(exc)]
            else:
                flash(f"Findings saved for {home.address}.", "success")
                return redirect(url_for("repair.job_list"))
            db.rollback()
            inspection = _inspection_of_my_team(db, inspection_id)
            home = inspection.case.property
        status = 400 if form.errors else 200
        return render_template("repair/findings.html", form=form, inspection=inspection, home=home,
                               case=inspection.case), status


# -- the calendar feed -------------------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def calendar_token_hash(token: str) -> str:
    """What is stored of a calendar secret: its keyed hash (the URL itself is shown once, when made)."""
    return settings_hash(get_settings(), "calendar-token", token)


@bp.route("/calendar")
@roles_required("repair")
def calendar():
    """Whether the member has a secret calendar URL (to subscribe to in a calendar app), and making a new one."""
    with get_database().session() as db:
        has_link = signed_in_user_row(db).calendar_token is not None
    return render_template("repair/calendar.html", feed=None, has_link=has_link,
                           messages=get_flashed_messages(with_categories=True))


@bp.route("/calendar", methods=["POST"])
@roles_required("repair")
def rotate_calendar():
    """Make a new secret calendar URL and show it, this once; the old one stops working at once."""
    token = _new_token()
    with get_database().session() as db:
        user = signed_in_user_row(db)
        had = user.calendar_token is not None
        user.calendar_token = calendar_token_hash(token)
        audit(db, "user.calendar_token_rotated" if had else "user.calendar_token_created", "user", user.id)
    feed = url_for("repair.calendar_feed", token=token, _external=True)
    message = ("Your new calendar link is ready. The old link no longer works." if had else
               "Your calendar link is ready.")
    return render_template("repair/calendar.html", feed=feed, has_link=True, messages=[("success", message)])


@bp.route("/calendar/<token>.ics")
@public("a calendar app subscribes to this secret URL without signing in; an unknown token gets 404")
def calendar_feed(token: str):
    """An iCalendar of the member's team's inspections: one all-day VEVENT each, with a stable UID."""
    from icalendar import Calendar, Event

    if len(token) < 20 or len(token) > 64:
        abort(404)
    now = now_utc()
    with get_database().session() as db:
        user = db.scalars(select(User).where(User.calendar_token == calendar_token_hash(token))).first()
        if user is None or not user.active or user.role != "repair" or user.team_id is None:
            abort(404)
        since = london_date(now) - dt.timedelta(days=CALENDAR_PAST_DAYS)
        rows = db.scalars(select(Inspection).where(Inspection.team_id == user.team_id,
                                                   Inspection.scheduled_for >= since)
                          .order_by(Inspection.scheduled_for, Inspection.id)).all()
        assert user.team is not None  # its team_id is set (checked above)
        team_name = user.team.name
        calendar = Calendar()
        calendar.add("prodid", "-//DampWatch//Inspections//EN")
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        calendar.add("x-wr-calname", f"DampWatch: {team_name}")
        calendar.add("x-wr-timezone", "Europe/London")
        for inspection in rows:
            home = inspection.case.property
            event = Event()
            event.add("uid", f"dampwatch-inspection-{inspection.id}@dampwatch")
            event.add("dtstamp", now)
            event.add("dtstart", inspection.scheduled_for)
            event.add("dtend", inspection.scheduled_for + dt.timedelta(days=1))
            summary = f"Damp and mould inspection: {home.address}"
            if inspection.case.emergency:
                summary = "EMERGENCY " + summary
            event.add("summary", summary)
            event.add("location", f"{home.address}, {home.postcode}")
            case_url = url_for("cases.case_page", case_id=inspection.case_id, _external=True)
            findings_url = url_for("repair.findings", inspection_id=inspection.id, _external=True)
            event.add("description", f"Case {inspection.case_id} (UPRN {home.uprn}).\nCase: {case_url}\n"
                                     f"Record findings: {findings_url}")
            event.add("url", findings_url)
            event.add("status", "CANCELLED" if inspection.status == "cancelled" else "CONFIRMED")
            event.add("transp", "TRANSPARENT")
            event.add("last-modified", inspection.completed_at or inspection.created_at)
            calendar.add_component(event)
    body = calendar.to_ical()
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'inline; filename="dampwatch-{team_name.lower().replace(" ", "-")}.ics"'})

