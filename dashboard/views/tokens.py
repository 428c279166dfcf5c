"""API tokens: where housing officers, managers and admins make and revoke their own tokens for the JSON API.

A council's other systems call the API (``dashboard/views/api.py``) with a person's token, so each person
manages their own: name it after the system that will use it, copy it once (only its SHA-256 is kept), and
revoke it when that system no longer needs it. Every creation and revocation is in the audit log.
Repair team members do not use the API, so they have no tokens.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from sqlalchemy import select
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length

from core.model import ApiToken
from dashboard.api_tokens import (
    NAME_MAX_LENGTH,
    TOKEN_ROLES,
    TokenError,
    create_token,
    revoke_token,
    user_tokens,
)
from dashboard.auth import roles_required, signed_in_user_row
from dashboard.extensions import get_database
from dashboard.forms import required

logger = logging.getLogger(__name__)

bp = Blueprint("tokens", __name__, url_prefix="/account/api-tokens")

NAV_ITEMS = [("API tokens", "tokens.index", TOKEN_ROLES)]


class NewTokenForm(FlaskForm):
    name = StringField(
        "Name",
        description="Say which system will use it, so you know which token to revoke later. For example, "
                    "Repairs system",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter a name for the token"),
                    Length(max=NAME_MAX_LENGTH, message=f"Name must be {NAME_MAX_LENGTH} characters or fewer")],
    )
    submit = SubmitField("Create token", widget=GovSubmitInput())


class RevokeForm(FlaskForm):
    submit = SubmitField("Revoke token", widget=GovSubmitInput())


@bp.route("/")
@roles_required(*TOKEN_ROLES)
def index():
    with get_database().session() as db:
        tokens = user_tokens(db, current_user.id)
    return render_template("tokens/index.html", tokens=tokens)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*TOKEN_ROLES)
def new():
    form = NewTokenForm()
    if form.validate_on_submit():
        with get_database().session() as db:
            user = signed_in_user_row(db)
            try:
                value = create_token(db, user, required(form.name.data), actor=current_user.email,
                                     actor_user_id=current_user.id, ip=request.remote_addr)
            except TokenError as exc:
                form.name.errors = [*form.name.errors, str(exc)]
            else:
                name = required(form.name.data).strip()
                # Shown in this response only: never redirected through the session, never logged.
                return render_template("tokens/created.html", name=name, token=value)
    return render_template("tokens/new.html", form=form)


def _own_live_token(db, token_id: int) -> ApiToken:
    token = db.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == current_user.id,
                                             ApiToken.revoked_at.is_(None)))
    if token is None:
        abort(404)
    return token


@bp.route("/<int:token_id>/revoke", methods=["GET", "POST"])
@roles_required(*TOKEN_ROLES)
def revoke(token_id: int):
    form = RevokeForm()
    with get_database().session() as db:
        token = _own_live_token(db, token_id)
        if form.validate_on_submit():
            revoke_token(db, token, actor=current_user.email, actor_user_id=current_user.id, ip=request.remote_addr)
            flash(f"Token ‘{token.name}’ revoked. Systems using it can no longer reach the API.")
            return redirect(url_for("tokens.index"))
    return render_template("tokens/revoke.html", form=form, token=token)
