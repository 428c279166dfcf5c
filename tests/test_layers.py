"""The layering rule of DESIGN.md, checked: every import between our top-level packages is an allowed edge.

The table below is written by hand from ``../shared/DESIGN.md`` ("The allowed edges"), not read from the code, so a
new import across boxes turns this test red until the design says it may exist.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Our top-level packages: the boxes, the shared core, the composition root, benchmarks and tests.
PACKAGES = (
    "core",
    "ingest",
    "analytics",
    "alerts",
    "dashboard",
    "simulator",
    "firmware_stub",
    "dampwatch",
    "bench",
    "tests",
)

#: What each package may import of ours, besides itself (DESIGN.md, "The allowed edges").
#: A value of ``ANY_BOX`` means every box; ``simulator`` may take only the named modules of ``core``.
ANY_BOX = frozenset({"core", "ingest", "analytics", "alerts", "dashboard", "simulator", "firmware_stub"})
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "ingest": frozenset({"core"}),
    "analytics": frozenset({"core"}),
    "alerts": frozenset({"core", "analytics"}),
    "dashboard": frozenset({"core", "analytics", "alerts"}),
    # ... and the one cause table (DESIGN.md: "causes live in one table that every box reads").
    "simulator": frozenset({"core.mqtt", "core.errors", "core.causes"}),
    "firmware_stub": frozenset(),
    "dampwatch": ANY_BOX,
    "bench": ANY_BOX,
    # Tests exercise every box and the command line.
    "tests": ANY_BOX | {"dampwatch", "bench"},
}


def violations(root: Path, allowed: dict[str, frozenset[str]]) -> list[str]:
    """Lines ``file:line imports X`` for every edge between our packages that ``allowed`` does not list."""
    found = []
    ours = set(allowed)
    for package in allowed:
        folder = root / package
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            if any(part in {".venv", "node_modules", "__pycache__"} for part in path.parts):
                continue
            for line, module in imported_modules_in(root, path, package):
                top = module.split(".")[0]
                if top not in ours or top == package:
                    continue
                if not _edge_allowed(module, allowed[package]):
                    found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return sorted(set(found))


def imported_modules_in(root: Path, path: Path, package: str) -> Iterator[tuple[int, str]]:
    """Every absolute module name a file under ``root`` imports, with its line; relative imports resolved.

    Imports inside functions and ``TYPE_CHECKING`` blocks count too: they are edges all the same.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parts = list(path.relative_to(root).with_suffix("").parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # ``pkg/sub/mod.py`` and ``pkg/sub/__init__.py`` both resolve ``from . import x`` to ``pkg.sub``.
                base = parts[: len(parts) - node.level]
                yield node.lineno, ".".join([*base, node.module] if node.module else base) or package
            elif node.module:
                yield node.lineno, node.module
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"


def _edge_allowed(module: str, allowed: frozenset[str]) -> bool:
    top = module.split(".")[0]
    if top in allowed:
        return True
    # Module-level permissions (``core.mqtt``) admit that module and what is inside it, nothing else of the package.
    # ``from core import mqtt`` yields both ``core`` and ``core.mqtt``: the bare package name is admitted when some
    # module of it is, since the names imported from it are checked one by one.
    if module == top:
        return any(entry.startswith(top + ".") for entry in allowed)
    return any(module == entry or module.startswith(entry + ".") for entry in allowed)


def test_every_import_between_packages_is_an_allowed_edge() -> None:
    """No package imports one that DESIGN.md does not allow (the table above is the rule)."""
    assert violations(ROOT, ALLOWED) == []


def test_every_package_is_in_the_table() -> None:
    """A new top-level package must be placed in the layering table before it lands."""
    on_disk = {
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and not p.name.startswith(".") and p.name != "build"
    }
    assert on_disk <= set(ALLOWED), f"add {sorted(on_disk - set(ALLOWED))} to ALLOWED in tests/test_layers.py"


@pytest.mark.parametrize(
    ("package", "source", "forbidden"),
    [
        ("analytics", "from dashboard import charts\n", "dashboard.charts"),
        ("ingest", "import analytics.mould\n", "analytics.mould"),
        ("simulator", "from core import model\n", "core.model"),
        ("simulator", "from core.settings import Settings\n", "core.settings"),
        ("core", "def f():\n    from ingest.parse import parse\n", "ingest.parse"),
        ("firmware_stub", "import core.mqtt\n", "core.mqtt"),
        ("dashboard", "from dampwatch import cli\n", "dampwatch"),
        ("alerts", "from ..dashboard import views\n", "dashboard"),
    ],
)
def test_the_check_catches_a_forbidden_edge(
    tmp_path: Path, package: str, source: str, forbidden: str
) -> None:
    """The checker can fail: a planted forbidden import in a throwaway tree is reported."""
    for name in ALLOWED:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / package / "planted.py").write_text(source)
    found = violations(tmp_path, ALLOWED)
    assert any(forbidden in line and f"{package}/planted.py" in line for line in found), found


@pytest.mark.parametrize(
    ("package", "source"),
    [
        ("simulator", "from core.mqtt import connect\nfrom core import errors\n"),
        ("alerts", "import analytics.wording\nfrom core.model import Property\n"),
        ("dampwatch", "import dashboard, ingest, simulator\n"),
        ("ingest", "from . import parse\nfrom .batch import RawMessage\n"),
    ],
)
def test_the_check_admits_allowed_edges(tmp_path: Path, package: str, source: str) -> None:
    """Allowed edges, including the simulator's two core helpers and relative imports, are not reported."""
    for name in ALLOWED:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / package / "ok.py").write_text(source)
    assert violations(tmp_path, ALLOWED) == []
