"""Alarms raised by the alert rules, for officers, repair teams and managers to see and act on.

The list filters by status, severity and rule; an alarm's page shows its history and lets staff
acknowledge it (which stops escalation), assign it, add notes, resolve it and open a case from it (the
case's clock starting when the alarm was raised). The lifecycle rules live in ``alerts.alarms``; these
views validate forms, call it and redirect.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextArea
from sqlalchemy import func, select
from wtforms import SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from alerts import alarms as lifecycle
from alerts.engine import RULES
from alerts.messages import rule_name
from core.cases import CaseError
from core.model import Property, Room, User
from core.model_alerts import ALARM_SEVERITIES, Alarm
from dashboard.access import current_viewer, get_or_404, scope
from dashboard.auth import current_actor, roles_required
from dashboard.extensions import get_database, get_settings
from dashboard.forms import required

logger = logging.getLogger(__name__)

bp = Blueprint("alarms", __name__, url_prefix="/alarms")

STAFF = ("officer", "repair", "manager")
OFFICE = ("officer", "manager")
NAV_ITEMS = [("Alarms", "alarms.alarm_list", STAFF)]
PAGE_SIZE = 100
EVENT_LABELS = {
    "raised": "Raised",
    "acknowledged": "Acknowledged",
    "assigned": "Assigned",
    "note": "Note",
    "escalated": "Escalated",
    "severity_raised": "Severity raised",
    "resolved": "Resolved",
    "cleared": "Condition cleared",
    "case_opened": "Case opened",
    "case_linked": "Linked to a case",
}
STATUS_FILTERS = {"active": "Open or acknowledged", "open": "Open (not acknowledged)",
                  "acknowledged": "Acknowledged", "resolved": "Resolved", "all": "All"}


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class NoteForm(FlaskForm):
    text = TextAreaField("Add a note", widget=GovTextArea(),
                         validators=[InputRequired(message="Enter the note"),
                                     Length(max=5000, message="Note must be 5,000 characters or fewer")])
    submit = SubmitField("Add note", widget=GovSubmitInput())


class AssignForm(FlaskForm):
    assignee = SelectField("Assign to", widget=GovSelect(), validators=[Optional()])
    submit = SubmitField("Assign", widget=GovSubmitInput())


class ResolveForm(FlaskForm):
    note = TextAreaField("What was done", widget=GovTextArea(),
                         validators=[InputRequired(message="Enter what was done"),
                                     Length(max=5000, message="What was done must be 5,000 characters or fewer")])
    submit = SubmitField("Resolve alarm", widget=GovSubmitInput())


class ButtonForm(FlaskForm):
    """A form that is only a button (acknowledge, open a case): CSRF-protected."""

    submit = SubmitField("Continue", widget=GovSubmitInput())


def _alarm_or_404(db, alarm_id: int) -> Alarm:
    """The alarm if the signed-in person may see its home (``dashboard.access``); 404 otherwise."""
    return get_or_404(db, Alarm, alarm_id, current_viewer())


def _staff_choices(db) -> list[tuple[str, str]]:
    people = db.scalars(select(User).where(User.active.is_(True), User.role.in_(STAFF)).order_by(User.name))
    return [("", "Nobody")] + [(str(u.id), f"{u.name} ({u.role})") for u in people]


def _context(db, alarm: Alarm, **forms: Any) -> dict[str, Any]:
    assign_form = forms.get("assign_form") or AssignForm(formdata=None)
    assign_form.assignee.choices = _staff_choices(db)
    if not assign_form.is_submitted():
        assign_form.assignee.data = str(alarm.assignee_user_id or "")
    return {
        "alarm": alarm,
        "home": db.get(Property, alarm.uprn) if alarm.uprn else None,
        "room": db.get(Room, alarm.room_id) if alarm.room_id else None,
        "assignee": db.get(User, alarm.assignee_user_id) if alarm.assignee_user_id else None,
        "events": sorted(alarm.events, key=lambda e: (e.at, e.id)),
        "event_label": lambda kind: EVENT_LABELS.get(kind, kind.replace("_", " ").capitalize()),
        "rule_name": rule_name,
        "note_form": forms.get("note_form") or NoteForm(formdata=None),
        "assign_form": assign_form,
        "resolve_form": forms.get("resolve_form") or ResolveForm(formdata=None),
        "button_form": ButtonForm(formdata=None),
        "error_form": forms.get("error_form"),
        "can_open_case": current_user.role in OFFICE,
        "messages": get_flashed_messages(with_categories=True),
    }


@bp.route("/")
@roles_required(*STAFF)
def alarm_list():
    """Alarms, most severe and oldest first, filtered by status, severity and rule."""
    status = request.args.get("status", "active")
    severity = request.args.get("severity", "")
    rule = request.args.get("rule", "")
    if status not in STATUS_FILTERS or (severity and severity not in ALARM_SEVERITIES) or (rule and rule not in RULES):
        abort(400)
    with get_database().session() as db:
        query = scope(select(Alarm), Alarm, current_viewer())
        if status == "active":
            query = query.where(Alarm.status != "resolved")
        elif status != "all":
            query = query.where(Alarm.status == status)
        if severity:
            query = query.where(Alarm.severity == severity)
        if rule:
            query = query.where(Alarm.rule == rule)
        total = db.scalar(select(func.count()).select_from(query.subquery()))
        alarms = db.scalars(query.order_by(Alarm.raised_at.desc(), Alarm.id.desc()).limit(PAGE_SIZE)).all()
        rank = {s: i for i, s in enumerate(reversed(ALARM_SEVERITIES))}
        alarms = sorted(alarms, key=lambda a: (a.status == "resolved", rank[a.severity], a.raised_at))
        homes = {p.uprn: p for p in db.scalars(select(Property).where(Property.uprn.in_({a.uprn for a in alarms})))}
        people = {u.id: u for u in db.scalars(select(User).where(User.id.in_({a.assignee_user_id for a in alarms})))}
        return render_template("alarms/list.html", alarms=alarms, homes=homes, people=people, total=total,
                               status=status, severity=severity, rule=rule, statuses=STATUS_FILTERS,
                               severities=ALARM_SEVERITIES, rules=RULES, rule_name=rule_name,
                               page_size=PAGE_SIZE, messages=get_flashed_messages(with_categories=True))


@bp.route("/<int:alarm_id>")
@roles_required(*STAFF)
def alarm_page(alarm_id: int):
    """One alarm: what it says, its history, and what can be done."""
    with get_database().session() as db:
        alarm = _alarm_or_404(db, alarm_id)
        return render_template("alarms/alarm.html", **_context(db, alarm))


def _act(alarm_id: int, action, success: str):
    """Run ``action(db, alarm, actor, user_id)``; flash ``success`` or the refusal, and go back to the alarm."""
    actor, user_id = current_actor()
    try:
        with get_database().session() as db:
            alarm = _alarm_or_404(db, alarm_id)
            result = action(db, alarm, actor, user_id)
    except (lifecycle.AlarmError, CaseError) as exc:
        flash(str(exc), "info")
        return redirect(url_for("alarms.alarm_page", alarm_id=alarm_id))
    flash(success.format(result=result), "success")
    return redirect(url_for("alarms.alarm_page", alarm_id=alarm_id))


@bp.route("/<int:alarm_id>/acknowledge", methods=["POST"])
@roles_required(*STAFF)
def acknowledge(alarm_id: int):
    if not ButtonForm().validate_on_submit():
        abort(400)
    return _act(alarm_id, lambda db, alarm, actor, user_id: lifecycle.acknowledge(db, alarm, actor, user_id=user_id,
                                                                          ip=request.remote_addr),
                "Alarm acknowledged. It will not be escalated.")


@bp.route("/<int:alarm_id>/assign", methods=["POST"])
@roles_required(*STAFF)
def assign(alarm_id: int):
    form = AssignForm()
    with get_database().session() as db:
        form.assignee.choices = _staff_choices(db)
    if not form.validate_on_submit():
        with get_database().session() as db:
            return render_template("alarms/alarm.html", **_context(db, _alarm_or_404(db, alarm_id),
                                                                     assign_form=form, error_form=form)), 400

    def action(db, alarm, actor, user_id):
        person = db.get(User, int(form.assignee.data)) if form.assignee.data else None
        lifecycle.assign(db, alarm, person, actor, user_id=user_id, ip=request.remote_addr)
        return person.name if person else "nobody"

    return _act(alarm_id, action, "Alarm assigned to {result}.")


@bp.route("/<int:alarm_id>/note", methods=["POST"])
@roles_required(*STAFF)
def add_note(alarm_id: int):
    form = NoteForm()
    if not form.validate_on_submit():
        with get_database().session() as db:
            return render_template("alarms/alarm.html", **_context(db, _alarm_or_404(db, alarm_id),
                                                                     note_form=form, error_form=form)), 400
    return _act(alarm_id, lambda db, alarm, actor, user_id: lifecycle.add_note(db, alarm, actor, required(form.text.data),
                                                                               user_id=user_id, ip=request.remote_addr),
                "Note added.")


@bp.route("/<int:alarm_id>/resolve", methods=["POST"])
@roles_required(*STAFF)
def resolve(alarm_id: int):
    form = ResolveForm()
    if not form.validate_on_submit():
        with get_database().session() as db:
            return render_template("alarms/alarm.html", **_context(db, _alarm_or_404(db, alarm_id),
                                                                     resolve_form=form, error_form=form)), 400
    return _act(alarm_id, lambda db, alarm, actor, user_id: lifecycle.resolve(
        db, alarm, actor, required(form.note.data).strip(), settings=get_settings(), user_id=user_id,
        ip=request.remote_addr), "Alarm resolved.")


@bp.route("/<int:alarm_id>/open-case", methods=["POST"])
@roles_required(*OFFICE)
def open_case(alarm_id: int):
    """Open a case at the alarm's home (or link the home's open case), then go to the case."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    actor, user_id = current_actor()
    try:
        with get_database().session() as db:
            alarm = _alarm_or_404(db, alarm_id)
            case, opened = lifecycle.open_case_for_alarm(db, alarm, actor, settings=get_settings(), user_id=user_id)
            case_id = case.id
    except (lifecycle.AlarmError, CaseError) as exc:
        flash(str(exc), "info")
        return redirect(url_for("alarms.alarm_page", alarm_id=alarm_id))
    if opened:
        flash(f"Case {case_id} opened. Its clocks started when the alarm was raised.", "success")
    else:
        flash(f"This home already has an open case (case {case_id}). The alarm is now linked to it.", "info")
    return redirect(url_for("cases.case_page", case_id=case_id))
