"""Tenants' contact details, preferences and consent, imported from the council's CSV.

The file has one row per tenant::

    uprn,name,email,phone,channel,language,consent,consent_date,quiet_hours_start,quiet_hours_end

``uprn``, ``name``, ``channel`` (``email``, ``sms``, ``letter`` or ``none``) and ``consent`` (yes/no) are
required; ``email`` is required for the email channel and ``phone`` (a UK mobile number) for SMS;
``language`` defaults to ``en``; ``consent_date`` (YYYY-MM-DD) defaults to the import date when consent is
yes; quiet hours are HH:MM in Europe/London, both or neither (blank: the default 21:00-08:00). A tenant is
matched by UPRN and name (ignoring case), so importing again updates what changed. Bad rows are reported
with their line numbers (``core.assets.RowError``); good rows are imported.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.messages import languages
from core.assets import RowError
from core.errors import ValidationError
from core.model import CHANNELS, Property, Tenant, normalise_uprn, utcnow

TENANT_COLUMNS = ("uprn", "name", "email", "phone", "channel", "language", "consent", "consent_date",
                  "quiet_hours_start", "quiet_hours_end")
REQUIRED_COLUMNS = ("uprn", "name", "channel", "consent")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
TIME_PATTERN = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclasses.dataclass(frozen=True)
class TenantRow:
    """One validated row of the tenants file."""

    line: int
    uprn: str
    name: str
    email: str | None
    phone: str | None
    channel: str
    language: str
    consent: bool
    consent_at: dt.datetime | None
    quiet_hours_start: str | None
    quiet_hours_end: str | None


@dataclasses.dataclass
class TenantImportReport:
    """What an import did; ``warnings`` are rows imported with something worth knowing."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = dataclasses.field(default_factory=list)
    warnings: list[RowError] = dataclasses.field(default_factory=list)


def normalise_mobile(value: str) -> str:
    """A UK mobile number as 07xxxxxxxxx (from +44 7..., 0044 7..., spaces and dashes); ValidationError if not one."""
    digits = re.sub(r"[\s().-]", "", value)
    if digits.startswith("+44"):
        digits = "0" + digits[3:]
    elif digits.startswith("0044"):
        digits = "0" + digits[4:]
    if not re.fullmatch(r"07[0-9]{9}", digits):
        raise ValidationError(f"phone {value!r} is not a UK mobile number (for example 07700 900123)")
    return digits


def _email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(f"email {value!r} is not valid: {exc}") from None


def parse_tenant_row(line: int, row: dict[str, str]) -> TenantRow:
    """Validate one row; raise ``ValidationError`` naming the column at fault."""
    def get(name: str) -> str:
        return (row.get(name) or "").strip()

    for name in REQUIRED_COLUMNS:
        if not get(name):
            raise ValidationError(f"{name} is empty")
    uprn = normalise_uprn(get("uprn"))
    channel = get("channel").lower()
    if channel not in CHANNELS:
        raise ValidationError(f"channel {get('channel')!r} is not one of: {', '.join(CHANNELS)}")
    consent_text = get("consent").lower()
    if consent_text not in ("yes", "no", "y", "n", "true", "false", "1", "0"):
        raise ValidationError(f"consent must be yes or no, not {get('consent')!r}")
    consent = consent_text in ("yes", "y", "true", "1")
    email = _email(get("email")) if get("email") else None
    phone = normalise_mobile(get("phone")) if get("phone") else None
    if channel == "email" and email is None:
        raise ValidationError("channel is email but email is empty")
    if channel == "sms" and phone is None:
        raise ValidationError("channel is sms but phone is empty")
    language = get("language").lower() or "en"
    if not LANGUAGE_PATTERN.match(language):
        raise ValidationError(f"language {get('language')!r} is not a language code such as en or cy")
    consent_at = None
    if get("consent_date"):
        try:
            day = dt.date.fromisoformat(get("consent_date"))
        except ValueError:
            raise ValidationError(f"consent_date {get('consent_date')!r} is not a date (YYYY-MM-DD)") from None
        consent_at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    start, end = get("quiet_hours_start"), get("quiet_hours_end")
    if bool(start) != bool(end):
        raise ValidationError("give both quiet_hours_start and quiet_hours_end, or neither")
    for name, value in (("quiet_hours_start", start), ("quiet_hours_end", end)):
        if value and not TIME_PATTERN.match(value):
            raise ValidationError(f"{name} {value!r} is not a time such as 21:00")
    return TenantRow(line, uprn, get("name")[:200], email, phone, channel, language, consent, consent_at,
                     start or None, end or None)


def read_tenant_csv(path: Path) -> tuple[list[TenantRow], list[RowError]]:
    """Read and validate a tenants CSV; bad rows come back as errors, with line numbers."""
    rows: list[TenantRow] = []
    errors: list[RowError] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError(f"{path} has no column(s) {', '.join(missing)}; the header must include: "
                                  f"{', '.join(TENANT_COLUMNS)}")
        for row in reader:
            try:
                rows.append(parse_tenant_row(reader.line_num, row))
            except ValidationError as exc:
                errors.append(RowError(reader.line_num, str(exc)))
    return rows, errors


def import_tenants(session: Session, rows: list[TenantRow], *, now: dt.datetime | None = None) -> TenantImportReport:
    """Create or update tenants from validated rows; rows for unknown homes are errors."""
    now = now or utcnow()
    report = TenantImportReport()
    known = set(session.scalars(select(Property.uprn)))
    available = set(languages())
    existing: dict[tuple[str, str], Tenant] = {
        (t.uprn, t.name.casefold()): t for t in session.scalars(select(Tenant))
    }
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.uprn not in known:
            report.errors.append(RowError(row.line, f"UPRN {row.uprn} is not in the asset register; import the "
                                                    "property first ('dampwatch properties import')"))
            continue
        key = (row.uprn, row.name.casefold())
        if key in seen:
            report.errors.append(RowError(row.line, f"{row.name} at UPRN {row.uprn} is already on line {seen[key]}"))
            continue
        seen[key] = row.line
        if row.language not in available:
            report.warnings.append(RowError(row.line, f"there are no messages in {row.language!r} yet; "
                                                      "this tenant will get English until a template is added"))
        values = {"email": row.email, "phone": row.phone, "preferred_channel": row.channel,
                  "language": row.language, "consent": row.consent,
                  "quiet_hours_start": row.quiet_hours_start, "quiet_hours_end": row.quiet_hours_end}
        tenant = existing.get(key)
        if tenant is None:
            tenant = Tenant(uprn=row.uprn, name=row.name, **values,
                            consent_at=(row.consent_at or now) if row.consent else None)
            session.add(tenant)
            existing[key] = tenant
            report.created += 1
            continue
        changed = False
        for name, value in values.items():
            if getattr(tenant, name) != value:
                setattr(tenant, name, value)
                changed = True
        consent_at = (row.consent_at or tenant.consent_at or now) if row.consent else None
        if tenant.consent_at != consent_at:
            tenant.consent_at = consent_at
            changed = True
        report.updated += int(changed)
        report.unchanged += int(not changed)
    session.flush()
    return report
