"""Settings: ``DAMPWATCH_*`` environment variables, an optional TOML file, safe defaults.

Every setting has a default that works on one machine with no servers: SQLite
files under ``./var/`` and, for the demo, a broker that DampWatch starts
itself. Environment variables win over the TOML file (``DAMPWATCH_CONFIG``),
which wins over the defaults. Secrets may also come from a file named by the
setting's ``*_FILE`` variable (``DAMPWATCH_MQTT_PASSWORD_FILE``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.errors import ConfigError

#: The version of the TOML settings file format this code reads.
SETTINGS_SCHEMA_VERSION = 1
ENV_PREFIX = "DAMPWATCH_"
#: Settings whose value may instead be read from the file named by ``<NAME>_FILE``.
SECRET_SETTINGS = ("mqtt_password", "database_url", "readings_url", "web_secret_key")


class Settings(BaseSettings):
    """Every DampWatch setting, with its default and what it is for."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    schema_version: int = Field(SETTINGS_SCHEMA_VERSION, description="Version of the settings file format.")
    var_dir: Path = Field(Path("var"), description="Folder for local data: SQLite files, broker data, logs.")
    database_url: str = Field(
        "sqlite:///var/dampwatch.db",
        description="App database (SQLAlchemy URL): sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    readings_url: str = Field(
        "sqlite:///var/readings.db",
        description="Readings store: sqlite:///path, influxdb2://TOKEN@host:8086/ORG/BUCKET or "
        "victoriametrics://host:8428 (see README, Readings stores).",
    )
    mqtt_url: str | None = Field(
        None,
        description="Broker URL, mqtt://host:port or mqtts://host:port. Unset: the demo starts its own "
        "broker and 'dampwatch ingest' uses mqtt://127.0.0.1:1883.",
    )
    mqtt_username: str | None = Field(None, description="Broker user name for the ingestor.")
    mqtt_password: str | None = Field(None, description="Broker password (or DAMPWATCH_MQTT_PASSWORD_FILE).")
    mqtt_tls_ca_file: Path | None = Field(
        None, description="CA certificate to verify the broker with (mqtts://); the system store if unset."
    )
    mqtt_client_id: str = Field("dampwatch-ingest", description="MQTT client id; keeps the persistent session.")
    mqtt_topic_prefix: str = Field("dampwatch", description="Topic prefix: devices publish to <prefix>/<id>/up.")
    mqtt_protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version the ingestor speaks.")
    mqtt_session_expiry_s: int = Field(
        7 * 24 * 3600, ge=0, description="How long the broker keeps the ingestor's session while it is away (v5)."
    )
    ingest_adapters: str = Field(
        "",
        description="Other systems' topics and the adapter for each, e.g. "
        "'application/+/device/+/event/up=chirpstack, zigbee2mqtt/+=zigbee2mqtt' (adapters: chirpstack, tts, "
        "zigbee2mqtt, tasmota, shelly, senml).",
    )
    ingest_device_map_file: Path | None = Field(
        None, description="CSV key,device_id mapping other systems' device keys (DevEUI, friendly name) to device ids."
    )
    mqtt_shared_group: str | None = Field(
        None, description="Share the load between ingestors: each subscribes as $share/<group>/... (MQTT 5)."
    )
    ingest_batch_size: int = Field(2000, ge=1, le=60000, description="Messages per write batch.")
    ingest_workers: int = Field(
        1, ge=0, le=1, description="1: parse and write in a worker process (uses a second core); 0: in the ingestor."
    )
    ingest_flush_interval_s: float = Field(0.25, gt=0, description="Longest a reading waits before its batch is written.")
    ingest_spool_dir: Path | None = Field(
        None, description="Where batches wait while the readings store is unreachable (default: <var_dir>/spool)."
    )
    ingest_max_future_s: int = Field(600, ge=0, description="Readings further than this in the future are rejected.")
    ingest_known_devices_refresh_s: float = Field(
        30.0, gt=0, description="How often the ingestor re-reads the list of registered devices."
    )
    metrics_port: int = Field(9108, ge=0, le=65535, description="Prometheus metrics port (0 turns it off).")
    metrics_bind: str = Field("127.0.0.1", description="Address the metrics server listens on.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_interval_s: float = Field(60.0, gt=0, description="How often the ingestor logs its counters.")
    device_offline_after_s: int = Field(
        6 * 3600, gt=0, description="A device silent for longer than this is shown as offline."
    )

    # --- the dashboard (dampwatch serve) ---
    web_host: str = Field("127.0.0.1", description="Address the dashboard listens on.")
    web_port: int = Field(8000, ge=1, le=65535, description="Port the dashboard listens on.")
    web_public_url: str = Field(
        "http://127.0.0.1:8000", description="The dashboard's address as people reach it (used in links we send)."
    )
    web_secret_key: str | None = Field(
        None,
        description="Key that signs sessions and CSRF tokens (or DAMPWATCH_WEB_SECRET_KEY_FILE); "
        "unset: one is made and kept in <var_dir>/secret_key.",
    )
    web_cookie_secure: bool = Field(
        True, description="Send session cookies only over HTTPS (browsers treat http://localhost as secure)."
    )
    web_session_hours: float = Field(12.0, gt=0, description="How long a sign-in lasts.")
    web_config: Literal["production", "development", "testing"] = Field(
        "production", description="Which dashboard settings class to use."
    )

    @field_validator("mqtt_topic_prefix")
    @classmethod
    def _prefix_has_no_wildcards(cls, value: str) -> str:
        if not value or any(ch in value for ch in "+#") or value.startswith("/") or value.endswith("/"):
            raise ValueError("must be a topic path without + or # and without a leading or trailing '/'")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("use sqlite:///path or postgresql+psycopg://user@host/dbname")
        return value

    @model_validator(mode="after")
    def _schema_version_known(self) -> Settings:
        if self.schema_version > SETTINGS_SCHEMA_VERSION:
            raise ValueError(
                f"the settings file is version {self.schema_version}, newer than this DampWatch "
                f"understands ({SETTINGS_SCHEMA_VERSION}); upgrade DampWatch"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(f"{ENV_PREFIX}CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def spool_dir(self) -> Path:
        """The spool folder: the setting, or ``spool`` under the var folder."""
        return self.ingest_spool_dir or self.var_dir / "spool"

    @property
    def broker_url(self) -> str:
        """The broker the ingestor connects to when no broker is started for it."""
        return self.mqtt_url or "mqtt://127.0.0.1:1883"

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets hidden, for logs and ``--check-config``."""
        values = self.model_dump()
        for name in ("mqtt_password", "web_secret_key"):
            if values.get(name):
                values[name] = "********"
        for name in ("database_url", "readings_url", "mqtt_url"):
            if values.get(name):
                values[name] = _hide_url_password(values[name])
        return values


def _hide_url_password(url: str) -> str:
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":********@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


def _secrets_from_files(environ: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in SECRET_SETTINGS:
        path = environ.get(f"{ENV_PREFIX}{name.upper()}_FILE")
        if path and f"{ENV_PREFIX}{name.upper()}" not in environ:
            try:
                values[name] = Path(path).read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"{ENV_PREFIX}{name.upper()}_FILE names {path!r}, which cannot be read: {exc.strerror}"
                ) from exc
    return values


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and the TOML file; raise ``ConfigError`` saying how to fix them."""
    config_file = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"DAMPWATCH_CONFIG names {config_file!r}, which is not a file; create it or unset it")
    try:
        return Settings(**{**_secrets_from_files(os.environ), **overrides})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from exc
    except ValueError as exc:  # a malformed TOML file
        raise ConfigError(f"the settings file {config_file!r} could not be read: {exc}") from exc


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's report into lines naming the environment variable to fix."""
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        hint = f"{ENV_PREFIX}{name.upper()}"
        if error["type"] == "extra_forbidden":
            lines.append(f"{name}: unknown setting in the settings file; remove it (see README, Configuration)")
        else:
            lines.append(f"{hint}: {error['msg']} (got {error.get('input')!r})")
    return "invalid settings:\n  " + "\n  ".join(lines)


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting, for the README and ``--help``."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        rows.append((f"{ENV_PREFIX}{name.upper()}", "" if default is None else str(default), field.description or ""))
    return rows
