"""The simulator package: its public API, and the box rule (it talks to the rest only over MQTT)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import simulator

PACKAGE = Path(simulator.__file__).parent


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_simulator_imports_no_downstream_box(path):
    """No module imports ingest, analytics, dashboard, alerts or the dampwatch CLI."""
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & {"ingest", "analytics", "dashboard", "alerts", "dampwatch"}


def test_public_api_is_exported():
    """Everything in __all__ exists at the package top level."""
    for name in simulator.__all__:
        assert hasattr(simulator, name), name
    assert (
        callable(simulator.simulate) and callable(simulator.publish) and callable(simulator.vtt_mould_index)
    )
