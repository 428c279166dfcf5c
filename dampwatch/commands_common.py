"""What every command module shares: the two consoles, the decorator that hands a command the Context, the
progress bar every long job shows, and how imports report rejected rows.

The command modules import ``dampwatch.cli`` only inside functions (``cli.py`` imports them to register
their commands), so ``pass_context`` looks the Context class up when a command runs.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: Progress, notes and errors (standard error); results go to ``out`` (standard output).
console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def pass_context(function: Callable) -> Callable:
    """``click.make_pass_decorator(dampwatch.cli.Context)``, with the class looked up when the command runs."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        from dampwatch.cli import Context

        return click.make_pass_decorator(Context)(function)(*args, **kwargs)

    return run


def progress_bar(transient: bool = False) -> Progress:
    """The progress bar every long job shows."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal and not _force_progress(),
    )


def _force_progress() -> bool:
    import os

    return os.environ.get("DAMPWATCH_PROGRESS", "") == "1"


def print_row_errors(errors: list) -> None:
    if not errors:
        return
    console.print(f"[yellow]{len(errors)} row(s) were not imported; fix them and import again:[/]")
    for error in errors[:50]:
        console.print(f"  {error}")
    if len(errors) > 50:
        console.print(f"  … and {len(errors) - 50} more")


def exit_if_rejected(rejected: int, allow_errors: bool, summary: list[tuple[str, int]] | None = None) -> None:
    """Exit 1 when rows were rejected, unless the user accepts a partial import."""
    if not rejected:
        return
    for reason, count in summary or []:
        console.print(f"  {count} x {reason}")
    if allow_errors:
        console.print(f"[yellow]{rejected} row(s) rejected; the rest were imported (--allow-errors).[/]")
        return
    console.print(f"[red]{rejected} row(s) rejected: exit status 1.[/] Fix them and import again (importing is "
                  "safe to repeat), or pass --allow-errors to accept a partial import.")
    raise SystemExit(1)
