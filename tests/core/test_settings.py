"""Settings from the environment, a TOML file and *_FILE secrets, with errors that say how to fix them."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.settings import Settings, describe_settings, load_settings


@pytest.fixture
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("DAMPWATCH_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_need_no_servers(clean_env):
    """With nothing set, everything points at local SQLite files under ./var."""
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/dampwatch.db"
    assert settings.readings_url == "sqlite:///var/readings.db"
    assert settings.mqtt_url is None and settings.broker_url == "mqtt://127.0.0.1:1883"


def test_environment_overrides_toml_file(clean_env, tmp_path):
    """Environment variables win over the TOML file, which wins over defaults."""
    config = tmp_path / "dampwatch.toml"
    config.write_text('schema_version = 1\nmqtt_topic_prefix = "estate"\ningest_batch_size = 500\n')
    clean_env.setenv("DAMPWATCH_CONFIG", str(config))
    clean_env.setenv("DAMPWATCH_INGEST_BATCH_SIZE", "900")
    settings = load_settings()
    assert settings.mqtt_topic_prefix == "estate"
    assert settings.ingest_batch_size == 900


def test_secret_from_file(clean_env, tmp_path):
    """DAMPWATCH_MQTT_PASSWORD_FILE supplies the password, and it is redacted in reports."""
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    clean_env.setenv("DAMPWATCH_MQTT_PASSWORD_FILE", str(secret))
    settings = load_settings()
    assert settings.mqtt_password == "s3cret"
    assert settings.redacted()["mqtt_password"] == "********"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DAMPWATCH_INGEST_BATCH_SIZE", "lots", "DAMPWATCH_INGEST_BATCH_SIZE"),
        ("DAMPWATCH_MQTT_TOPIC_PREFIX", "a/+/b", "without \\+ or #"),
        ("DAMPWATCH_DATABASE_URL", "mysql://x", "postgresql\\+psycopg"),
        ("DAMPWATCH_MQTT_PROTOCOL", "4", "DAMPWATCH_MQTT_PROTOCOL"),
        ("DAMPWATCH_MQTT_PASSWORD_FILE", "/nonexistent/pw", "cannot be read"),
        ("DAMPWATCH_CONFIG", "/nonexistent.toml", "not a file"),
    ],
)
def test_bad_settings_say_what_to_fix(clean_env, name, value, message):
    """Each bad value gives a ConfigError naming the variable or the fix."""
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_unknown_key_in_toml_is_refused(clean_env, tmp_path):
    """A typo in the settings file is reported, not silently ignored."""
    config = tmp_path / "dampwatch.toml"
    config.write_text("ingest_batchsize = 10\n")
    clean_env.setenv("DAMPWATCH_CONFIG", str(config))
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings()


def test_newer_settings_file_is_refused(clean_env, tmp_path):
    """A settings file from a newer DampWatch says to upgrade."""
    config = tmp_path / "dampwatch.toml"
    config.write_text("schema_version = 99\n")
    clean_env.setenv("DAMPWATCH_CONFIG", str(config))
    with pytest.raises(ConfigError, match="upgrade"):
        load_settings()


def test_readme_documents_every_setting():
    """The README's configuration table lists every DAMPWATCH_* setting with its default."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name, default, _description in describe_settings():
        assert f"`{name}`" in readme, name
        assert default == "" or f"`{default}`" in readme, (name, default)
    assert len(Settings.model_fields) == len(describe_settings())


@pytest.mark.parametrize(("text", "expected"), [
    ("", {}),
    (None, {}),
    (" a=1, b = two ,", {"a": "1", "b": "two"}),
    ("a=1\nb=2", {"a": "1", "b": "2"}),
    ("k=x=y", {"k": "x=y"}),
    ("a=1, a=2", {"a": "2"}),
])
def test_name_value_pairs_reads_lists_of_pairs(text, expected):
    """NAME=VALUE lists (commas or new lines; the first '=' splits; a later name wins), table written by hand."""
    from core.settings import name_value_pairs

    assert name_value_pairs(text, "DAMPWATCH_X") == expected


@pytest.mark.parametrize("text", ["council", "council=", "=s3cret-value-0123456789", "a=1, b"])
def test_name_value_pairs_names_the_bad_item_without_its_value(text):
    """A bad item is a ConfigError naming the setting and the form, never echoing a value (it may be a secret)."""
    from core.errors import ConfigError
    from core.settings import name_value_pairs

    with pytest.raises(ConfigError, match="DAMPWATCH_X") as caught:
        name_value_pairs(text, "DAMPWATCH_X")
    assert "s3cret" not in str(caught.value) and "NAME=VALUE" in str(caught.value)
