"""Who may see what: the access decorators every view carries, passwords, the signed-in person and the audit log.

Every view function carries exactly one of

* ``@roles_required("officer", "manager")``: a signed-in member of staff with one of those roles (admin is
  not implied: list it where an admin may come in);
* ``@public("why")``: no sign-in (the sign-in page, the health check, a secret-URL calendar feed, a tenant's
  one-time link);
* ``@tenant_required``: a tenant signed in with a one-time link (``session["tenant_id"]``);
* ``@api_token_required("officer", ...)``: the JSON API, with a per-user bearer token.

Each sets ``view._dampwatch_access`` (an :class:`Access`); a test walks ``app.url_map`` and fails on any
endpoint without one, so a new route cannot be left open by mistake.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, g, request, session, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core import audit as core_audit
from core.model import ROLES, ApiToken, User
from dashboard.extensions import get_database, login_manager

logger = logging.getLogger(__name__)

ACCESS_ATTRIBUTE = "_dampwatch_access"
#: The session key a tenant's one-time link sign-in sets (the tenant's id).
TENANT_SESSION_KEY = "tenant_id"
#: Werkzeug's scrypt (n=2**15, r=8, p=1): memory-hard, and no extra dependency.
PASSWORD_METHOD = "scrypt"
MIN_PASSWORD_LENGTH = 10

View = TypeVar("View", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class Access:
    """How a view is reached: ``kind`` is roles, public, tenant or api; ``roles`` for roles and api."""

    kind: str
    roles: tuple[str, ...] = ()
    reason: str = ""


def _check_roles(roles: tuple[str, ...]) -> None:
    unknown = [role for role in roles if role not in ROLES]
    if not roles or unknown:
        raise ValueError(f"name one or more of the roles {ROLES}; got {roles}")


def _mark(view: Callable) -> None:
    if hasattr(view, ACCESS_ATTRIBUTE):
        raise TypeError(f"{view.__qualname__} already has an access decorator; give each view exactly one")


def roles_required(*roles: str) -> Callable[[View], View]:
    """Let in a signed-in member of staff whose role is one of ``roles``; others get sign-in or 403."""
    _check_roles(roles)
    access = Access("roles", tuple(roles))

    def decorator(view: View) -> View:
        _mark(view)

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in access.roles:
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTRIBUTE, access)
        return wrapper  # type: ignore[return-value]

    return decorator


def public(reason: str) -> Callable[[View], View]:
    """Let anyone in, without signing in; ``reason`` says why the page may be public."""
    if not reason or not reason.strip():
        raise ValueError("say why the view is public")
    access = Access("public", reason=reason)

    def decorator(view: View) -> View:
        _mark(view)

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTRIBUTE, access)
        return wrapper  # type: ignore[return-value]

    return decorator


def tenant_required(view: View) -> View:
    """Let in a tenant who signed in with a one-time link (``session["tenant_id"]``); others get 403."""
    access = Access("tenant")
    _mark(view)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_tenant_id() is None:
            abort(403)
        return view(*args, **kwargs)

    setattr(wrapper, ACCESS_ATTRIBUTE, access)
    return wrapper  # type: ignore[return-value]


def current_tenant_id() -> int | None:
    """The id of the tenant signed in to this session, or None."""
    value = session.get(TENANT_SESSION_KEY)
    return int(value) if value is not None else None


def token_sha256(token: str) -> str:
    """What is stored of an API token: its SHA-256 in hex (the token itself is shown once)."""
    return hashlib.sha256(token.encode()).hexdigest()


#: Record a token's use at most this often (one write per request would be wasteful).
TOKEN_LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


def api_token_required(*roles: str) -> Callable[[View], View]:
    """Let in a JSON API call with ``Authorization: Bearer <token>`` of an active user with one of ``roles``.

    Sets ``g.api_user`` (a :class:`SignedInUser`) and ``g.api_token_id``. A missing, unknown or revoked
    token, or one whose owner is deactivated, gets 401 with ``WWW-Authenticate: Bearer`` (RFC 6750); an
    owner whose role is not in ``roles`` gets 403. Both are the API's JSON error (``{"error": {"code",
    "message"}}``, see ``dashboard.views.api``) with a message saying what to do.
    """
    _check_roles(roles)
    access = Access("api", tuple(roles))
    tokens_page = "/account/api-tokens"  # dashboard.views.tokens

    def decorator(view: View) -> View:
        _mark(view)

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from dashboard.views.api import error_response  # the API's error shape; imported late (no cycle)

            def refuse(status: int, code: str, message: str):
                response = error_response(status, code, message)
                if status == 401:
                    challenge = 'Bearer realm="DampWatch API"'
                    if code == "invalid_token":
                        challenge += ', error="invalid_token"'
                    response.headers["WWW-Authenticate"] = challenge
                return response

            scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return refuse(401, "missing_token", "Send your API token in the Authorization header, as "
                              f"'Authorization: Bearer <token>'. Make a token in the dashboard at {tokens_page}.")
            digest = token_sha256(token.strip())
            now = dt.datetime.now(dt.UTC)
            with get_database().session() as db:
                row = db.execute(
                    select(ApiToken, User).join(User, ApiToken.user_id == User.id).where(
                        ApiToken.token_sha256 == digest)
                ).first()
                if row is None:
                    return refuse(401, "invalid_token", "The API token is not recognised. Check you copied all "
                                  f"of it, or make a new one at {tokens_page}.")
                if row.ApiToken.revoked_at is not None:
                    return refuse(401, "invalid_token", "The API token was revoked on "
                                  f"{row.ApiToken.revoked_at:%Y-%m-%d}. Make a new one at {tokens_page}.")
                if not row.User.active:
                    return refuse(401, "invalid_token", "The API token's owner has been deactivated. Ask an "
                                  "admin, or use the token of someone whose account is active.")
                if row.User.role not in access.roles:
                    return refuse(403, "forbidden", f"The token belongs to a {row.User.role} user, who cannot "
                                  f"do this. It needs the token of a {' or '.join(access.roles)} user.")
                if row.ApiToken.last_used_at is None or now - row.ApiToken.last_used_at > TOKEN_LAST_USED_RESOLUTION:
                    row.ApiToken.last_used_at = now
                g.api_user = SignedInUser.from_model(row.User)
                g.api_token_id = row.ApiToken.id
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTRIBUTE, access)
        return wrapper  # type: ignore[return-value]

    return decorator


#: Where each role starts its day: the first of these endpoints that exists (the risk list otherwise).
ROLE_HOMES = {"repair": ("repair.job_list",), "manager": ("portfolio.summary", "cases.manager"),
              "admin": ("admin.users",)}


def home_for(role: str) -> str:
    """The URL of the page a member of staff with ``role`` starts from."""
    for endpoint in ROLE_HOMES.get(role, ()):
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("main.risk_list")


def access_of(view: Callable) -> Access | None:
    """The access a view function carries, or None if it has no decorator."""
    return getattr(view, ACCESS_ATTRIBUTE, None)


# --- people --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SignedInUser:
    """The signed-in member of staff as views see it (``current_user``): a copy, not a database row.

    ``get_id`` carries the user's ``session_version`` and a fingerprint of the password hash: raising the
    version (sign-out, deactivation, an admin's "sign out everywhere") or a new password ends every session
    the user had, wherever its cookie has been copied to.
    """

    id: int
    email: str
    name: str
    role: str
    team_id: int | None
    active: bool
    session_key: str
    session_version: int = 0

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}:{self.session_key}"

    @classmethod
    def from_model(cls, user: User) -> SignedInUser:
        return cls(user.id, user.email, user.name, user.role, user.team_id, user.active,
                   session_fingerprint(user.password_hash), user.session_version or 0)


def session_fingerprint(password_hash: str) -> str:
    """A short digest of the password hash; changes whenever the password does."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@login_manager.user_loader
def load_user(user_id: str) -> SignedInUser | None:
    """Flask-Login's loader: the active user whose id, session version and password fingerprint match."""
    number, _, rest = user_id.partition(":")
    version, _, fingerprint = rest.partition(":")
    if not number.isdigit() or not version.isdigit() or len(number) > 10:
        return None
    with get_database().session() as db:
        user = db.get(User, int(number))
        if (user is None or not user.active or (user.session_version or 0) != int(version)
                or session_fingerprint(user.password_hash) != fingerprint):
            return None
        return SignedInUser.from_model(user)


def signed_in_user_row(session: Session) -> User:
    """The database row of the signed-in member of staff (``current_user`` is a copy of it).

    ``load_user`` found it at the start of the request, and users are deactivated, never deleted.
    """
    user = session.get(User, current_user.id)
    if user is None:
        raise LookupError(f"the signed-in user {current_user.id} has no row")
    return user


def end_sessions(user: User) -> None:
    """End every session ``user`` has (raise their session version); the caller's transaction commits it."""
    user.session_version = (user.session_version or 0) + 1


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` for ``User.password_hash``."""
    return generate_password_hash(password, method=PASSWORD_METHOD)


def check_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches the stored hash (any method werkzeug knows)."""
    return check_password_hash(password_hash, password)


def password_problem(password: str) -> str | None:
    """Why a new password is not good enough, in GOV.UK words, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be {MIN_PASSWORD_LENGTH} characters or more"
    if len(password) > 200:
        return "Password must be 200 characters or fewer"
    return None


# --- the audit log -------------------------------------------------------------------------------------


def current_actor() -> tuple[str, int | None]:
    """Who is acting in this request: (actor, user id) as the audit log records them."""
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user.email, api_user.id
    if current_user and current_user.is_authenticated:
        return current_user.email, current_user.id
    tenant_id = current_tenant_id()
    if tenant_id is not None:
        return f"tenant:{tenant_id}", None
    return "anonymous", None


def audit(session: Session, action: str, object_type: str | None = None, object_id: object = None,
          **detail: Any):
    """Record an audit event for the person signed in to this request (actor, user id and IP filled in)."""
    actor, user_id = current_actor()
    return core_audit.record(session, actor, action, object_type, object_id, user_id=user_id,
                             ip=request.remote_addr, **detail)
