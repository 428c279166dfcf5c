"""Tenants' own access: one-time sign-in links, a summary of their home, and reporting damp or mould.

A tenant asks for a link with the email address or mobile number we hold for them. Whether or not it
matches, they are told the same thing ("if we hold these details, we have sent a link"), so the page
cannot be used to find out who is a tenant. Requests are limited per contact and per IP address, counted
in the audit log (so the limits hold across restarts and server processes); the contact is recorded only
as a keyed hash (HMAC under the app secret, ``core.keyed_hash``: a plain hash of an email address can be
reversed by trying every address).

A link carries a random token (256 bits); only its keyed hash is stored, with an expiry
(``DAMPWATCH_TENANT_LINK_MINUTES``, default 30) and the time it was used. Opening the link shows a page
with a button; pressing it uses the token (one conditional UPDATE, so it works exactly once) and starts
the tenant's session. The button matters: email security scanners open links in messages, and would
otherwise use up the token before the tenant does.

What a tenant sees is their own home only, found from their session, never from the address bar: its
overall risk in kind words (no room-by-room readings), the advice we sent them, their open case with
what happens next and by when, and a form to report damp or mould, which opens a case (its Awaab's Law
clock starting now) or adds to the open one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from alerts.messages import MESSAGE_TYPES, send_sign_in_link
from alerts.tenants import normalise_mobile
from core import audit
from core.cases import add_case_event, find_open_case, next_deadline, open_case, step_clocks
from core.errors import ValidationError
from core.keyed_hash import settings_hash
from core.model import AuditEvent, Case, PropertyRisk, Room, ScoringRun, Tenant
from core.model_alerts import OutboxMessage, TenantLoginToken

TENANT_LINK_PATH = "/tenant/link/"
LINK_REQUEST_WINDOW = dt.timedelta(minutes=15)
MAX_LINKS_PER_CONTACT = 3
"""Links sent to one contact per window: enough for a lost email, too few to flood someone's inbox."""
MAX_REQUESTS_PER_IP = 10
"""Requests from one address per window, matching or not."""
ADVICE_TYPES = tuple(t for t in MESSAGE_TYPES if t != "sign_in_link")


def link_token_hash(settings, token: str) -> str:
    """What is stored of a sign-in link's token: its keyed hash."""
    return settings_hash(settings, "tenant-link-token", token or "")


def contact_hash(settings, contact: str) -> str:
    """How the audit log names a contact someone asked a link for: a keyed hash of it, normalised."""
    return settings_hash(settings, "tenant-contact", normalise_contact(contact) or contact)


def normalise_contact(contact: str) -> str | None:
    """An email address (lower case) or a UK mobile number (07...); None if it is neither."""
    text = (contact or "").strip()
    if "@" in text:
        return text.lower()
    try:
        return normalise_mobile(text)
    except ValidationError:
        return None


def find_tenants(session: Session, contact: str) -> list[Tenant]:
    """Tenants whose email (any case) or mobile number is ``contact``."""
    key = normalise_contact(contact)
    if key is None:
        return []
    if "@" in key:
        return list(session.scalars(select(Tenant).where(func.lower(Tenant.email) == key).order_by(Tenant.id)))
    found = []
    for tenant in session.scalars(select(Tenant).where(Tenant.phone.is_not(None)).order_by(Tenant.id)):
        try:
            if tenant.phone is not None and normalise_mobile(tenant.phone) == key:
                found.append(tenant)
        except ValidationError:
            continue
    return found


def link_request_allowed(session: Session, settings, contact: str, ip: str | None,
                         now: dt.datetime) -> tuple[bool, bool]:
    """(this IP may ask, a link may go to this contact) within the rate limits."""
    since = now - LINK_REQUEST_WINDOW
    base = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "tenant.link_requested",
                                                                AuditEvent.at > since)
    by_ip = (session.scalar(base.where(AuditEvent.ip == ip)) or 0) if ip else 0  # COUNT(*) always has a row
    by_contact = session.scalar(base.where(AuditEvent.object_id == contact_hash(settings, contact))) or 0
    return by_ip < MAX_REQUESTS_PER_IP, by_contact < MAX_LINKS_PER_CONTACT


def request_link(session: Session, settings, contact: str, *, ip: str | None, now: dt.datetime) -> int:
    """Send a sign-in link to each tenant with this contact, within the limits; returns how many were sent.

    Callers show the same page whatever this returns.
    """
    _ip_ok, contact_ok = link_request_allowed(session, settings, contact, ip, now)
    tenants = find_tenants(session, contact) if contact_ok else []
    audit.record(session, "anonymous", "tenant.link_requested", "contact",
                 contact_hash(settings, contact), ip=ip, matched=bool(tenants),
                 limited=not contact_ok)
    sent = 0
    for tenant in tenants:
        token = secrets.token_urlsafe(32)
        row = TenantLoginToken(tenant_id=tenant.id, token_sha256=link_token_hash(settings, token), created_at=now,
                               expires_at=now + dt.timedelta(minutes=settings.tenant_link_minutes))
        session.add(row)
        session.flush()
        link = settings.web_public_url.rstrip("/") + TENANT_LINK_PATH + token
        if send_sign_in_link(session, settings, tenant, link, now=now, token_id=row.id) is not None:
            sent += 1
    return sent


def valid_token(session: Session, settings, token: str, now: dt.datetime) -> TenantLoginToken | None:
    """The unused, unexpired token row for ``token``, or None."""
    digest = link_token_hash(settings, token)
    row = session.scalar(select(TenantLoginToken).where(TenantLoginToken.token_sha256 == digest))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def use_token(session: Session, settings, token: str, now: dt.datetime) -> Tenant | None:
    """Use a token (once: a conditional UPDATE); the tenant it signs in, or None if it is not valid."""
    digest = link_token_hash(settings, token)
    # An UPDATE's result is a CursorResult (with ``rowcount``); Session.execute is typed as the plain Result.
    result = cast("CursorResult[Any]", session.execute(
        update(TenantLoginToken)
        .where(TenantLoginToken.token_sha256 == digest, TenantLoginToken.used_at.is_(None),
               TenantLoginToken.expires_at > now)
        .values(used_at=now)
    ))
    if result.rowcount != 1:
        return None
    # The UPDATE has just matched this row, in this transaction; its tenant_id is a foreign key.
    row = session.scalars(select(TenantLoginToken).where(TenantLoginToken.token_sha256 == digest)).one()
    tenant = session.get_one(Tenant, row.tenant_id)
    audit.record(session, f"tenant:{tenant.id}", "tenant.signed_in", "tenant", tenant.id)
    return tenant


# -- what the tenant sees ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HomeSummary:
    """A tenant's view of their home: nothing room by room, nothing of anyone else's."""

    address: str
    postcode: str
    band: str | None  # low, medium, high, critical, insufficient data; None before any scoring
    checked_at: dt.datetime | None
    advice: list[OutboxMessage]
    case: Case | None
    next_step: object | None  # core.cases.StepClock
    rooms: list[str]


def home_summary(session: Session, tenant: Tenant, now: dt.datetime) -> HomeSummary:
    """The summary of the tenant's own home."""
    home = tenant.property
    latest = session.execute(
        select(PropertyRisk.band, ScoringRun.scored_until).join(ScoringRun, ScoringRun.id == PropertyRisk.run_id)
        .where(PropertyRisk.uprn == home.uprn, ScoringRun.finished_at.is_not(None))
        .order_by(ScoringRun.scored_until.desc(), ScoringRun.id.desc()).limit(1)
    ).first()
    advice = list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.tenant_id == tenant.id, OutboxMessage.status == "sent",
                                    OutboxMessage.message_type.in_(ADVICE_TYPES))
        .order_by(OutboxMessage.sent_at.desc()).limit(10)))
    case = find_open_case(session, home.uprn)
    next_step = None
    if case is not None:
        clocks = [c for c in step_clocks(case, now) if c.state != "waiting"]
        next_step = next_deadline(case, now) or (clocks[0] if clocks else None)
    rooms = list(session.scalars(select(Room.name).where(Room.uprn == home.uprn, Room.room_type != "outdoor")
                                 .order_by(Room.name)))
    return HomeSummary(home.address, home.postcode, latest.band if latest else None,
                       latest.scored_until if latest else None, advice, case, next_step, rooms)


def report_problem(session: Session, tenant: Tenant, *, where: str, description: str, now: dt.datetime,
                   ip: str | None = None, settings=None) -> tuple[Case, bool]:
    """A tenant reports damp or mould: open a case (aware now, source tenant_report) or add to the open one.

    Returns the case and whether it was opened by this report. A new case is also sent to the housing
    management system's webhook when one is configured.
    """
    actor = f"tenant:{tenant.id}"
    summary = f"Reported by the tenant ({tenant.name}). Where: {where or 'not said'}. {description}".strip()
    case = find_open_case(session, tenant.uprn)
    if case is not None:
        add_case_event(session, case, "tenant_report", actor, summary, at=now, where=where)
        audit.record(session, actor, "case.tenant_report_added", "case", case.id, ip=ip)
        return case, False
    room_id = session.scalar(select(Room.id).where(Room.uprn == tenant.uprn, Room.name == where)) if where else None
    case = open_case(session, uprn=tenant.uprn, aware_at=now, source="tenant_report", actor=actor,
                     room_id=room_id, summary=summary)
    if settings is not None:
        from alerts.alarms import send_event

        send_event(session, settings, "case.opened", f"case.opened:{case.id}", now=now, case=case)
    return case, True
