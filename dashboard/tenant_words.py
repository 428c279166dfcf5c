"""The tenant pages in the tenant's language: English or Welsh (Cymraeg).

The language is, in order: the one the visitor chose with the language link on any tenant page (kept in the
session), the signed-in tenant's language on record (``Tenant.language``), else English. The words live in
``dashboard/templates/tenant/words/<language>.toml`` (the same keys in each; a test checks); templates call
``tw("key", name=value)`` and ``tdate(when)``, and set ``<html lang>`` from ``tenant_lang()``.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, request, session, url_for

from core.workdays import london_date

WORDS_DIR = Path(__file__).parent / "templates" / "tenant" / "words"
LANGUAGES = ("en", "cy")
SESSION_KEY = "tenant_lang"
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "cy": ("Ionawr", "Chwefror", "Mawrth", "Ebrill", "Mai", "Mehefin", "Gorffennaf", "Awst", "Medi", "Hydref",
           "Tachwedd", "Rhagfyr"),
}


@functools.lru_cache(maxsize=4)
def words(language: str) -> dict[str, str]:
    """The words of one language (``en`` or ``cy``)."""
    with open(WORDS_DIR / f"{language}.toml", "rb") as handle:
        return tomllib.load(handle)["words"]


def tenant_lang() -> str:
    """This request's tenant-page language."""
    if "tenant_lang" in g:
        return g.tenant_lang
    chosen = session.get(SESSION_KEY)
    language = chosen if chosen in LANGUAGES else None
    if language is None:
        from dashboard.auth import current_tenant_id

        tenant_id = current_tenant_id()
        if tenant_id is not None:
            from core.model import Tenant
            from dashboard.extensions import get_database

            with get_database().session() as db:
                tenant = db.get(Tenant, tenant_id)
                language = (tenant.language if tenant is not None else None) or "en"
    g.tenant_lang = language if language in LANGUAGES else "en"
    return g.tenant_lang


def tw(key: str, **values: Any) -> str:
    """A tenant-page phrase in this request's language, with ``$name`` placeholders filled."""
    return Template(words(tenant_lang())[key]).substitute(**values)


def tdate(value: dt.datetime | dt.date) -> str:
    """A London date in this request's language ("2 March 2026", "2 Mawrth 2026")."""
    day = london_date(value)
    return f"{day.day} {MONTHS[tenant_lang()][day.month - 1]} {day.year}"


def register(bp: Blueprint) -> None:
    """Give the tenant blueprint's templates ``tw``, ``tdate`` and ``tenant_lang``, and the language link route."""
    from dashboard.auth import public

    @bp.context_processor
    def _tenant_words() -> dict[str, Any]:
        return {"tw": tw, "tdate": tdate, "tenant_lang": tenant_lang}

    @bp.route("/language")
    @public("choosing English or Welsh for the tenant pages reveals and changes nothing but the language")
    def choose_language():
        """Switch the tenant pages to ``?lang=cy`` or ``en``, then go back to ``?next=`` (a tenant page)."""
        language = request.args.get("lang", "en")
        if language in LANGUAGES:
            session[SESSION_KEY] = language
        target = request.args.get("next") or ""
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path.startswith("/tenant/") or "\\" in target:
            target = url_for("tenant.sign_in")
        return redirect(target, code=303)
