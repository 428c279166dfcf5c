"""Exception types the simulator raises on purpose."""

from __future__ import annotations

from core.errors import DampWatchError


class SimulatorError(DampWatchError):
    """The simulator was asked for something it cannot do; the message says what to change."""


class PublishError(SimulatorError):
    """Publishing to the MQTT broker failed; the message gives the paho reason code."""
