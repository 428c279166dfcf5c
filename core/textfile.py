"""Opening the CSV files a council exports: plain or gzip, UTF-8 (with or without a BOM) or Windows-1252.

Excel on Windows saves "CSV" in Windows-1252 unless told otherwise, and adds a byte-order mark when told
UTF-8; loggers and scripts often gzip their exports. :func:`open_text` takes any of these and gives text,
so that every importer (asset register, readings, weather) reads them alike.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Final, TextIO

from core.errors import ValidationError

__all__ = ["GZIP_MAGIC", "TextFileInfo", "detect", "open_text"]

GZIP_MAGIC: Final = b"\x1f\x8b"
"""The first two bytes of every gzip file (RFC 1952)."""

CHUNK_BYTES: Final = 1 << 20


@dataclasses.dataclass(frozen=True)
class TextFileInfo:
    """How a file is stored: compressed or not, and its text encoding (a Python codec name)."""

    gzip: bool
    encoding: str


def _raw(path: Path, compressed: bool) -> gzip.GzipFile | io.BufferedReader:
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def detect(path: str | Path) -> TextFileInfo:
    """Whether ``path`` is gzip-compressed, and whether its text is UTF-8 (``utf-8-sig`` if it starts with a
    byte-order mark) or, failing that, Windows-1252.

    The whole file is checked, so a file that is UTF-8 except for one byte deep inside is read as
    Windows-1252 rather than failing half-way through an import.

    Raises
    ------
    ValidationError
        If the file cannot be read, or is gzip-compressed but damaged.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            compressed = handle.read(2) == GZIP_MAGIC
        with _raw(path, compressed) as raw:
            head = raw.read(3)
            bom = head == codecs.BOM_UTF8
            decoder = codecs.getincrementaldecoder("utf-8")()
            utf8 = True
            data = head[3:] if bom else head
            while True:
                try:
                    decoder.decode(data)
                except UnicodeDecodeError:
                    utf8 = False
                    break
                data = raw.read(CHUNK_BYTES)
                if not data:
                    try:
                        decoder.decode(b"", final=True)
                    except UnicodeDecodeError:
                        utf8 = False
                    break
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValidationError(f"{path} cannot be read: {exc}; check the file is complete (a gzip file must end "
                              "properly) and readable") from exc
    if utf8:
        return TextFileInfo(compressed, "utf-8-sig" if bom else "utf-8")
    return TextFileInfo(compressed, "cp1252")


@contextlib.contextmanager
def open_text(path: str | Path) -> Iterator[TextIO]:
    """Open a CSV file as text for :mod:`csv`, whatever its compression and encoding (see :func:`detect`).

    Windows-1252 has five unassigned bytes; they are replaced (U+FFFD), so the row holding one is rejected
    by its importer with a clear message instead of stopping the whole file.
    """
    path = Path(path)
    info = detect(path)
    raw = _raw(path, info.gzip)
    try:
        with io.TextIOWrapper(raw, encoding=info.encoding, errors="replace", newline="") as text:
            yield text
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValidationError(f"{path} could not be read to the end: {exc}") from exc
    finally:
        raw.close()
