"""What the dashboard's views share about WTForms forms."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def required(data: T | None) -> T:
    """The data of a required field (``InputRequired``, ``DataRequired``, ``DateRequired``) of a validated form.

    WTForms types every field's data as possibly None (the field was not in the request, or did not parse); a
    required field's validator stops such a form at ``validate_on_submit``, so a view past it has a value.
    """
    if data is None:
        raise ValueError("a required form field has no data: validate the form first")
    return data
