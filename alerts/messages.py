"""Tenant advice and staff words from the templates, and the rules for sending to a tenant.

Which message
-------------
A home's alarm picks a message type by the cause the analytics found (:data:`CAUSE_MESSAGES`): poor
ventilation → ``ventilation``, high moisture load → ``moisture_load``, under-heating → ``under_heating``
(with signposting to help with energy costs), a leak → ``possible_leak``, a cold wall →
``damp_risk``; a silent sensor → ``sensor_silent``. Each message says what we are doing: a booked
visit (with its date), an open case, or neither yet (the ``doing_*`` keys).

Whether, when and how
---------------------
:func:`notify_tenants` writes one outbox row per tenant of the home, each of which is either pending or
**suppressed with its reason** (so staff can see why a tenant heard nothing):

* no consent → suppressed ("no consent");
* channel ``none`` → suppressed; ``letter`` → the letter queue (printed and posted; quiet hours do not
  apply); ``sms``/``email`` without a number/address → suppressed;
* a message of the same type went to the home within ``DAMPWATCH_ALERTS_RATE_LIMIT_DAYS`` → suppressed
  ("rate limit");
* inside the tenant's quiet hours (default ``DAMPWATCH_ALERTS_QUIET_HOURS``, 21:00-08:00 Europe/London)
  → pending, held until they end (``not_before``);
* the dedup key (tenant, event, type) makes the same event never produce a second message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import string
import tomllib
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.outbox import ACTIVE_STATUSES, enqueue
from core.causes import CAUSE_TABLE
from core.errors import ConfigError, DampWatchError
from core.model import Case, Inspection, Property, Tenant
from core.model_alerts import OutboxMessage

logger = logging.getLogger(__name__)

TEMPLATES_DIR: Final = Path(__file__).with_name("templates")
TENANT_TEMPLATES_DIR: Final = TEMPLATES_DIR / "tenant"
TEMPLATES_SCHEMA_VERSION: Final = 1
DEFAULT_LANGUAGE: Final = "en"
LONDON: Final = ZoneInfo("Europe/London")

MESSAGE_TYPES: Final = (
    "ventilation", "moisture_load", "under_heating", "possible_leak", "damp_risk", "sensor_silent", "sign_in_link",
)
ADVICE_KEYS: Final = ("subject", "body", "sms", "doing_case", "doing_visit", "doing_none")
CAUSE_MESSAGES: Final = {row.code: row.tenant_message for row in CAUSE_TABLE}  # the one cause table
#: The tenant pages' sign-in address, put in messages as $link (the dashboard serves it).
TENANT_SIGN_IN_PATH: Final = "/tenant/sign-in"


class TemplateError(DampWatchError):
    """A template is missing, malformed, or lacks a value for a placeholder."""


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A message in one language: the email/letter subject and body, and the text message."""

    language: str
    subject: str
    body: str
    sms: str


def _load(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"the template file {path} cannot be read: {exc}") from exc
    if data.get("schema_version") != TEMPLATES_SCHEMA_VERSION:
        raise TemplateError(f"{path} is template schema version {data.get('schema_version')!r}; this DampWatch "
                            f"reads version {TEMPLATES_SCHEMA_VERSION}")
    return data


def languages() -> list[str]:
    """Codes of the languages with a tenant template file (``en``, ``cy``, ...)."""
    return sorted(path.stem for path in TENANT_TEMPLATES_DIR.glob("*.toml"))


@functools.cache
def tenant_templates(language: str) -> dict[str, Any]:
    """The tenant templates of ``language`` (cached); English when the language has no file."""
    path = TENANT_TEMPLATES_DIR / f"{language}.toml"
    if language not in languages():
        if language != DEFAULT_LANGUAGE:
            logger.warning("no tenant templates for language %r; using English (add %s)", language, path)
        return _load(TENANT_TEMPLATES_DIR / f"{DEFAULT_LANGUAGE}.toml")
    return _load(path)


@functools.cache
def staff_templates() -> dict[str, Any]:
    """The staff templates (cached)."""
    return _load(TEMPLATES_DIR / "staff.toml")


def fill(text: str, key: str, **values: Any) -> str:
    """Fill ``$name`` placeholders; a missing value is an error, never a blank."""
    try:
        return string.Template(text).substitute(values)
    except (KeyError, ValueError) as exc:
        raise TemplateError(f"template {key!r} needs a value for {exc}") from exc


def staff_text(key: str, **values: Any) -> str:
    """A staff template ``section.name`` filled in."""
    section, _, name = key.partition(".")
    try:
        text = staff_templates()[section][name]
    except KeyError:
        raise TemplateError(f"the staff templates have no {key!r}") from None
    return fill(text, key, **values)


def rule_name(rule: str) -> str:
    """A rule's name for people ("Sensor silent")."""
    return staff_templates()["rule_names"].get(rule, rule.replace("_", " ").capitalize())


def format_date(day: dt.date, language: str, *, visit: bool = False) -> str:
    """A date in the tenant's language: "on Tuesday 3 March" (``visit``) or "3 March"."""
    calendar = tenant_templates(language)["calendar"]
    values = {"weekday": calendar["visit_days"][day.weekday()], "day": day.day,
              "month": calendar["months"][day.month - 1]}
    return fill(calendar["visit_date" if visit else "date"], "calendar", **values)


def room_phrase(room_type: str | None, language: str) -> str:
    """ "in the bathroom" (by room type, never the room's readings) in the tenant's language."""
    rooms = tenant_templates(language)["rooms"]
    return rooms.get(room_type or "home", rooms["other"] if room_type else rooms["home"])


def render(message_type: str, language: str, *, doing: str | None = None, visit_date: dt.date | None = None,
           room_type: str | None = None, **values: Any) -> Rendered:
    """Render a tenant message in ``language`` (English if there is no file for it).

    ``doing`` is ``"case"``, ``"visit"`` (with ``visit_date``) or ``"none"`` for message types that say
    what we are doing; ``room_type`` fills ``$in_room``; ``values`` fill the rest (``name``, ``link``,
    ``last_seen``, ``minutes``).
    """
    data = tenant_templates(language)
    used = language if language in languages() else DEFAULT_LANGUAGE
    try:
        section = data[message_type]
    except KeyError:
        raise TemplateError(f"no tenant template {message_type!r} in {used}.toml") from None
    values = dict(values)
    values["in_room"] = room_phrase(room_type, used)
    if visit_date is not None:
        values["visit_date"] = format_date(visit_date, used, visit=True)
    if isinstance(values.get("last_seen"), dt.date):
        values["last_seen"] = format_date(values["last_seen"], used)
    if doing is not None:
        values["doing"] = fill(section[f"doing_{doing}"], f"{message_type}.doing_{doing}", **values)
    return Rendered(
        language=used,
        subject=fill(section["subject"], f"{message_type}.subject", **values),
        body=fill(section["body"], f"{message_type}.body", **values),
        sms=fill(section["sms"], f"{message_type}.sms", **values),
    )


# -- quiet hours --------------------------------------------------------------------------------------------


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time]:
    """``"21:00-08:00"`` → (21:00, 08:00); ``ConfigError`` if malformed."""
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError as exc:
        raise ConfigError(f"quiet hours {text!r} must look like 21:00-08:00") from exc
    return start, end


def quiet_hours_for(tenant: Tenant, default: str) -> tuple[dt.time, dt.time] | None:
    """The tenant's quiet hours, else the default; None when start equals end (no quiet hours)."""
    if tenant.quiet_hours_start and tenant.quiet_hours_end:
        start, end = parse_quiet_hours(f"{tenant.quiet_hours_start}-{tenant.quiet_hours_end}")
    else:
        start, end = parse_quiet_hours(default)
    return None if start == end else (start, end)


def quiet_until(now: dt.datetime, quiet: tuple[dt.time, dt.time] | None) -> dt.datetime | None:
    """When the quiet hours around ``now`` end (UTC), or None when ``now`` is not in them."""
    if quiet is None:
        return None
    start, end = quiet
    local = now.astimezone(LONDON)
    clock = local.time().replace(tzinfo=None)
    if start < end:  # e.g. 13:00-14:00 within one day
        inside = start <= clock < end
        end_day = local.date()
    else:  # across midnight, e.g. 21:00-08:00
        inside = clock >= start or clock < end
        end_day = local.date() + dt.timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return dt.datetime.combine(end_day, end, tzinfo=LONDON).astimezone(dt.UTC)


# -- sending to tenants ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Action:
    """What we are doing at a home, for the ``doing_*`` sentence: ``visit`` (with a date), ``case`` or ``none``."""

    kind: str
    case: Case | None = None
    visit_date: dt.date | None = None


def current_action(session: Session, uprn: str, now: dt.datetime) -> Action:
    """A booked visit of the home's open case, else the open case, else nothing yet."""
    from core.cases import find_open_case

    case = find_open_case(session, uprn)
    if case is None:
        return Action("none")
    today = now.astimezone(LONDON).date()
    visit = session.scalars(
        select(Inspection).where(Inspection.case_id == case.id, Inspection.status == "scheduled",
                                 Inspection.scheduled_for >= today).order_by(Inspection.scheduled_for).limit(1)
    ).first()
    if visit is not None:
        return Action("visit", case, visit.scheduled_for)
    return Action("case", case)


def _recently_sent(session: Session, uprn: str, message_type: str, event_key: str, since: dt.datetime) -> OutboxMessage | None:
    """A message of this type to this home since ``since`` for another event (pending or sent)."""
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.uprn == uprn, OutboxMessage.message_type == message_type,
            OutboxMessage.status.in_(ACTIVE_STATUSES), OutboxMessage.created_at >= since,
            OutboxMessage.tenant_id.is_not(None),
        ).order_by(OutboxMessage.created_at)
    ).all()
    for row in rows:
        if not row.dedup_key.endswith(f"|{event_key}"):
            return row
    return None


def tenant_link(settings) -> str:
    """The address a tenant asks for a sign-in link at."""
    return settings.web_public_url.rstrip("/") + TENANT_SIGN_IN_PATH


def notify_tenants(
    session: Session,
    settings,
    *,
    uprn: str,
    message_type: str,
    event_key: str,
    now: dt.datetime,
    room_type: str | None = None,
    alarm_id: int | None = None,
    values: dict[str, Any] | None = None,
) -> list[OutboxMessage]:
    """Write a message of ``message_type`` to every tenant of a home, honouring their preferences.

    ``event_key`` names what caused it (``alarm:12``): with the tenant and type it makes the dedup key.
    Returns the outbox rows (new or already there), pending or suppressed with their reason.
    """
    home = session.get(Property, uprn)
    if home is None:
        return []
    action = current_action(session, uprn, now)
    rate_since = now - dt.timedelta(days=settings.alerts_rate_limit_days)
    out = []
    for tenant in session.scalars(select(Tenant).where(Tenant.uprn == uprn).order_by(Tenant.id)):
        dedup_key = f"tenant:{tenant.id}:{message_type}|{event_key}"
        rendered = render(message_type, tenant.language or DEFAULT_LANGUAGE, doing=action.kind,
                          visit_date=action.visit_date, room_type=room_type, name=tenant.name,
                          link=tenant_link(settings), **(values or {}))
        channel, recipient, reason = _route(tenant, home)
        status, not_before = "pending", None
        if reason is None and settings.alerts_rate_limit_days > 0:
            earlier = _recently_sent(session, uprn, message_type, event_key, rate_since)
            if earlier is not None:
                reason = (f"rate limit: a {message_type} message went to this home on "
                          f"{earlier.created_at.astimezone(LONDON):%d %b %Y %H:%M}")
        if reason is not None:
            status = "suppressed"
        elif channel in ("sms", "email"):
            not_before = quiet_until(now, quiet_hours_for(tenant, settings.alerts_quiet_hours))
        message, _new = enqueue(
            session, channel=channel or "none", recipient=recipient or "", message_type=message_type,
            language=rendered.language, subject=rendered.subject,
            body=rendered.sms if channel == "sms" else rendered.body, dedup_key=dedup_key, tenant_id=tenant.id,
            uprn=uprn, alarm_id=alarm_id, case_id=action.case.id if action.case else None, not_before=not_before,
            status=status, reason=reason, now=now,
        )
        out.append(message)
    return out


def _route(tenant: Tenant, home: Property) -> tuple[str | None, str | None, str | None]:
    """(channel, recipient, reason to suppress) for a tenant's preferences."""
    channel = tenant.preferred_channel or "none"
    if not tenant.consent:
        return (channel if channel != "none" else None), None, "no consent to be contacted"
    if channel == "none":
        return None, None, "the tenant asked for no messages"
    if channel == "email":
        return ("email", tenant.email, None) if tenant.email else ("email", None, "no email address")
    if channel == "sms":
        return ("sms", tenant.phone, None) if tenant.phone else ("sms", None, "no mobile number")
    if channel == "letter":
        return "letter", f"{tenant.name}\n{home.address}\n{home.postcode}", None
    return None, None, f"unknown channel {channel!r}"


def send_sign_in_link(session: Session, settings, tenant: Tenant, link: str, *, now: dt.datetime,
                      token_id: int) -> OutboxMessage | None:
    """Write a one-time sign-in link to the outbox for a tenant who asked for one.

    The tenant asked for it just now, so quiet hours and the advice rate limit do not apply; it goes
    by email when we have an address, else by text message. None when we have neither.
    """
    if tenant.email:
        channel, recipient = "email", tenant.email
    elif tenant.phone:
        channel, recipient = "sms", tenant.phone
    else:
        return None
    rendered = render("sign_in_link", tenant.language or DEFAULT_LANGUAGE, name=tenant.name, link=link,
                      minutes=settings.tenant_link_minutes)
    message, _ = enqueue(
        session, channel=channel, recipient=recipient, message_type="sign_in_link", language=rendered.language,
        subject=rendered.subject, body=rendered.sms if channel == "sms" else rendered.body,
        dedup_key=f"tenant:{tenant.id}:sign_in_link|token:{token_id}", tenant_id=None, uprn=tenant.uprn, now=now,
    )
    return message
