"""--check-config's crash-window warnings: hand-written Mosquitto configs, and a real Mosquitto asked what it is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.broker_durability import crash_window_notes, mosquitto_window_warning
from core.mqtt import MosquittoBroker
from core.settings import Settings


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("persistence true\nautosave_interval 1\n", None),
        ("persistence true\nautosave_interval 5\n", None),
        ("persistence true\nautosave_interval 30\n", "snapshots every 30 s"),
        ("persistence true\n", "snapshots every 1800 s"),  # Mosquitto's default interval
        ("persistence true\nautosave_interval 0\n", "every reading since it started"),
        ("autosave_interval 1\n", "persistence off"),  # Mosquitto's default is no persistence at all
        ("persistence true\nautosave_interval 1\npersistence false\n", "persistence off"),  # the last one wins
        ("persistence true\nautosave_on_changes true\nautosave_interval 100\n", None),
        ("persistence true\nautosave_on_changes true\nautosave_interval 50000\n", "every 50000 changes"),
        ("# autosave_interval 1\npersistence true\nautosave_interval 60\n", "snapshots every 60 s"),
    ],
)
def test_wide_windows_are_warned_about(config: str, expected: str | None) -> None:
    """Each config's window, from Mosquitto's documented settings and defaults (a table written by hand)."""
    warning = mosquitto_window_warning(config, "mosquitto.conf")
    if expected is None:
        assert warning is None
    else:
        assert warning is not None and expected in warning and "mosquitto.conf" in warning


@pytest.mark.broker
@pytest.mark.parametrize(("autosave_s", "kind", "words"), [(30, "warn", "snapshots every 30 s"), (1, "ok", "at most")])
def test_real_mosquitto_is_recognised_and_its_config_read(tmp_path: Path, autosave_s: int, kind: str,
                                                          words: str) -> None:
    """The broker answers $SYS/broker/version; the config it runs with decides the note."""
    with MosquittoBroker(tmp_path / "broker", autosave_interval_s=autosave_s) as broker:
        settings = Settings(var_dir=tmp_path, mqtt_url=broker.url, metrics_port=0)
        conf = tmp_path / "broker-config" / "mosquitto.conf"
        conf.parent.mkdir()
        shutil.copy(broker.config_path, conf)
        notes = crash_window_notes(settings)
    assert len(notes) == 1
    assert notes[0][0] == kind and words in notes[0][1]


@pytest.mark.broker
def test_mosquitto_without_a_config_to_read_gets_the_advice(tmp_path: Path) -> None:
    """Mosquitto found, its config not visible: say what to check, naming the broker's version."""
    with MosquittoBroker(tmp_path / "broker") as broker:
        notes = crash_window_notes(Settings(var_dir=tmp_path, mqtt_url=broker.url, metrics_port=0))
    assert [kind for kind, _ in notes] == ["warn"]
    assert "mosquitto version" in notes[0][1] and "autosave_interval" in notes[0][1]


def test_victoriametrics_without_a_replay_window_is_warned_about(tmp_path: Path) -> None:
    """A store that acknowledges before disk, with the replay window off: a warning saying what to set."""
    settings = Settings(var_dir=tmp_path, readings_url="victoriametrics://127.0.0.1:8428", ingest_replay_window_s=0)
    notes = crash_window_notes(settings)
    assert notes and "DAMPWATCH_INGEST_REPLAY_WINDOW_S" in notes[0][1]
    assert crash_window_notes(settings.model_copy(update={"ingest_replay_window_s": 60})) == []
