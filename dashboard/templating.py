"""Jinja for the dashboard: strict about our own templates, lenient inside GOV.UK Frontend's.

``StrictUndefined`` turns a misspelt variable in our templates into an error instead of a blank on the page.
govuk-frontend-jinja's templates, though, are ports of Nunjucks templates that test optional parameters by
truthiness (``{% if params.hint %}``) and would fail under it. :class:`DampWatchUndefined` is strict unless
the template using the undefined value is one of GOV.UK Frontend's (found from the calling frame's file).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
from jinja2 import Undefined

LONDON = ZoneInfo("Europe/London")
#: Frames in these files are Jinja's and MarkupSafe's machinery, not a template.
_MACHINERY = (str(Path(jinja2.__file__).parent), str(Path(markupsafe.__file__).parent), __file__)
_LENIENT_PACKAGES = ("govuk_frontend_jinja", "govuk_frontend_wtf")


def _in_govuk_template() -> bool:
    """True when the nearest template frame on the stack belongs to a GOV.UK Frontend package."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(12):
        if frame is None:
            return False
        filename = frame.f_code.co_filename
        if not filename.startswith(_MACHINERY):
            return any(f"{package}/templates" in filename for package in _LENIENT_PACKAGES)
        frame = frame.f_back
    return False


class DampWatchUndefined(Undefined):
    """``StrictUndefined`` in our templates; blank, falsy and chainable in GOV.UK Frontend's.

    It derives from ``Undefined``, not ``StrictUndefined``: it replaces every method ``StrictUndefined``
    changes and, outside GOV.UK templates, fails the same way (``_fail_with_undefined_error``).
    ``StrictUndefined`` binds those methods to that never-returning function, so a type checker rejects
    any override of them that can return.
    """

    __slots__ = ()

    def __str__(self) -> str:
        if _in_govuk_template():
            return ""
        return self._fail_with_undefined_error()

    def __iter__(self):
        if _in_govuk_template():
            return iter(())
        return self._fail_with_undefined_error()

    def __bool__(self) -> bool:
        if _in_govuk_template():
            return False
        return self._fail_with_undefined_error()

    def __len__(self) -> int:
        if _in_govuk_template():
            return 0
        return self._fail_with_undefined_error()

    def __eq__(self, other: object) -> bool:
        if _in_govuk_template():
            return isinstance(other, Undefined)
        return self._fail_with_undefined_error()

    def __ne__(self, other: object) -> bool:
        if _in_govuk_template():
            return not isinstance(other, Undefined)
        return self._fail_with_undefined_error()

    def __hash__(self) -> int:
        return id(type(self))

    def __contains__(self, item: object) -> bool:
        if _in_govuk_template():
            return False
        return self._fail_with_undefined_error()

    def __getattr__(self, name: str):
        if name[:2] == "__":
            raise AttributeError(name)
        if _in_govuk_template():
            return self
        return self._fail_with_undefined_error()

    def __getitem__(self, key: object):
        if _in_govuk_template():
            return self
        return self._fail_with_undefined_error()


def _as_london(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:  # stored times are UTC; a naive one is taken as UTC
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(LONDON)
    except OverflowError:  # the first or last hours of the calendar (a typo saved before years were checked)
        return value.astimezone(dt.UTC)


def london_datetime(value: dt.datetime | None) -> str:
    """A UTC time as people in England read it: ``14 March 2026 at 9:05am`` (Europe/London)."""
    if value is None:
        return ""
    local = _as_london(value)
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%B %Y} at {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def london_date(value: dt.datetime | dt.date | None) -> str:
    """A UTC time's date in London (or a date as it is): ``14 March 2026``."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = _as_london(value).date()
    return f"{value.day} {value:%B %Y}"
