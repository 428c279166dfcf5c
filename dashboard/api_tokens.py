"""Per-user API tokens: made here, shown once, kept only as a SHA-256.

A token belongs to one member of staff and acts with that person's role, so a council's other system
sees exactly what its owner could see, and one revocation (or deactivating the owner) stops it. The
token itself is never stored: a database copy or a backup leaking cannot be replayed against the API.
Tokens start with ``dw_`` so secret scanners and people can tell what they are.

Used by the token pages (``dashboard/views/tokens.py``) and the command line (``dampwatch users token
create``); ``dashboard.auth.api_token_required`` checks a call's token against the stored hashes.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit as core_audit
from core.errors import DampWatchError
from core.model import ApiToken, User, utcnow
from dashboard.auth import token_sha256

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "dw_"
#: Random bytes in a token (256 bits, as URL-safe base64).
TOKEN_BYTES = 32
#: Roles that may hold API tokens (repair team members work from their job list, not the API).
TOKEN_ROLES = ("officer", "manager", "admin")
NAME_MAX_LENGTH = 120
#: Where people manage their tokens (said in the API's error messages).
TOKENS_PAGE = "/account/api-tokens"


class TokenError(DampWatchError):
    """A token cannot be made or revoked; the message says why, in words fit for a page."""


def new_token_value() -> str:
    """A fresh, unguessable token (``dw_`` and 43 URL-safe characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def name_problem(session: Session, user: User, name: str) -> str | None:
    """Why ``name`` will not do for a new token of ``user``, in GOV.UK words, or None."""
    name = name.strip()
    if not name:
        return "Enter a name for the token"
    if any(unicodedata.category(character).startswith("C") for character in name):
        return "Name must be on one line, without tabs or other control characters"
    if len(name) > NAME_MAX_LENGTH:
        return f"Name must be {NAME_MAX_LENGTH} characters or fewer"
    clash = session.scalar(select(ApiToken.id).where(
        ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None)))
    if clash is not None:
        return f"You already have a token called ‘{name}’. Choose another name"
    return None


def create_token(
    session: Session,
    user: User,
    name: str,
    *,
    actor: str | None = None,
    actor_user_id: int | None = None,
    ip: str | None = None,
) -> str:
    """Make a token for ``user`` called ``name`` and return it: the only time anyone sees it.

    ``actor`` (default: the owner, as from the token pages) is who asked, for the audit log; the command
    line passes its own name. Raises :class:`TokenError` for a role that may not hold tokens, an inactive
    user or a name that is empty, too long or already used by one of the user's live tokens.
    """
    if user.role not in TOKEN_ROLES:
        raise TokenError(f"{user.email} is a {user.role} user; only {', '.join(TOKEN_ROLES)} users can have API tokens")
    if not user.active:
        raise TokenError(f"{user.email} is deactivated; reactivate the user before making a token")
    problem = name_problem(session, user, name)
    if problem is not None:
        raise TokenError(problem)
    value = new_token_value()
    token = ApiToken(user_id=user.id, name=name.strip(), token_sha256=token_sha256(value), created_at=utcnow())
    session.add(token)
    session.flush()
    if actor is None:
        actor, actor_user_id = user.email, user.id
    core_audit.record(session, actor, "api_token.created", "api_token", token.id, user_id=actor_user_id, ip=ip,
                      name=token.name, owner=user.email)
    logger.info("API token %d (%s) made for %s", token.id, token.name, user.email)
    return value


def user_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """A user's live tokens, newest first (revoked ones are kept for the record but not listed)."""
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def live_tokens(session: Session) -> list[tuple[ApiToken, User]]:
    """Every live token with its owner (for admins), newest first."""
    return [(row.ApiToken, row.User) for row in session.execute(
        select(ApiToken, User).join(User, ApiToken.user_id == User.id).where(ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))]


def revoke_token(session: Session, token: ApiToken, *, actor: str, actor_user_id: int | None = None,
                 ip: str | None = None) -> None:
    """Stop a token working from now on (kept, with when it was revoked, for the record)."""
    if token.revoked_at is not None:
        raise TokenError("This token has already been revoked")
    token.revoked_at = utcnow()
    core_audit.record(session, actor, "api_token.revoked", "api_token", token.id, user_id=actor_user_id, ip=ip,
                      name=token.name, owner_user_id=token.user_id)
    logger.info("API token %d (%s) revoked by %s", token.id, token.name, actor)
