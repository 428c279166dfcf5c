"""The commands for schedule (cases and inspections); ``dampwatch/cli.py`` registers ``COMMANDS``."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
