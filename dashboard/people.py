"""Staff accounts and repair teams: the rules for making and changing them, shared by the admin pages,
``dampwatch users`` / ``dampwatch teams`` and the demo.

Each function changes the rows and records an audit event in the caller's transaction; the caller says who
is acting (an email, or a command name). Problems are raised as :class:`PeopleError` with a message in plain
English that a page or a command can show as it is.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit as core_audit
from core.errors import DampWatchError
from core.model import ROLES, ApiToken, Team, User, utcnow
from dashboard.auth import end_sessions, hash_password, password_problem

ROLE_NAMES = {
    "officer": "Housing officer",
    "repair": "Repair team member",
    "manager": "Manager",
    "admin": "Admin",
}
#: A UK postcode district (outward code): LS6, M1, SW1A, EC1V.
DISTRICT_PATTERN = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
MAX_DAILY_CAPACITY = 50


class PeopleError(DampWatchError):
    """A user or team change that cannot be made (the message says why, for a person to read).

    ``field`` names the form field the problem belongs to (email, name, role, team, password, districts,
    daily_capacity), so a page can show the message beside it.
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def normalise_email(email: str) -> str:
    """Email addresses are stored and compared in lower case without surrounding spaces."""
    return email.strip().lower()


def new_password() -> str:
    """A random password to give a person once (about 96 bits; letters, digits, - and _)."""
    return secrets.token_urlsafe(12)


def parse_districts(text: str | None) -> str:
    """Postcode districts separated by spaces or commas, checked and upper-cased ("ls6, ls7" -> "LS6 LS7")."""
    districts = [part for part in re.split(r"[\s,]+", (text or "").upper()) if part]
    wrong = [district for district in districts if not DISTRICT_PATTERN.match(district)]
    if wrong:
        raise PeopleError(f"Enter postcode districts like LS6 or SW1A ({', '.join(wrong)} is not one)", "districts")
    return " ".join(dict.fromkeys(districts))


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def _check_team(session: Session, role: str, team_id: int | None) -> Team | None:
    if role not in ROLES:
        raise PeopleError(f"Choose a role: {', '.join(ROLES)}", "role")
    if role == "repair" and team_id is None:
        raise PeopleError("Select the team of a repair team member", "team")
    if team_id is None:
        return None
    team = session.get(Team, team_id)
    if team is None:
        raise PeopleError("Select a team that exists", "team")
    return team


def create_user(session: Session, *, email: str, name: str, role: str, team_id: int | None = None,
                password: str, actor: str, actor_id: int | None = None, ip: str | None = None) -> User:
    """Add a member of staff; raise :class:`PeopleError` if the email is taken or the role needs a team."""
    email = normalise_email(email)
    if not email or "@" not in email:
        raise PeopleError("Enter an email address in the correct format, like name@example.com", "email")
    if not name.strip():
        raise PeopleError("Enter the person's name", "name")
    if find_user(session, email) is not None:
        raise PeopleError("There is already a user with this email address", "email")
    problem = password_problem(password)
    if problem:
        raise PeopleError(problem, "password")
    team = _check_team(session, role, team_id if role == "repair" else None)
    user = User(email=email, name=name.strip(), role=role, team_id=team.id if team else None,
                password_hash=hash_password(password), active=True)
    session.add(user)
    session.flush()
    core_audit.record(session, actor, "user.created", "user", user.id, user_id=actor_id, ip=ip, email=email,
                      role=role, team=team.name if team else None)
    return user


def change_user(session: Session, user: User, *, name: str, role: str, team_id: int | None, actor: str,
                actor_id: int | None = None, ip: str | None = None) -> dict[str, Any]:
    """Change a user's name, role and team; return what changed (``{field: [before, after]}``)."""
    if not name.strip():
        raise PeopleError("Enter the person's name", "name")
    if actor_id == user.id and role != user.role:
        raise PeopleError("You cannot change your own role; ask another admin", "role")
    team = _check_team(session, role, team_id if role == "repair" else None)
    changes: dict[str, Any] = {}
    for field, value in (("name", name.strip()), ("role", role), ("team_id", team.id if team else None)):
        if getattr(user, field) != value:
            changes[field] = [getattr(user, field), value]
            setattr(user, field, value)
    if changes:
        core_audit.record(session, actor, "user.changed", "user", user.id, user_id=actor_id, ip=ip,
                          email=user.email, changes=changes)
    return changes


def set_active(session: Session, user: User, active: bool, *, actor: str, actor_id: int | None = None,
               ip: str | None = None) -> None:
    """Deactivate (they cannot sign in; their sessions and API tokens stop working) or reactivate a user."""
    if actor_id == user.id and not active:
        raise PeopleError("You cannot deactivate your own account", "active")
    if user.active == active:
        return
    user.active = active
    if not active:
        end_sessions(user)  # so reactivating the account later does not revive them
    core_audit.record(session, actor, "user.reactivated" if active else "user.deactivated", "user", user.id,
                      user_id=actor_id, ip=ip, email=user.email)


def reset_password(session: Session, user: User, *, actor: str, actor_id: int | None = None,
                   ip: str | None = None, password: str | None = None, keep_tokens: bool = False) -> str:
    """Give a user a new password (random unless given) and return it.

    Their sessions end, and so do their API tokens unless ``keep_tokens`` (a password reset usually means
    the account may be in someone else's hands; a system's token is kept only on purpose).
    """
    password = password or new_password()
    problem = password_problem(password)
    if problem:
        raise PeopleError(problem, "password")
    user.password_hash = hash_password(password)
    end_sessions(user)
    revoked = [] if keep_tokens else revoke_all_tokens(session, user)
    core_audit.record(session, actor, "user.password_reset", "user", user.id, user_id=actor_id, ip=ip,
                      email=user.email, tokens_revoked=len(revoked))
    return password


def sign_out_everywhere(session: Session, user: User, *, actor: str, actor_id: int | None = None,
                        ip: str | None = None) -> None:
    """End every session ``user`` has, on every device (an admin's "sign out everywhere")."""
    end_sessions(user)
    core_audit.record(session, actor, "user.signed_out_everywhere", "user", user.id, user_id=actor_id, ip=ip,
                      email=user.email)


def revoke_all_tokens(session: Session, user: User) -> list[ApiToken]:
    """Revoke every live API token of ``user``; return them."""
    now = utcnow()
    tokens = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))))
    for token in tokens:
        token.revoked_at = now
    return tokens


def save_team(session: Session, team: Team | None, *, name: str, daily_capacity: int, districts: str | None,
              actor: str, actor_id: int | None = None, ip: str | None = None) -> Team:
    """Create a team (``team`` None) or change one; audited with what changed."""
    name = name.strip()
    if not name:
        raise PeopleError("Enter a team name", "name")
    if not 0 <= daily_capacity <= MAX_DAILY_CAPACITY:
        raise PeopleError(f"Inspections a day must be between 0 and {MAX_DAILY_CAPACITY}", "daily_capacity")
    clash = session.scalar(select(Team).where(func.lower(Team.name) == name.lower()))
    if clash is not None and clash is not team:
        raise PeopleError(f"There is already a team called {clash.name}", "name")
    districts = parse_districts(districts)
    if team is None:
        team = Team(name=name, daily_capacity=daily_capacity, districts=districts)
        session.add(team)
        session.flush()
        core_audit.record(session, actor, "team.created", "team", team.id, user_id=actor_id, ip=ip, name=name,
                          daily_capacity=daily_capacity, districts=districts)
        return team
    changes = {}
    for field, value in (("name", name), ("daily_capacity", daily_capacity), ("districts", districts)):
        before = getattr(team, field)
        if ((before or "") if field == "districts" else before) != value:
            changes[field] = [before, value]
            setattr(team, field, value)
    if changes:
        core_audit.record(session, actor, "team.changed", "team", team.id, user_id=actor_id, ip=ip,
                          changes=changes)
    return team
