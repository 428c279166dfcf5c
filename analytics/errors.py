"""Exception types of the analytics box."""

from __future__ import annotations

from core.errors import DampWatchError

__all__ = ["AnalyticsError", "ModelError", "OutcomesError", "WeatherError"]


class AnalyticsError(DampWatchError):
    """Risk could not be computed; the message says why and how to fix it."""


class OutcomesError(AnalyticsError):
    """An inspection outcomes or truth file is missing columns or holds unusable rows."""


class ModelError(AnalyticsError):
    """A trained model cannot be trained, saved, loaded or trusted."""


class WeatherError(AnalyticsError):
    """A weather file cannot be imported."""
