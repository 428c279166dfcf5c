"""Files that hold secrets or personal data are readable by their owner only (mode 0600).

SQLite makes a database file with the process's umask (often 0644: readable by every local user) and gives
its ``-wal`` and ``-shm`` files the database file's mode. Creating the file ourselves with 0600 before SQLite
opens it, and narrowing an existing one, keeps tenants' contacts and health notes from other local accounts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
#: SQLite's companion files, which take the database file's mode when made but keep theirs afterwards.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_file(path: str | os.PathLike[str]) -> Path:
    """Make ``path`` (and its folder) if missing, with mode 0600; narrow it to 0600 if others may read it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            try:
                candidate.chmod(mode & 0o700)
            except PermissionError:
                logger.warning("%s can be read by other users (mode %o) and is not ours to change; "
                               "run 'chmod 600 %s'", candidate, mode, candidate)
            else:
                logger.info("made %s readable by its owner only (was mode %o)", candidate, mode)
    return path
