"""The tenant view: a tenant signs in with a one-time link and sees their own home, and reports a problem.

Tenants have no password. They ask for a link with the email address or mobile number we hold; the link
works once, for ``DAMPWATCH_TENANT_LINK_MINUTES``. Every page after that finds the home from the session
(``session["tenant_id"]``), never from the address bar, so no id a tenant could change leads to another
home. The pages show the home's overall risk in kind words, the advice we sent, and a "Report damp or
mould" form that opens a case and starts the Awaab's Law clock. The rules live in
``alerts.tenant_access``; these views validate forms, call it and redirect.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import logout_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length

from alerts.tenant_access import (
    home_summary,
    link_request_allowed,
    report_problem,
    request_link,
    use_token,
    valid_token,
)
from core.model import Tenant
from dashboard.auth import TENANT_SESSION_KEY, audit, current_tenant_id, public, tenant_required
from dashboard.extensions import get_database, get_settings
from dashboard.forms import required
from dashboard.tenant_words import tenant_lang, tw, words

logger = logging.getLogger(__name__)

bp = Blueprint("tenant", __name__, url_prefix="/tenant")

TENANT_SIGNED_IN_AT_KEY = "tenant_signed_in_at"
#: The tenant's session version when they signed in; signing out raises it, ending every copy of the session.
TENANT_SESSION_VERSION_KEY = "tenant_session_version"
BAND_WORDS = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "high",  # tenants are told it is high; officers see critical
}


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _TenantErrors:
    """Give a tenant form's error messages in the page's language (``dashboard.tenant_words``).

    The validators' messages are word keys (``error_...``); WTForms' own messages are mapped to keys by
    :data:`BUILT_IN_ERRORS`. An error the words do not know is shown as it is.
    """

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)  # type: ignore[misc]
        for field in self:  # type: ignore[attr-defined]
            field.errors = [tenant_error(message) for message in field.errors]
        self._errors = None  # the cached form.errors is built again
        return valid


#: WTForms' built-in messages a tenant can meet, and the word keys that say them in the page's language.
BUILT_IN_ERRORS = {"Not a valid choice.": "error_where_choice"}


def tenant_error(message: str) -> str:
    """A form error in the tenant's language: ``message`` is a word key, or one of WTForms' own messages."""
    key = BUILT_IN_ERRORS.get(str(message), str(message))
    known = words(tenant_lang())
    return tw(key) if key in known else str(message)


class _TenantWidget:
    """A GOV.UK widget whose error message's hidden prefix ("Error:") is in the page's language."""

    def map_gov_params(self, field, **kwargs):
        params = super().map_gov_params(field, **kwargs)  # type: ignore[misc]
        if "errorMessage" in params:
            params["errorMessage"]["visuallyHiddenText"] = tw("error_prefix")
        return params


class TenantTextInput(_TenantWidget, GovTextInput):
    pass


class TenantTextArea(_TenantWidget, GovTextArea):
    pass


class TenantRadioInput(_TenantWidget, GovRadioInput):
    pass


class LinkRequestForm(_TenantErrors, FlaskForm):
    contact = StringField("Email address or mobile phone number", widget=TenantTextInput(),
                          validators=[InputRequired(message="error_contact_missing"),
                                      Length(max=254, message="error_contact_too_long")])
    submit = SubmitField("Send me a link", widget=GovSubmitInput())


class UseLinkForm(FlaskForm):
    submit = SubmitField("Continue", widget=GovSubmitInput())


class ReportForm(_TenantErrors, FlaskForm):
    where = RadioField("Where is the damp or mould?", widget=TenantRadioInput(),
                       validators=[InputRequired(message="error_where_missing")])
    description = TextAreaField("Tell us what you can see", widget=TenantTextArea(),
                                validators=[InputRequired(message="error_description_missing"),
                                            Length(max=3000, message="error_description_too_long")])
    submit = SubmitField("Send report", widget=GovSubmitInput())


class SignOutForm(FlaskForm):
    submit = SubmitField("Sign out", widget=GovSubmitInput())


@bp.before_request
def _tenant_session_expires():
    """A tenant's sign-in lasts web_session_hours from the link, like staff sign-ins."""
    if current_tenant_id() is None:
        return None
    started = session.get(TENANT_SIGNED_IN_AT_KEY)
    limit = dt.timedelta(hours=get_settings().web_session_hours)
    try:
        expired = started is None or now_utc() - dt.datetime.fromisoformat(started) > limit
    except ValueError:
        expired = True
    if not expired:
        with get_database().session() as db:
            tenant = db.get(Tenant, current_tenant_id())
            expired = tenant is None or (tenant.session_version or 0) != session.get(TENANT_SESSION_VERSION_KEY)
    if expired:
        session.clear()
        return redirect(url_for("tenant.sign_in"))
    return None


def _tenant(db) -> Tenant:
    tenant = db.get(Tenant, current_tenant_id())
    if tenant is None:  # removed since they signed in
        session.clear()
        abort(403)
    return tenant


@bp.route("/sign-in", methods=["GET", "POST"])
@public("tenants have no password: they ask here for a one-time link to the contact we hold")
def sign_in():
    form = LinkRequestForm()
    if form.validate_on_submit():
        now = now_utc()
        with get_database().session() as db:
            ip_ok, _ = link_request_allowed(db, get_settings(), required(form.contact.data), request.remote_addr, now)
            if not ip_ok:
                return render_template("tenant/too_many.html"), 429
            request_link(db, get_settings(), required(form.contact.data), ip=request.remote_addr, now=now)
        return redirect(url_for("tenant.link_sent"))
    return render_template("tenant/sign_in.html", form=form)


@bp.route("/sign-in/sent")
@public("the same page follows every link request, whether or not the details matched")
def link_sent():
    return render_template("tenant/link_sent.html", minutes=get_settings().tenant_link_minutes)


@bp.route("/link/<token>", methods=["GET", "POST"])
@public("the one-time link a tenant was sent: the token in it is the proof of who they are")
def landing(token: str):
    form = UseLinkForm()
    now = now_utc()
    with get_database().session() as db:
        if request.method == "POST":
            if not form.validate_on_submit():
                abort(400)
            tenant = use_token(db, get_settings(), token, now)
            if tenant is not None:
                tenant_id, version = tenant.id, tenant.session_version or 0
        elif valid_token(db, get_settings(), token, now) is not None:
            return render_template("tenant/landing.html", form=form)
        else:
            tenant = None
    if tenant is None:
        return render_template("tenant/link_expired.html"), 410
    logout_user()  # a member of staff using a tenant's link stops being signed in as staff
    session.clear()
    session.permanent = True
    session[TENANT_SESSION_KEY] = tenant_id
    session[TENANT_SIGNED_IN_AT_KEY] = now.isoformat()
    session[TENANT_SESSION_VERSION_KEY] = version
    return redirect(url_for("tenant.home"))


@bp.route("/")
@tenant_required
def home():
    now = now_utc()
    with get_database().session() as db:
        tenant = _tenant(db)
        summary = home_summary(db, tenant, now)
        return render_template("tenant/home.html", tenant=tenant, summary=summary,
                               band=BAND_WORDS.get(summary.band or "", summary.band), sign_out_form=SignOutForm())


@bp.route("/report", methods=["GET", "POST"])
@tenant_required
def report():
    with get_database().session() as db:
        tenant = _tenant(db)
        rooms = home_summary(db, tenant, now_utc()).rooms
    form = ReportForm()
    form.where.choices = [(name, name) for name in rooms] + [("Somewhere else", "Somewhere else")]
    if form.validate_on_submit():
        now = now_utc()
        with get_database().session() as db:
            case, opened = report_problem(db, _tenant(db), where=form.where.data,
                                          description=required(form.description.data).strip(), now=now,
                                          ip=request.remote_addr, settings=get_settings())
            session["tenant_report"] = {"case_id": case.id, "opened": opened}
        return redirect(url_for("tenant.report_sent"))
    return render_template("tenant/report.html", form=form)


@bp.route("/report/sent")
@tenant_required
def report_sent():
    sent = session.get("tenant_report")
    if not sent:
        return redirect(url_for("tenant.home"))
    now = now_utc()
    with get_database().session() as db:
        summary = home_summary(db, _tenant(db), now)
        if summary.case is None or summary.case.id != sent["case_id"]:
            return redirect(url_for("tenant.home"))
        return render_template("tenant/report_sent.html", summary=summary, opened=sent["opened"])


@bp.route("/sign-out", methods=["POST"])
@tenant_required
def sign_out():
    if not SignOutForm().validate_on_submit():
        abort(400)
    with get_database().session() as db:
        tenant = db.get(Tenant, current_tenant_id())
        if tenant is not None:  # ends this session wherever its cookie has been copied, and any other
            tenant.session_version = (tenant.session_version or 0) + 1
            audit(db, "tenant.signed_out", "tenant", tenant.id)
    session.clear()
    return redirect(url_for("tenant.sign_in"))



# The pages in the tenant's language, English or Welsh, and the link to switch (issue 15; dashboard.tenant_words).
from dashboard.tenant_words import register as _register_tenant_words  # noqa: E402

_register_tenant_words(bp)
