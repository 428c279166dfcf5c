"""What every command module shares: the two consoles and the decorator that hands a command the Context.

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
