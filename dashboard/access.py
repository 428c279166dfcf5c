"""Which homes each person may reach: the one rule, as a query scope every view applies.

The access decorators in :mod:`dashboard.auth` decide whether a role may use a route at all; this module
decides *which rows* it may see there. It is the only place the rule is written:

* housing officers, managers and admins: every home;
* a repair team member: only homes where their team has an inspection that is not cancelled (a member
  without a team: none);
* a tenant: only their own home.

Cases, alarms, inspections, findings and evidence packs belong to a home, so each is scoped through its
UPRN: :func:`scope` adds the condition to a query on any of them, and :func:`may_see_home` answers for one
home. A row out of scope is answered with 404 (not 403), so ids that count up tell a curious user nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort
from sqlalchemy import Select, false, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.model import Case, Finding, Inspection, Property, Tenant
from core.model_alerts import Alarm

#: Roles that see every home.
ESTATE_WIDE_ROLES = ("officer", "manager", "admin")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a member of staff (``role``, ``team_id``) or a tenant (``tenant_id``)."""

    role: str
    team_id: int | None = None
    tenant_id: int | None = None

    @classmethod
    def of_user(cls, user: Any) -> Viewer:
        """The viewer for a signed-in member of staff (``current_user`` or ``g.api_user``)."""
        return cls(user.role, getattr(user, "team_id", None))

    @classmethod
    def of_tenant(cls, tenant_id: int) -> Viewer:
        return cls("tenant", tenant_id=tenant_id)


def home_condition(viewer: Viewer, uprn_column: Any) -> ColumnElement[bool]:
    """The SQL condition "``uprn_column`` is a home ``viewer`` may see"."""
    if viewer.role in ESTATE_WIDE_ROLES:
        return true()
    if viewer.role == "repair":
        if viewer.team_id is None:
            return false()
        team_homes = select(Inspection.uprn).where(Inspection.team_id == viewer.team_id,
                                                   Inspection.status != "cancelled")
        return uprn_column.in_(team_homes)
    if viewer.role == "tenant" and viewer.tenant_id is not None:
        return uprn_column.in_(select(Tenant.uprn).where(Tenant.id == viewer.tenant_id))
    return false()


def _uprn_column(entity: Any) -> Any:
    if entity is Finding:
        return select(Inspection.uprn).where(Inspection.id == Finding.inspection_id).scalar_subquery()
    if entity in (Case, Alarm, Inspection, Property):
        return entity.uprn
    raise TypeError(f"no access rule for {entity!r}; add it to dashboard.access")


def scope(query: Select, entity: Any, viewer: Viewer) -> Select:
    """``query`` (on ``entity``: Case, Alarm, Inspection, Finding or Property) limited to what ``viewer`` may see."""
    if viewer.role in ESTATE_WIDE_ROLES:
        return query
    column = _uprn_column(entity)
    if entity is Alarm:  # an alarm about no home (an unregistered device) is for the office only
        return query.where(Alarm.uprn.is_not(None), home_condition(viewer, column))
    return query.where(home_condition(viewer, column))


def may_see_home(session: Session, viewer: Viewer, uprn: str) -> bool:
    """True when ``viewer`` may see the home ``uprn`` (whether or not it exists)."""
    if viewer.role in ESTATE_WIDE_ROLES:
        return True
    query = select(Property.uprn).where(Property.uprn == uprn)
    return session.scalar(query.where(home_condition(viewer, Property.uprn)).limit(1)) is not None


def get_or_404(session: Session, entity: Any, row_id: Any, viewer: Viewer) -> Any:
    """The row of ``entity`` with primary key ``row_id`` if ``viewer`` may see it; 404 otherwise."""
    primary_key = entity.__mapper__.primary_key[0]
    row = session.scalars(scope(select(entity).where(primary_key == row_id), entity, viewer)).first()
    if row is None:
        abort(404)
    return row


def current_viewer() -> Viewer:
    """The viewer of this request: the API token's owner, the signed-in member of staff or the tenant."""
    from flask import g
    from flask_login import current_user

    from dashboard.auth import current_tenant_id

    api_user = g.get("api_user")
    if api_user is not None:
        return Viewer.of_user(api_user)
    if current_user and current_user.is_authenticated:
        return Viewer.of_user(current_user)
    tenant_id = current_tenant_id()
    if tenant_id is not None:
        return Viewer.of_tenant(tenant_id)
    return Viewer("anonymous")
