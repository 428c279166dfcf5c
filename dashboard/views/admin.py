"""Admin: staff accounts, repair teams and the audit log.

Only admins add and change accounts and teams; managers may read the audit log too, since they answer to
the Ombudsman for what was done. Every change is recorded in the audit log (``dashboard.people`` does it in
the same transaction as the change). A new or reset password is made at random and shown once, on the page
that answers the form, so no one chooses a weak one and it is never kept in a cookie.
"""

from __future__ import annotations

import math

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextInput
from sqlalchemy import func, select
from wtforms import RadioField, SelectChoice, SelectField, StringField, SubmitField, ValidationError  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice (new in WTForms 3.3)
from wtforms.validators import Email, InputRequired, Length, Optional

from core.model import ApiToken, AuditEvent, Team, User
from dashboard.api_tokens import live_tokens, revoke_token
from dashboard.auth import roles_required
from dashboard.extensions import get_database
from dashboard.forms import required
from dashboard.people import (
    MAX_DAILY_CAPACITY,
    ROLE_NAMES,
    PeopleError,
    change_user,
    create_user,
    new_password,
    reset_password,
    save_team,
    set_active,
    sign_out_everywhere,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")

NAV_ITEMS = [
    ("Users", "admin.users", ("admin",)),
    ("Teams", "admin.teams", ("admin",)),
    ("All API tokens", "admin.api_tokens", ("admin",)),
    ("Audit log", "admin.audit_log", ("admin", "manager")),
]

AUDIT_PAGE_SIZE = 50
NO_TEAM = ""


def _actor() -> dict:
    return {"actor": current_user.email, "actor_id": current_user.id, "ip": request.remote_addr}


def _team_choices(db) -> list[tuple[str, str]]:
    return [SelectChoice(NO_TEAM, "No team")] + [SelectChoice(str(team.id), team.name)
                                                 for team in db.scalars(select(Team).order_by(Team.name))]


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class UserForm(FlaskForm):
    name = StringField("Full name", widget=GovTextInput(), filters=[_strip],
                       validators=[InputRequired(message="Enter the person's name"), Length(max=200)])
    email = StringField("Email address", widget=GovTextInput(), filters=[_strip], validators=[
        InputRequired(message="Enter an email address"),
        Email(message="Enter an email address in the correct format, like name@example.com",
              check_deliverability=False),
        Length(max=254)])
    role = RadioField("Role", widget=GovRadioInput(),
                      choices=[SelectChoice(role, name) for role, name in ROLE_NAMES.items()],
                      description="The role decides what the person can see and do",
                      validators=[InputRequired(message="Select a role")])
    team = SelectField("Team", widget=GovSelect(), choices=[], validate_choice=True,
                       description="Repair team members must belong to a team")
    submit = SubmitField("Add user", widget=GovSubmitInput())

    def validate_team(self, field) -> None:
        if self.role.data == "repair" and field.data == NO_TEAM:
                raise ValidationError("Select the team of a repair team member")

    def team_id(self) -> int | None:
        return int(self.team.data) if self.team.data and self.role.data == "repair" else None


class ChangeUserForm(UserForm):
    # An email address names the account; to change it, add a new user.
    email = None  # type: ignore[assignment]  # how WTForms drops an inherited field
    submit = SubmitField("Save changes", widget=GovSubmitInput())


class ButtonForm(FlaskForm):
    """A form that is only a button (deactivate, reset password): its CSRF token is what matters."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


class TeamForm(FlaskForm):
    name = StringField("Team name", widget=GovTextInput(),
                       validators=[InputRequired(message="Enter a team name"), Length(max=120)])
    daily_capacity = StringField(
        "Inspections a day", widget=GovTextInput(),
        description="How many homes the team can inspect in a working day",
        validators=[InputRequired(message="Enter how many inspections the team can do a day")])
    districts = StringField("Postcode districts (optional)", widget=GovTextInput(),
                            description="For example, LS6 LS7. Leave empty if the team covers everywhere",
                            validators=[Optional(), Length(max=300)])
    submit = SubmitField("Save team", widget=GovSubmitInput())

    def validate_daily_capacity(self, field) -> None:
        text = (field.data or "").strip()
        if not text.isdigit():
            raise ValidationError("Inspections a day must be a whole number, like 4")
        if int(text) > MAX_DAILY_CAPACITY:
            raise ValidationError(f"Inspections a day must be {MAX_DAILY_CAPACITY} or fewer")

    def capacity(self) -> int:
        return int(required(self.daily_capacity.data).strip())


def _show_error(form: FlaskForm, error: PeopleError, default: str) -> None:
    """Put a domain error beside its field (or ``default`` when the form has no such field)."""
    field = getattr(form, error.field, None) if error.field else None
    (field if field is not None else getattr(form, default)).errors.append(str(error))


# --- users ---------------------------------------------------------------------------------------------


@bp.route("/users")
@roles_required("admin")
def users():
    with get_database().session() as db:
        people = db.scalars(select(User).order_by(User.active.desc(), User.name)).all()
        teams = {team.id: team.name for team in db.scalars(select(Team))}
    return render_template("admin/users.html", users=people, teams=teams, role_names=ROLE_NAMES)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def new_user():
    with get_database().session() as db:
        form = UserForm()
        form.team.choices = _team_choices(db)
        if form.validate_on_submit():
            password = new_password()
            try:
                user = create_user(db, email=required(form.email.data), name=required(form.name.data), role=form.role.data,
                                   team_id=form.team_id(), password=password, **_actor())
            except PeopleError as exc:
                _show_error(form, exc, "email")
            else:
                return render_template("admin/password.html", user=user, password=password, new=True)
    return render_template("admin/user_form.html", form=form, user=None)


def _user_or_404(db, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user(user_id: int):
    with get_database().session() as db:
        person = _user_or_404(db, user_id)
        form = ChangeUserForm(obj=None if request.method == "POST" else person)
        form.team.choices = _team_choices(db)
        if request.method == "GET":
            form.team.data = str(person.team_id) if person.team_id else NO_TEAM
        if form.validate_on_submit():
            try:
                change_user(db, person, name=required(form.name.data), role=form.role.data, team_id=form.team_id(),
                            **_actor())
            except PeopleError as exc:
                _show_error(form, exc, "role")
            else:
                return redirect(url_for("admin.users"))
        return render_template("admin/user_form.html", form=form, user=person, button=ButtonForm(),
                               team_name=person.team.name if person.team else None)


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@roles_required("admin")
def deactivate_user(user_id: int):
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@roles_required("admin")
def reactivate_user(user_id: int):
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool):
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    with get_database().session() as db:
        person = _user_or_404(db, user_id)
        try:
            set_active(db, person, active, **_actor())
        except PeopleError as exc:
            return render_template("admin/refused.html", user=person, message=str(exc)), 400
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@roles_required("admin")
def reset_user_password(user_id: int):
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    with get_database().session() as db:
        person = _user_or_404(db, user_id)
        password = reset_password(db, person, **_actor())
        return render_template("admin/password.html", user=person, password=password, new=False)


@bp.route("/users/<int:user_id>/sign-out-everywhere", methods=["POST"])
@roles_required("admin")
def sign_out_user_everywhere(user_id: int):
    """End every session the person has, on every device (a lost phone, a shared computer)."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    with get_database().session() as db:
        person = _user_or_404(db, user_id)
        sign_out_everywhere(db, person, **_actor())
    flash("They have been signed out everywhere.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


# --- everyone's API tokens -----------------------------------------------------------------------------


@bp.route("/api-tokens")
@roles_required("admin")
def api_tokens():
    """Every live API token, whoever owns it, with when it was last used."""
    with get_database().session() as db:
        rows = live_tokens(db)
    return render_template("admin/api_tokens.html", rows=rows, button=ButtonForm(),
                           messages=get_flashed_messages(with_categories=True))


@bp.route("/api-tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required("admin")
def revoke_api_token(token_id: int):
    """Revoke anyone's token (a system retired, a leaver, a token seen where it should not be)."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    with get_database().session() as db:
        token = db.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)))
        if token is None:
            abort(404)
        revoke_token(db, token, actor=current_user.email, actor_user_id=current_user.id, ip=request.remote_addr)
        name = token.name
    flash(f"Token ‘{name}’ revoked.", "success")
    return redirect(url_for("admin.api_tokens"))


# --- teams ---------------------------------------------------------------------------------------------


@bp.route("/teams")
@roles_required("admin")
def teams():
    with get_database().session() as db:
        rows = db.scalars(select(Team).order_by(Team.name)).all()
        members = dict(db.execute(select(User.team_id, func.count()).where(User.active.is_(True))
                                  .group_by(User.team_id)).all())
    return render_template("admin/teams.html", teams=rows, members=members)


@bp.route("/teams/new", methods=["GET", "POST"])
@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@roles_required("admin")
def team(team_id: int | None = None):
    with get_database().session() as db:
        existing = None
        if team_id is not None:
            existing = db.get(Team, team_id)
            if existing is None:
                abort(404)
        form = TeamForm(obj=existing if request.method == "GET" else None)
        if form.validate_on_submit():
            try:
                save_team(db, existing, name=required(form.name.data), daily_capacity=form.capacity(),
                          districts=form.districts.data, **_actor())
            except PeopleError as exc:
                _show_error(form, exc, "name")
            else:
                return redirect(url_for("admin.teams"))
        return render_template("admin/team_form.html", form=form, team=existing)


# --- the audit log -------------------------------------------------------------------------------------


@bp.route("/audit-log")
@roles_required("admin", "manager")
def audit_log():
    action = request.args.get("action", "").strip()
    actor = request.args.get("actor", "").strip().lower()
    asked = request.args.get("page", "1")
    page = min(int(asked), 100_000) if asked.isdigit() and 0 < len(asked) < 10 and int(asked) > 0 else 1
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(func.lower(AuditEvent.actor).contains(actor, autoescape=True))
    with get_database().session() as db:
        total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
        events = db.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                            .limit(AUDIT_PAGE_SIZE).offset((page - 1) * AUDIT_PAGE_SIZE)).all()
        actions = db.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    pages = max(1, math.ceil(total / AUDIT_PAGE_SIZE))
    return render_template("admin/audit_log.html", events=events, actions=actions, action=action, actor=actor,
                           page=page, pages=pages, total=total, pagination=_pagination(page, pages, action, actor))


def _pagination(page: int, pages: int, action: str, actor: str) -> dict:
    """The parameters of GOV.UK's pagination component for the audit log."""
    def href(number: int) -> str:
        return url_for("admin.audit_log", page=number, action=action or None, actor=actor or None)

    params: dict = {"items": []}
    for number in range(1, pages + 1):
        if number in (1, pages) or abs(number - page) <= 2:
            params["items"].append({"number": number, "href": href(number), "current": number == page})
        elif params["items"][-1].get("ellipsis") is not True:
            params["items"].append({"ellipsis": True})
    if page > 1:
        params["previous"] = {"href": href(page - 1)}
    if page < pages:
        params["next"] = {"href": href(page + 1)}
    return params
