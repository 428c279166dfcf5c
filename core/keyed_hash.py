"""Keyed hashes of secrets and personal data kept at rest: HMAC-SHA256 under the app's secret key.

A plain SHA-256 of a sign-in link token, a calendar token or a tenant's email address can be checked against
a guess by anyone who reads the database or a backup (email addresses and mobile numbers are few enough to
try them all). An HMAC under the app secret cannot be, without the secret too. Each use passes its own
``purpose`` so a hash made for one thing never matches one made for another.

The secret is ``DAMPWATCH_WEB_SECRET_KEY`` (or its ``_FILE``), else the key kept in ``<var_dir>/secret_key``
(made on first use, mode 0600), the same key that signs the dashboard's sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.settings import Settings

logger = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret_key"


def stored_secret_key(var_dir: Path) -> str:
    """The key kept in ``<var_dir>/secret_key`` (mode 0600), made on first use so restarts keep it."""
    path = Path(var_dir) / SECRET_KEY_FILE
    Path(var_dir).mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        raise ConfigError(f"{path} is empty; delete it to make a new key or set DAMPWATCH_WEB_SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    logger.info("made a new secret key in %s", path)
    return key


def app_secret(settings: Settings) -> str:
    """The app's secret key: the setting, or the one kept in the var folder."""
    return settings.web_secret_key or stored_secret_key(Path(settings.var_dir))


def keyed_hash(secret: str, purpose: str, text: str) -> str:
    """HMAC-SHA256 of ``text`` under ``secret`` for ``purpose``, in hex (64 characters)."""
    key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def settings_hash(settings: Settings, purpose: str, text: str) -> str:
    """:func:`keyed_hash` under the secret of ``settings``."""
    return keyed_hash(app_secret(settings), purpose, text)
