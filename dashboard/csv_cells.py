"""CSV cells a spreadsheet will not run as formulas: one rule for every CSV the dashboard writes.

Excel, LibreOffice and Google Sheets treat a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return before one) as a formula, so text a tenant or officer typed ("=HYPERLINK(...)") could run on
the machine of whoever opens the download. Following OWASP's CSV injection advice, such a text cell is
written with a leading apostrophe, which the spreadsheet shows as text. Numbers are left alone.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> Any:
    """``value``, with an apostrophe before a text cell a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: list[Any]) -> list[Any]:
    """Every cell of ``row`` through :func:`safe_cell`."""
    return [safe_cell(value) for value in row]
