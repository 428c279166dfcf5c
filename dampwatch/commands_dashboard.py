"""The commands for serve and users (the dashboard); ``dampwatch/cli.py`` registers ``COMMANDS``."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
