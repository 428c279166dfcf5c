"""Exception types shared by every DampWatch box."""

from __future__ import annotations


class DampWatchError(Exception):
    """Base of every error DampWatch raises on purpose."""


class ConfigError(DampWatchError):
    """A setting is missing or wrong; the message says how to fix it."""


class ValidationError(DampWatchError):
    """Input data (a CSV row, an identifier) is not acceptable."""


class StoreError(DampWatchError):
    """The readings store could not complete an operation."""
