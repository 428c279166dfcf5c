"""Awaab's Law for every hazard: the case actions beyond the four steps, the manager's return and the
Ombudsman bundle.

Officers change a case's emergency status (with a reason), add or remove HHSRS hazards, log the reasonable
endeavours used when a step is held up, escalate (senior review, legal action, compensation, alternative
accommodation), defer preventative work to the 12-week backstop, reopen a closed case, send the written
summary (English or Welsh, by the tenant's language), move or cancel an inspection and correct a finding
(its history kept). Managers get the period's return as a page and CSV. Every action validates its form,
calls ``core.cases`` (or ``core.scheduling``, ``alerts.written_summary``) and redirects to the case page;
a refusal comes back as an error message on that page. Each route reaches cases only through
``dashboard.access`` (404 outside the visitor's scope).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, RadioField, SelectChoice, SelectField, StringField, TextAreaField  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice (new in WTForms 3.3)
from wtforms.validators import InputRequired, Length, Optional

from alerts.written_summary import SummaryError, compose, send_written_summary, summary_pdf
from core.cases import (
    ESCALATION_TYPES,
    REASONABLE_ENDEAVOUR_CATEGORIES,
    RECORDABLE_STEPS,
    CaseError,
    active_hazards,
    add_hazard,
    alternative_accommodation_due,
    case_profile,
    defer_preventative,
    edit_finding,
    record_escalation,
    record_reasonable_endeavour,
    remove_hazard,
    reopen_case,
    set_emergency,
    statutory_scope,
)
from core.hazards import HAZARD_SEVERITIES, HAZARDS, hazard
from core.model import Case, Inspection, Tenant
from core.returns import period_label, period_return, return_csv
from core.scheduling import SchedulingError, cancel_inspection, move_inspection
from core.workdays import london_date
from dashboard.access import current_viewer, get_or_404
from dashboard.auth import current_actor, roles_required
from dashboard.extensions import get_database
from dashboard.forms import required

logger = logging.getLogger(__name__)

bp = Blueprint("awaab", __name__)

NAV_ITEMS = [("Returns", "awaab.returns", ("manager", "admin"))]
OFFICE = ("officer", "manager")
MAX_TEXT = 5000
RETURN_MAX_DAYS = 3 * 366


# -- forms ---------------------------------------------------------------------------------------------------


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _reason(label: str, message: str) -> TextAreaField:
    return TextAreaField(label, validators=[InputRequired(message=message),
                                            Length(max=MAX_TEXT, message="Enter 5,000 characters or fewer")])


class EmergencyForm(FlaskForm):
    emergency = RadioField("Is this an emergency hazard?", choices=_choices([("yes", "Yes"), ("no", "No")]),
                           validators=[InputRequired(message="Select yes if this is an emergency hazard")])
    reason = _reason("Why is this changing?", "Enter why the emergency status is changing")


class HazardForm(FlaskForm):
    hazard = SelectField("Hazard", choices=_choices((h.code, h.name) for h in HAZARDS),
                         validators=[InputRequired(message="Select the hazard")])
    severity = RadioField("Severity", choices=_choices((s, s.capitalize()) for s in HAZARD_SEVERITIES),
                          validators=[InputRequired(message="Select how severe the hazard is")])
    emergency = RadioField("Emergency hazard?", choices=_choices([("no", "No"), ("yes", "Yes")]), default="no",
                           validators=[Optional()])
    notes = TextAreaField("Notes (optional)", validators=[Optional(), Length(max=2000)])


class ReasonForm(FlaskForm):
    reason = _reason("Reason", "Enter the reason")


class RemoveHazardForm(ReasonForm):
    hazard = SelectField("Hazard", choices=_choices((h.code, h.name) for h in HAZARDS),
                         validators=[InputRequired(message="Select the hazard to remove")])


class EndeavourForm(FlaskForm):
    category = SelectField("What happened", choices=_choices(REASONABLE_ENDEAVOUR_CATEGORIES.items()),
                           validators=[InputRequired(message="Select what happened")])
    step = SelectField("Step held up", choices=_choices([("", "Not one step"), *[(k, s.label) for k, s in RECORDABLE_STEPS.items()]]),
                       validators=[Optional()])
    text = _reason("What was done", "Describe what was done and what happened")
    evidence = TextAreaField("Evidence (one item a line: a photo, an email, a letter reference)",
                             validators=[Optional(), Length(max=MAX_TEXT)])


class EscalationForm(FlaskForm):
    escalation_type = SelectField("Escalation", choices=_choices(ESCALATION_TYPES.items()),
                                  validators=[InputRequired(message="Select the kind of escalation")])
    reason = _reason("Why", "Enter why the case is being escalated")
    escalated_to = StringField("Escalated to (optional)", validators=[Optional(), Length(max=100)])
    details = TextAreaField("Details (for alternative accommodation: where)", validators=[Optional(),
                                                                                        Length(max=MAX_TEXT)])
    tenant_accepted = RadioField("Did the household accept?", choices=_choices([("", "Not known yet"), ("yes", "Yes"),
                                                                                 ("no", "No")]), default="",
                                 validators=[Optional()])


class MoveForm(FlaskForm):
    date = DateField("New date", validators=[InputRequired(message="Enter the new date")])
    reason = _reason("Why is it moving?", "Enter why the inspection is moving")


class FindingEditForm(FlaskForm):
    mould_found = RadioField("Mould or damp found", choices=_choices([("yes", "Yes"), ("no", "No")]),
                             validators=[InputRequired(message="Select yes if mould or damp was found")])
    severity = SelectField("Severity", choices=_choices((s, s.capitalize()) for s in ("none", "minor", "moderate", "severe")),
                           validators=[InputRequired(message="Select how severe the mould or damp is")])
    actions_taken = TextAreaField("Actions taken", validators=[Optional(), Length(max=MAX_TEXT)])
    follow_up_work = TextAreaField("Follow-up work", validators=[Optional(), Length(max=MAX_TEXT)])
    reason = _reason("Why is the finding being corrected?", "Enter why the finding is being corrected")


# -- helpers ---------------------------------------------------------------------------------------------------


def _who() -> tuple[dict[str, Any], str]:
    actor, user_id = current_actor()
    return {"user_id": user_id, "ip": request.remote_addr}, actor


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _back(case_id: int, anchor: str = "awaab") -> Any:
    return redirect(url_for("cases.case_page", case_id=case_id, _anchor=anchor), code=303)


def _form_errors(form: FlaskForm) -> str:
    messages = [m for errors in form.errors.values() for m in errors]
    return messages[0] if messages else "Check the form and try again"


def _act(case_id: int, form: FlaskForm, action, done: str, anchor: str = "awaab") -> Any:
    """Validate ``form``; run ``action(db, case, actor, audit_kwargs)`` on the visitor's case; flash; redirect."""
    audit_kwargs, actor = _who()
    with get_database().session() as db:
        case = get_or_404(db, Case, case_id, current_viewer())
        if not form.validate_on_submit():
            flash(_form_errors(form), "error")
            return _back(case_id, anchor)
        try:
            action(db, case, actor, audit_kwargs)
        except (CaseError, SchedulingError, SummaryError) as exc:
            db.rollback()
            flash(str(exc), "error")
            return _back(case_id, anchor)
    flash(done, "success")
    return _back(case_id, anchor)


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


@bp.app_context_processor
def _awaab_panel_helper() -> dict[str, Any]:
    return {"awaab_panel": awaab_panel}


def awaab_panel(case: Case) -> dict[str, Any]:
    """What the case page's Awaab's Law panel shows (read inside the page's own session)."""
    now = _now()
    in_scope, why = statutory_scope(case)
    rules = case_profile(case)
    events = sorted(case.events, key=lambda e: (e.at, e.id))
    return {
        "hazards": [(h, hazard(h.hazard)) for h in active_hazards(case)],
        "removed": [(h, hazard(h.hazard)) for h in case.hazards if h.removed_at is not None],
        "in_scope": in_scope, "scope_reason": why, "profile": rules,
        "endeavours": [e for e in events if e.kind == "reasonable_endeavours"],
        "escalations": [e for e in events if e.kind == "escalation"],
        "finding_edits": [e for e in events if e.kind == "finding_edited"],
        "alternative_due": alternative_accommodation_due(case, now),
        "deferred": any(e.kind == "preventative_deferred" for e in events),
        "work_orders": list(case.work_orders),
        "hazard_choices": HAZARDS, "severities": HAZARD_SEVERITIES,
        "endeavour_choices": REASONABLE_ENDEAVOUR_CATEGORIES, "escalation_choices": ESCALATION_TYPES,
        "steps": RECORDABLE_STEPS, "category_label": REASONABLE_ENDEAVOUR_CATEGORIES,
        "escalation_label": ESCALATION_TYPES,
        "can_edit": getattr(current_user, "role", None) in OFFICE,
        "scheduled": [i for i in case.inspections if i.status == "scheduled"],
        "findings": [(i, i.finding) for i in case.inspections if i.finding is not None],
    }


# -- case actions ----------------------------------------------------------------------------------------------


@bp.route("/cases/<int:case_id>/emergency", methods=["POST"])
@roles_required(*OFFICE)
def change_emergency(case_id: int):
    """Put the case on the emergency track or take it off, with the reason."""
    form = EmergencyForm()
    return _act(case_id, form, lambda db, case, actor, kw: set_emergency(
        db, case, form.emergency.data == "yes", actor=actor, reason=required(form.reason.data), **kw),
        "Emergency status changed; the deadlines follow it.")


@bp.route("/cases/<int:case_id>/hazards", methods=["POST"])
@roles_required(*OFFICE)
def add_case_hazard(case_id: int):
    """Add an HHSRS hazard to the case."""
    form = HazardForm()
    return _act(case_id, form, lambda db, case, actor, kw: add_hazard(
        db, case, form.hazard.data, form.severity.data, actor=actor, emergency=form.emergency.data == "yes",
        notes=form.notes.data or "", **kw), "Hazard added.")


@bp.route("/cases/<int:case_id>/hazards/remove", methods=["POST"])
@roles_required(*OFFICE)
def remove_case_hazard(case_id: int):
    """Mark a hazard (form field ``hazard``) as not on the case (kept on the record)."""
    form = RemoveHazardForm()
    return _act(case_id, form, lambda db, case, actor, kw: remove_hazard(
        db, case, form.hazard.data, actor=actor, reason=required(form.reason.data), **kw), "Hazard removed.")


@bp.route("/cases/<int:case_id>/endeavours", methods=["POST"])
@roles_required(*OFFICE)
def log_endeavour(case_id: int):
    """Log the reasonable endeavours used when a step was held up."""
    form = EndeavourForm()
    return _act(case_id, form, lambda db, case, actor, kw: record_reasonable_endeavour(
        db, case, category=form.category.data, text=required(form.text.data), actor=actor, step=form.step.data or None,
        evidence=(form.evidence.data or "").splitlines(), **kw), "Logged on the case.")


@bp.route("/cases/<int:case_id>/escalations", methods=["POST"])
@roles_required(*OFFICE)
def escalate(case_id: int):
    """Record an escalation (senior review, legal action, compensation, alternative accommodation)."""
    form = EscalationForm()
    return _act(case_id, form, lambda db, case, actor, kw: record_escalation(
        db, case, form.escalation_type.data, actor=actor, reason=required(form.reason.data),
        escalated_to=form.escalated_to.data or "", details=form.details.data or "",
        tenant_accepted=_yes_no(form.tenant_accepted.data), **kw), "Escalation recorded.")


@bp.route("/cases/<int:case_id>/preventative-deferral", methods=["POST"])
@roles_required(*OFFICE)
def defer(case_id: int):
    """Record that preventative work cannot reasonably begin within 5 working days (the 12-week backstop)."""
    form = ReasonForm()
    return _act(case_id, form, lambda db, case, actor, kw: defer_preventative(
        db, case, actor=actor, reason=required(form.reason.data), **kw),
        "Recorded: preventative work is now due by the 12-week backstop.", anchor="steps")


@bp.route("/cases/<int:case_id>/reopen", methods=["POST"])
@roles_required(*OFFICE)
def reopen(case_id: int):
    """Reopen a closed case, with the reason."""
    form = ReasonForm()
    return _act(case_id, form, lambda db, case, actor, kw: reopen_case(
        db, case, actor=actor, reason=required(form.reason.data), **kw), "Case reopened.")


@bp.route("/cases/<int:case_id>/written-summary", methods=["POST"])
@roles_required(*OFFICE)
def send_summary(case_id: int):
    """Send the written summary to the home's tenants (each in their language) and record the step."""
    from core.settings import load_settings

    form = FlaskForm()
    link = load_settings().web_public_url.rstrip("/") + "/tenant/sign-in"
    return _act(case_id, form, lambda db, case, actor, kw: send_written_summary(
        db, case, actor=actor, link=link, now=_now(), **kw),
        "Written summary queued for the tenants and recorded.", anchor="steps")


@bp.route("/cases/<int:case_id>/written-summary.pdf")
@roles_required(*OFFICE)
def summary_letter(case_id: int):
    """The written summary as a PDF letter (``?language=cy`` for Welsh), to print or send."""
    from core.settings import load_settings

    language = request.args.get("language", "en")
    if language not in ("en", "cy"):
        abort(404)
    link = load_settings().web_public_url.rstrip("/") + "/tenant/sign-in"
    with get_database().session() as db:
        case = get_or_404(db, Case, case_id, current_viewer())
        tenant = db.scalars(select(Tenant).where(Tenant.uprn == case.uprn).order_by(Tenant.id)).first()
        try:
            summary = compose(case, name=tenant.name if tenant else "Tenant", link=link, language=language, now=_now())
        except SummaryError as exc:
            flash(str(exc), "error")
            return _back(case_id, "steps")
        body = summary_pdf(summary)
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="dampwatch-case-{case_id}-summary-{language}.pdf"'})


@bp.route("/cases/<int:case_id>/inspections/<int:inspection_id>/cancel", methods=["POST"])
@roles_required(*OFFICE)
def cancel_visit(case_id: int, inspection_id: int):
    """Cancel a booked inspection, with the reason."""
    form = ReasonForm()

    def action(db, case, actor, kw):
        inspection = _inspection_of(db, case, inspection_id)
        cancel_inspection(db, inspection, actor, required(form.reason.data).strip(), **kw)

    return _act(case_id, form, action, "Inspection cancelled.", anchor="inspections")


@bp.route("/cases/<int:case_id>/inspections/<int:inspection_id>/move", methods=["POST"])
@roles_required(*OFFICE)
def move_visit(case_id: int, inspection_id: int):
    """Move a booked inspection to another working day with room in the team's diary."""
    form = MoveForm()

    def action(db, case, actor, kw):
        inspection = _inspection_of(db, case, inspection_id)
        move_inspection(db, inspection, required(form.date.data), actor, required(form.reason.data), now=_now(), **kw)

    return _act(case_id, form, action, "Inspection moved.", anchor="inspections")


def _inspection_of(db, case: Case, inspection_id: int) -> Inspection:
    inspection = get_or_404(db, Inspection, inspection_id, current_viewer())
    if inspection.case_id != case.id:
        abort(404)
    return inspection


@bp.route("/cases/<int:case_id>/inspections/<int:inspection_id>/finding", methods=["POST"])
@roles_required(*OFFICE)
def correct_finding(case_id: int, inspection_id: int):
    """Correct the finding of an inspection; the values before and after stay on the timeline."""
    form = FindingEditForm()

    def action(db, case, actor, kw):
        inspection = _inspection_of(db, case, inspection_id)
        if inspection.finding is None:
            raise CaseError("This inspection has no finding to correct yet")
        changes = {"mould_found": form.mould_found.data == "yes", "severity": form.severity.data,
                   "actions_taken": form.actions_taken.data or "", "follow_up_work": form.follow_up_work.data or ""}
        edit_finding(db, inspection.finding, changes, actor, reason=required(form.reason.data), **kw)

    return _act(case_id, form, action, "Finding corrected; the earlier values are kept on the timeline.",
                anchor="findings")


# -- the Ombudsman bundle ------------------------------------------------------------------------------------


@bp.route("/cases/<int:case_id>/ombudsman.zip")
@roles_required(*OFFICE)
def ombudsman(case_id: int):
    """Everything about a case for the Housing Ombudsman: the evidence pack (PDF and CSV), what was known when
    (alarms and risk), which criteria and rules applied, what was done, and every message in full."""
    from dashboard.evidence import evidence_pdf, evidence_zip
    from dashboard.ombudsman import bundle_files
    from dashboard.views.cases import _audit_download, _evidence

    evidence = _evidence(case_id)
    with get_database().session() as db:
        case = get_or_404(db, Case, case_id, current_viewer())
        extra = bundle_files(db, case, now=_now())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"case-{case_id}/evidence-pack.pdf", evidence_pdf(evidence))
        archive.writestr(f"case-{case_id}/evidence-data.zip", evidence_zip(evidence))
        for name, text in extra.items():
            archive.writestr(f"case-{case_id}/{name}", text)
    _audit_download(case_id, "ombudsman")
    return Response(buffer.getvalue(), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="dampwatch-case-{case_id}-ombudsman.zip"'})


# -- the manager's return ------------------------------------------------------------------------------------


def _period() -> tuple[dt.date, dt.date, str | None]:
    today = london_date(_now())
    default_start = today.replace(month=((today.month - 1) // 3) * 3 + 1, day=1)  # this quarter
    try:
        start = dt.date.fromisoformat(request.args.get("from") or default_start.isoformat())
        end = dt.date.fromisoformat(request.args.get("to") or today.isoformat())
    except ValueError:
        return default_start, today, "Enter dates as YYYY-MM-DD"
    if end < start:
        return default_start, today, "The end of the period must be on or after its start"
    if (end - start).days > RETURN_MAX_DAYS:
        return default_start, today, "Choose a period of 3 years or less"
    if start.year < 2000 or end > today + dt.timedelta(days=366):
        return default_start, today, "Choose dates from 2000 to next year"
    return start, end, None


@bp.route("/returns")
@roles_required("manager", "admin")
def returns():
    """The period's regulator-ready return: cases by hazard, times, deadlines met and missed, sensors."""
    start, end, error = _period()
    with get_database().session() as db:
        result = period_return(db, start, end)
        return render_template("cases/returns.html", result=result, label=period_label(result), error=error,
                               hazard_name=lambda code: hazard(code).name), (400 if error else 200)


@bp.route("/returns.csv")
@roles_required("manager", "admin")
def returns_csv():
    """The same return as CSV."""
    start, end, error = _period()
    if error:
        abort(400)
    with get_database().session() as db:
        text = return_csv(period_return(db, start, end))
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="dampwatch-return-{start}-{end}.csv"'})

