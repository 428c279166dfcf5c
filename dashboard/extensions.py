"""The dashboard's extensions and the parts every view needs, bound to the app by ``create_app``.

Extensions are module-level objects bound with ``init_app`` (one app factory, many apps in tests). Views
reach the app database, the readings store and the settings through the getters below rather than through
globals, so each test's app has its own.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from core.db import Database
from core.settings import Settings

csrf = CSRFProtect()
login_manager = LoginManager()

#: The key under ``app.extensions`` holding DampWatch's own parts.
EXTENSION_KEY = "dampwatch"


class AppParts:
    """The settings, app database and (opened on first use) readings store of one dashboard app."""

    def __init__(self, settings: Settings, database: Database, store: Any | None) -> None:
        self.settings = settings
        self.database = database
        self._store = store
        self._store_lock = threading.Lock()

    @property
    def store(self) -> Any:
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    from core.readings import open_store

                    self._store = open_store(self.settings.readings_url)
        return self._store


def _parts() -> AppParts:
    return current_app.extensions[EXTENSION_KEY]


def get_database() -> Database:
    """The app database (``with get_database().session() as session: ...``)."""
    return _parts().database


def get_store() -> Any:
    """The readings store (hourly aggregates per device); opened on first use."""
    return _parts().store


def get_settings() -> Settings:
    """The settings the app was made with."""
    return _parts().settings
