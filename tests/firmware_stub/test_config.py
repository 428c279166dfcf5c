"""The device's JSON settings: defaults, the shipped example, and errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firmware_stub import config

EXAMPLE = Path(config.__file__).with_name("dampwatch.example.json")
MINIMAL: dict[str, Any] = {
    "device_id": "dw-0001",
    "wifi_ssid": "council-iot",
    "broker_host": "mqtt.example.org",
    "tls_ca_file": "/ca.pem",
}


def test_minimal_config_gets_the_defaults() -> None:
    """Only device id, Wi-Fi, broker and CA are needed; everything else has a safe default."""
    cfg = config.from_dict(MINIMAL)
    assert cfg.tls is True and cfg.tls_verify is True
    assert cfg.port == 8883
    assert cfg.topic_prefix == "dampwatch"
    assert cfg.interval_s == 600
    assert cfg.buffer_capacity == 1008
    assert cfg.up_topic == "dampwatch/dw-0001/up"
    assert cfg.status_topic == "dampwatch/dw-0001/status"
    assert cfg.mqtt_username is None and cfg.wifi_password == ""


@pytest.mark.parametrize(
    ("settings", "port"),
    [({"tls": True}, 8883), ({"tls": False}, 1883), ({"tls": False, "broker_port": 11883}, 11883)],
)
def test_port_follows_tls_unless_given(settings: dict[str, Any], port: int) -> None:
    """broker_port 0 means 8883 with TLS and 1883 without."""
    assert config.from_dict({**MINIMAL, **settings}).port == port


def test_shipped_example_is_valid() -> None:
    """dampwatch.example.json loads and sets every field there is."""
    cfg = config.load(str(EXAMPLE))
    assert set(json.loads(EXAMPLE.read_text())) == set(cfg.as_dict())
    assert cfg.device_id == "dw-0001"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"device_id": None}, "device_id"),
        ({"device_id": ""}, "device_id"),
        ({"device_id": "bad/id"}, "device_id"),
        ({"device_id": "-leading-dash"}, "device_id"),
        ({"device_id": "x" * 65}, "device_id"),
        ({"wifi_ssid": 42}, "wifi_ssid"),
        ({"wifi_password": "short"}, "wifi_password"),
        ({"broker_port": 70000}, "broker_port"),
        ({"broker_port": "1883"}, "broker_port"),
        ({"tls": "yes"}, "tls"),
        ({"tls_ca_file": None}, "tls_ca_file"),
        ({"mqtt_password": "secret"}, "mqtt_username"),
        ({"topic_prefix": "dampwatch/#"}, "topic_prefix"),
        ({"topic_prefix": "/dampwatch"}, "topic_prefix"),
        ({"interval_s": 5}, "interval_s"),
        ({"interval_s": 600.5}, "interval_s"),
        ({"interval_s": True}, "interval_s"),
        ({"buffer_capacity": 0}, "buffer_capacity"),
        ({"batch_max_readings": 1000}, "batch_max_readings"),
        ({"backoff_base_s": 600, "backoff_cap_s": 60}, "backoff_cap_s"),
        ({"sht3x_address": 0x40}, "sht3x_address"),
        ({"battery_divider": "2"}, "battery_divider"),
        ({"data_dir": "dampwatch"}, "data_dir"),
        ({"schema_version": 2}, "schema_version"),
        ({"intervall_s": 600}, "intervall_s"),
    ],
)
def test_bad_field_is_named(change: dict[str, Any], field: str) -> None:
    """Each wrong, missing or unknown field raises ConfigError whose message and .field name it."""
    settings = {**MINIMAL, **change}
    if change.get("device_id", "") is None:
        del settings["device_id"]
    with pytest.raises(config.ConfigError) as caught:
        config.from_dict(settings)
    assert caught.value.field == field
    assert f"'{field}'" in str(caught.value)


def test_missing_required_field_says_required() -> None:
    """A required field that is absent is reported as required."""
    with pytest.raises(config.ConfigError, match="'broker_host' is required"):
        config.from_dict({k: v for k, v in MINIMAL.items() if k != "broker_host"})


def test_tls_without_verification_needs_no_ca() -> None:
    """Turning verification off is explicit and then no CA file is needed."""
    cfg = config.from_dict({**MINIMAL, "tls_ca_file": None, "tls_verify": False})
    assert cfg.tls and not cfg.tls_verify


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
    ],
)
def test_unreadable_file_content(tmp_path: Path, text: str, message: str) -> None:
    """A file that is not a JSON object is a ConfigError that says so."""
    path = tmp_path / "dampwatch.json"
    path.write_text(text)
    with pytest.raises(config.ConfigError, match=message):
        config.load(str(path))


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    """A missing settings file is a ConfigError naming the path and what to do."""
    path = tmp_path / "nowhere.json"
    with pytest.raises(config.ConfigError, match=r"nowhere\.json.*dampwatch\.example\.json"):
        config.load(str(path))
