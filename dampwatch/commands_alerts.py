"""The commands for alerts run, outbox deliver and tenants import (alerts); ``dampwatch/cli.py`` registers ``COMMANDS``."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
