"""The command-line tests (``dampwatch/``): one file per command module, each with its own ``context`` fixture.

They reuse the boxes' fixtures: the alert tests' settings and SMTP server (function-scoped, so importing them
here is the same as using them there); the session-scoped estates and app database come from
``tests/session_fixtures.py`` for every folder.
"""

from tests.alerts.conftest import alert_settings, smtp_server

__all__ = ["alert_settings", "smtp_server"]
