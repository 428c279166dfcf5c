"""Staff for the demo: one sign-in per role, and two repair teams, so every page can be tried at once.

Passwords are made at random each time and returned to be printed once; running the demo again (with
``--keep``) gives the same accounts new passwords rather than adding more.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.model import Team
from dashboard.people import create_user, find_user, new_password, reset_password, save_team, set_active

logger = logging.getLogger(__name__)

ACTOR = "dampwatch demo"
DEMO_TEAMS = (("North team", 4), ("South team", 3))
#: (role, name, email, team)
DEMO_STAFF = (
    ("officer", "Olivia Okafor", "officer@demo.dampwatch.example", None),
    ("manager", "Mark Hughes", "manager@demo.dampwatch.example", None),
    ("admin", "Aisha Khan", "admin@demo.dampwatch.example", None),
    ("repair", "Rhys Evans", "repair.north@demo.dampwatch.example", "North team"),
    ("repair", "Sam Patel", "repair.south@demo.dampwatch.example", "South team"),
)


def seed_demo_staff(session: Session) -> list[tuple[str, str, str]]:
    """Make (or refresh) the demo's teams and staff; return ``(role, email, password)`` for each sign-in."""
    teams = {}
    for name, capacity in DEMO_TEAMS:
        team = session.scalar(select(Team).where(Team.name == name))
        teams[name] = team or save_team(session, None, name=name, daily_capacity=capacity, districts="",
                                        actor=ACTOR)
    sign_ins = []
    for role, name, email, team_name in DEMO_STAFF:
        password = new_password()
        team_id = teams[team_name].id if team_name else None
        user = find_user(session, email)
        if user is None:
            create_user(session, email=email, name=name, role=role, team_id=team_id, password=password, actor=ACTOR)
        else:
            user.role, user.team_id = role, team_id
            set_active(session, user, True, actor=ACTOR)
            reset_password(session, user, actor=ACTOR, password=password)
        sign_ins.append((role, email, password))
    logger.info("demo staff ready: %d sign-ins, teams %s", len(sign_ins), ", ".join(teams))
    return sign_ins
