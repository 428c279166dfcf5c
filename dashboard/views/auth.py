"""Signing in and out: the one way staff get into the dashboard.

Passwords are checked against scrypt hashes; a successful sign-in clears the old session (so a session id
planted before sign-in is worthless) and starts a new one that lasts ``web_session_hours``. Failed attempts
are recorded in the audit log, and the audit log is what limits them: after ``MAX_FAILED_SIGN_INS`` failures
for one email address within ``FAILED_SIGN_IN_WINDOW`` that address cannot sign in until the window passes.
Keeping the count in the database means it holds across restarts and across server processes.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from sqlalchemy import func, select
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired, Length

from core import audit as core_audit
from core.model import AuditEvent, User
from dashboard import SIGNED_IN_AT_KEY
from dashboard.auth import SignedInUser, audit, check_password, home_for, public, roles_required
from dashboard.extensions import get_database

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

MAX_FAILED_SIGN_INS = 5
FAILED_SIGN_IN_WINDOW = dt.timedelta(minutes=15)
# Checked when the email address is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = "scrypt:32768:8:1$dampwatch-no-user$0"
ALL_STAFF = ("officer", "repair", "manager", "admin")


class SignInForm(FlaskForm):
    email = StringField("Email address", widget=GovTextInput(),
                        validators=[InputRequired(message="Enter your email address"), Length(max=254)])
    password = PasswordField("Password", widget=GovPasswordInput(),
                             validators=[InputRequired(message="Enter your password"), Length(max=200)])
    submit = SubmitField("Sign in", widget=GovSubmitInput())


def normalise_email(email: str) -> str:
    """Email addresses are compared without case or surrounding spaces."""
    return email.strip().lower()


def _recent_failures(db, email: str, now: dt.datetime) -> int:
    return db.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "auth.sign_in_failed", AuditEvent.actor == email,
            AuditEvent.at > now - FAILED_SIGN_IN_WINDOW)
    ) or 0


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never ``//evil.example`` or ``https://...``) may be gone to after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
@public("staff must be able to reach the sign-in page before they are signed in")
def sign_in():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")) or home_for(current_user.role))
    form = SignInForm()
    problem = None
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        now = dt.datetime.now(dt.UTC)
        with get_database().session() as db:
            if _recent_failures(db, email, now) >= MAX_FAILED_SIGN_INS:
                problem = "locked"
                core_audit.record(db, email, "auth.sign_in_refused", "user", None, ip=request.remote_addr,
                                  reason="too many failed attempts")
                logger.warning("refused a sign-in for %s: too many failed attempts", email)
            else:
                user = db.scalar(select(User).where(func.lower(User.email) == email))
                ok = check_password(user.password_hash if user else _DUMMY_HASH, form.password.data)
                if user is None or not ok or not user.active:
                    problem = "wrong"
                    reason = "unknown email" if user is None else ("inactive" if ok else "wrong password")
                    core_audit.record(db, email, "auth.sign_in_failed", "user", user.id if user else None,
                                      user_id=user.id if user else None, ip=request.remote_addr, reason=reason)
                else:
                    user.last_sign_in_at = now
                    core_audit.record(db, user.email, "auth.signed_in", "user", user.id, user_id=user.id,
                                      ip=request.remote_addr)
                    signed_in = SignedInUser.from_model(user)
        if problem is None:
            target = _safe_next(request.args.get("next"))
            session.clear()  # a new session: nothing from before sign-in carries over
            login_user(signed_in)
            session.permanent = True
            session[SIGNED_IN_AT_KEY] = now.isoformat()
            return redirect(target or home_for(signed_in.role))
        if problem == "locked":
            form.email.errors = [*form.email.errors,
                                 "You have tried to sign in too many times. Wait 15 minutes and try again"]
        else:
            form.email.errors = [*form.email.errors, "Enter a correct email address and password"]
    return render_template("auth/sign_in.html", form=form)


@bp.route("/sign-out", methods=["POST"])
@roles_required(*ALL_STAFF)
def sign_out():
    with get_database().session() as db:
        audit(db, "auth.signed_out", "user", current_user.id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.sign_in"))
