"""Signing in and out: the one way staff get into the dashboard.

Passwords are checked against scrypt hashes; a successful sign-in clears the old session (so a session id
planted before sign-in is worthless) and starts a new one that lasts ``web_session_hours``. Signing out
raises the user's session version, which ends every session they have (a copied cookie stops working too).

Failed attempts are recorded in the audit log, and slow down what comes next instead of locking anyone out:
after ``FREE_FAILURES`` failures within ``FAILED_SIGN_IN_WINDOW`` for one account, or from one client address
(password spraying across accounts), each further attempt must wait ``2 ** (failures - FREE_FAILURES)``
seconds after the last failure, at most ``MAX_DELAY``. An attempt made too soon is refused without checking
the password and does not count. A browser that has signed in to the account before carries a signed
"known device" cookie and skips the account's delay (not its own address's), so someone hammering an
account from elsewhere cannot keep its owner out. Behind a reverse proxy the client address is right only
when ``DAMPWATCH_WEB_TRUSTED_PROXIES`` says how many proxies to trust. An email address that matches no
account is recorded only as a keyed hash (people type passwords into the email box).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired, Length

from core import audit as core_audit
from core.keyed_hash import settings_hash
from core.model import AuditEvent, User
from dashboard import SIGNED_IN_AT_KEY
from dashboard.auth import SignedInUser, audit, check_password, end_sessions, home_for, public, roles_required
from dashboard.extensions import get_database, get_settings
from dashboard.forms import required

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

FREE_FAILURES = 5
FAILED_SIGN_IN_WINDOW = dt.timedelta(minutes=15)
MAX_DELAY = dt.timedelta(minutes=5)
KNOWN_DEVICE_COOKIE = "dampwatch_known_device"
KNOWN_DEVICE_DAYS = 180
KNOWN_DEVICE_ACCOUNTS = 5
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


def failure_actor(email: str, user: User | None) -> str:
    """How a failed attempt names the account in the audit log: its email, or a keyed hash if there is none."""
    if user is not None:
        return user.email
    return "unknown:" + settings_hash(get_settings(), "sign-in-email", email)[:24]


def delay_after(failures: int) -> dt.timedelta:
    """How long after the last failure the next attempt must wait, given the failures in the window."""
    if failures < FREE_FAILURES:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=2 ** min(failures - FREE_FAILURES, 20)), MAX_DELAY)


def _wait_needed(db, condition, now: dt.datetime) -> dt.timedelta:
    count, last = db.execute(
        select(func.count(), func.max(AuditEvent.at)).where(
            AuditEvent.action == "auth.sign_in_failed", AuditEvent.at > now - FAILED_SIGN_IN_WINDOW, condition)
    ).one()
    if not count or last is None:
        return dt.timedelta(0)
    if last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    return max(last + delay_after(count) - now, dt.timedelta(0))


def wait_before_attempt(db, actor: str, ip: str | None, now: dt.datetime, *, known_device: bool) -> dt.timedelta:
    """How long this client must still wait before an attempt on ``actor``'s account (0: it may try now)."""
    waits = [dt.timedelta(0)]
    if ip:
        waits.append(_wait_needed(db, AuditEvent.ip == ip, now))
    if not known_device:
        waits.append(_wait_needed(db, AuditEvent.actor == actor, now))
    return max(waits)


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="dampwatch-known-device")


def _known_accounts() -> list[int]:
    value = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not value:
        return []
    try:
        accounts = _device_serializer().loads(value, max_age=KNOWN_DEVICE_DAYS * 86400)
    except BadSignature:
        return []
    return [a for a in accounts if isinstance(a, int)] if isinstance(accounts, list) else []


def _remember_device(response, user_id: int) -> None:
    accounts = [user_id] + [a for a in _known_accounts() if a != user_id]
    response.set_cookie(KNOWN_DEVICE_COOKIE, _device_serializer().dumps(accounts[:KNOWN_DEVICE_ACCOUNTS]),
                        max_age=KNOWN_DEVICE_DAYS * 86400, secure=current_app.config["SESSION_COOKIE_SECURE"],
                        httponly=True, samesite="Lax")


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
        email = normalise_email(required(form.email.data))
        now = dt.datetime.now(dt.UTC)
        ip = request.remote_addr
        wait = dt.timedelta(0)
        with get_database().session() as db:
            user = db.scalar(select(User).where(func.lower(User.email) == email))
            actor = failure_actor(email, user)
            known = user is not None and user.id in _known_accounts()
            wait = wait_before_attempt(db, actor, ip, now, known_device=known)
            if wait > dt.timedelta(0):
                problem = "wait"
                core_audit.record(db, actor, "auth.sign_in_refused", "user", user.id if user else None, ip=ip,
                                  reason="too soon after failed attempts", wait_s=math.ceil(wait.total_seconds()))
                logger.warning("refused a sign-in attempt from %s: %.0f s to wait after failed attempts", ip,
                               wait.total_seconds())
            else:
                ok = check_password(user.password_hash if user else _DUMMY_HASH, required(form.password.data))
                if user is None or not ok or not user.active:
                    problem = "wrong"
                    reason = "unknown email" if user is None else ("inactive" if ok else "wrong password")
                    core_audit.record(db, actor, "auth.sign_in_failed", "user", user.id if user else None,
                                      user_id=user.id if user else None, ip=ip, reason=reason)
                else:
                    user.last_sign_in_at = now
                    core_audit.record(db, user.email, "auth.signed_in", "user", user.id, user_id=user.id, ip=ip)
                    signed_in = SignedInUser.from_model(user)
        if problem is None:
            target = _safe_next(request.args.get("next"))
            session.clear()  # a new session: nothing from before sign-in carries over
            login_user(signed_in)
            session.permanent = True
            session[SIGNED_IN_AT_KEY] = now.isoformat()
            response = redirect(target or home_for(signed_in.role))
            _remember_device(response, signed_in.id)
            return response
        if problem == "wait":
            seconds = math.ceil(wait.total_seconds())
            form.email.errors = [*form.email.errors, "There have been too many failed attempts to sign in. "
                                 f"Wait {seconds} second{'s' if seconds != 1 else ''} and try again"]
        else:
            form.email.errors = [*form.email.errors, "Enter a correct email address and password"]
    return render_template("auth/sign_in.html", form=form)


@bp.route("/sign-out", methods=["POST"])
@roles_required(*ALL_STAFF)
def sign_out():
    with get_database().session() as db:
        user = db.get(User, current_user.id)
        if user is not None:
            end_sessions(user)  # every copy of this session's cookie, and the user's other sessions, end too
        audit(db, "auth.signed_out", "user", current_user.id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.sign_in"))
