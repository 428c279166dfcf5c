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
SECRET_SETTINGS = ("mqtt_password", "database_url", "readings_url", "web_secret_key",
                   "smtp_password", "notify_api_key", "webhook_secret",  # these three: alerts
                   "ingest_http_secrets")


class Settings(BaseSettings):
    """Every DampWatch setting, with its default and what it is for."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    schema_version: int = Field(SETTINGS_SCHEMA_VERSION, description="Version of the settings file format.")
    var_dir: Path = Field(Path("var"), description="Folder for local data: SQLite files, broker data, logs.")
    database_url: str = Field(
        "sqlite:///var/dampwatch.db",
        description="App database (SQLAlchemy URL; unset: dampwatch.db in DAMPWATCH_VAR_DIR): sqlite:///path or "
        "postgresql+psycopg://user@host/db.",
    )
    readings_url: str = Field(
        "sqlite:///var/readings.db",
        description="Readings store (unset: readings.db in DAMPWATCH_VAR_DIR): sqlite:///path, influxdb2://TOKEN@host:8086/ORG/BUCKET or "
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
        None, description="CSV key,device_id[,codec] mapping other systems' device keys (DevEUI, friendly name) to "
        "device ids, and naming the built-in codec of LoRaWAN devices sent without a decoded object."
    )
    ingest_tasmota_timezone: str | None = Field(
        None, description="IANA time zone of Tasmota devices' offset-less 'Time' (e.g. Europe/London); unset: "
        "such times are not trusted and the ingest time is used."
    )
    ingest_http_bind: str = Field("127.0.0.1", description="Address 'dampwatch ingest-http' listens on.")
    ingest_http_port: int = Field(8090, ge=1, le=65535, description="Port 'dampwatch ingest-http' listens on.")
    ingest_http_path: str = Field(
        "/ingest", pattern=r"^/[A-Za-z0-9._~/-]*$",
        description="URL path under which each HTTP integration is served, as <path>/<integration name>.",
    )
    ingest_http_integrations: str = Field(
        "", description="HTTP integrations as NAME=FORMAT pairs, e.g. 'council-cs=chirpstack, council-tts=tts'."
    )
    ingest_http_secrets: str | None = Field(
        None, description="Bearer secret of each HTTP integration as NAME=SECRET pairs "
        "(or DAMPWATCH_INGEST_HTTP_SECRETS_FILE); an integration without one refuses every request."
    )
    ingest_http_max_body_bytes: int = Field(
        65536, ge=1024, le=16 * 1024 * 1024, description="Largest HTTP request body accepted (413 above it)."
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
    ingest_stored_ack: bool = Field(
        True, description="Publish each device's highest stored seq, retained, on <prefix>/<id>/stored "
        "(DampWatch firmware keeps readings until it is covered)."
    )
    ingest_stall_after_s: float = Field(
        120.0, gt=0, description="Log and count a stall when readings are spooled but none has reached the store "
        "for this long."
    )
    ingest_replay_window_s: float = Field(
        60.0, ge=0, description="Seconds of recent batches kept on local disk and replayed when the readings store "
        "restarted (VictoriaMetrics buffers writes before disk); 0 turns it off."
    )
    readings_lock_wait_s: float = Field(
        2.0, gt=0, description="How long a write waits for another process's lock on the SQLite readings store "
        "before the batch is spooled instead."
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
    web_trusted_proxies: int = Field(
        0, ge=0, le=5, description="Reverse proxies in front of the dashboard whose X-Forwarded-For/-Proto/-Host "
        "are trusted (0: none; the client's address is the connection's)."
    )
    web_config: Literal["production", "development", "testing"] = Field(
        "production", description="Which dashboard settings class to use."
    )

    # --- alerts: alarm rules, tenant messages, the outbox and its channels (issue 5; alerts/) ---
    alerts_silent_hours: float = Field(
        24.0, gt=0, description="A sensor that has sent nothing for this many hours raises a 'sensor silent' alarm."
    )
    alerts_battery_low_v: float = Field(
        2.6, gt=0, description="A sensor battery below this many volts for 6 hours raises a 'battery low' alarm."
    )
    alerts_risk_band: Literal["medium", "high", "critical"] = Field(
        "high", description="A home whose risk rises into this band (or above) raises a 'risk band' alarm."
    )
    alerts_damp_hours: float = Field(
        72.0, gt=0, description="A room whose coldest wall stays above 80 % humidity this long raises a "
        "'sustained damp' alarm."
    )
    alerts_escalate_after_working_days: int = Field(
        1, ge=1, description="An alarm nobody acknowledges is escalated to managers after this many working "
        "days, then again every working day."
    )
    alerts_escalate_before_deadline_working_days: int = Field(
        2, ge=0, description="... or sooner, this many working days before the investigate deadline of an "
        "open case at the home."
    )
    alerts_open_case_rules: str = Field(
        "", description="Rules whose alarms open a case (starting the Awaab's Law clocks) as soon as they are "
        "raised, comma-separated (risk_band, sustained_damp, likely_leak, cold_home, excess_cold, excess_heat); "
        "empty: officers do it."
    )
    alerts_quiet_hours: str = Field(
        "21:00-08:00", description="Default quiet hours (Europe/London) in which no tenant message is sent; "
        "a tenant's own quiet hours win."
    )
    alerts_rate_limit_days: float = Field(
        3.0, ge=0, description="At most one tenant message of each type per home in this many days."
    )
    alerts_digest_to: str = Field(
        "", description="Staff addresses (comma-separated) for the daily digest of new and escalating alarms."
    )
    alerts_digest_hour: int = Field(
        7, ge=0, le=23, description="'dampwatch alerts run' sends the daily digest after this hour (Europe/London)."
    )
    alerts_letter_dir: Path | None = Field(
        None, description="Where letters wait to be printed, one file each (default: <var_dir>/letters)."
    )
    alerts_email_via: Literal["smtp", "notify"] = Field(
        "smtp", description="Send email through SMTP (DAMPWATCH_SMTP_*) or GOV.UK Notify (DAMPWATCH_NOTIFY_*)."
    )
    tenant_link_minutes: int = Field(
        30, ge=1, le=1440, description="How long a tenant's one-time sign-in link works."
    )
    smtp_host: str | None = Field(None, description="SMTP server for email; unset: email waits in the outbox.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(None, description="SMTP user name (unset: no login).")
    smtp_password: str | None = Field(None, description="SMTP password (or DAMPWATCH_SMTP_PASSWORD_FILE).")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS before logging in.")
    smtp_from: str = Field("DampWatch <dampwatch@localhost>", description="From address of email we send.")
    smtp_timeout_s: float = Field(20.0, gt=0, description="SMTP connection timeout.")
    notify_api_key: str | None = Field(
        None, description="GOV.UK Notify API key, name-<uuid>-<uuid> (or DAMPWATCH_NOTIFY_API_KEY_FILE); "
        "unset: SMS waits in the outbox."
    )
    notify_base_url: str = Field("https://api.notifications.service.gov.uk", description="GOV.UK Notify API address.")
    notify_sms_template_id: str | None = Field(
        None, description="Notify SMS template used for every message type, with ((body)) in it."
    )
    notify_email_template_id: str | None = Field(
        None, description="Notify email template used for every message type, with ((subject)) and ((body))."
    )
    notify_template_ids: str = Field(
        "", description="Notify templates per message type, overriding the generic ones: "
        "'ventilation.sms=<id>, ventilation.email=<id>, ...'."
    )
    webhook_url: str | None = Field(
        None, description="Housing management system address that gets signed alarm and case events (JSON)."
    )
    webhook_secret: str | None = Field(
        None, description="Shared secret for the webhook's HMAC-SHA256 signature (or DAMPWATCH_WEBHOOK_SECRET_FILE)."
    )
    outbox_max_attempts: int = Field(
        12, ge=1, description="Delivery attempts before a message is marked failed (staff see it; "
        "'dampwatch outbox retry' sends it again)."
    )
    outbox_retry_base_s: float = Field(60.0, gt=0, description="Wait before the first retry; doubles each time.")
    outbox_retry_max_s: float = Field(3600.0, gt=0, description="Longest wait between retries.")
    outbox_poll_s: float = Field(10.0, gt=0, description="How often 'dampwatch outbox deliver --forever' looks "
                                 "for messages.")
    outbox_claim_timeout_s: float = Field(
        600.0, gt=0, description="A message left 'sending' this long (the worker stopped mid-send) is marked "
        "failed for staff to check, never sent again by itself."
    )

    @field_validator("alerts_quiet_hours")
    @classmethod
    def _quiet_hours_format(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]", value.strip()):
            raise ValueError("must be two Europe/London times, start-end, such as 21:00-08:00")
        return value.strip()

    @field_validator("alerts_open_case_rules")
    @classmethod
    def _open_case_rules_known(cls, value: str) -> str:
        known = ("risk_band", "sustained_damp", "likely_leak", "cold_home", "excess_cold", "excess_heat")
        unknown = [r.strip() for r in value.split(",") if r.strip() and r.strip() not in known]
        if unknown:
            raise ValueError(f"unknown rule(s) {', '.join(unknown)}; use any of {', '.join(known)}")
        return value
    # --- end of the alerts settings ---

    # --- Awaab's Law clock profiles (core.clock_profiles; issue 15) ---
    clock_profile: Literal["england_social", "wales_whqs", "other"] = Field(
        "england_social", description="The rules new cases' deadlines follow: england_social (SI 2025/1042), "
        "wales_whqs (your published WHQS response times) or other (a configurable copy of the England numbers)."
    )
    clock_profiles_file: Path | None = Field(
        None, description="JSON file changing the wales_whqs or other profile's numbers, e.g. "
        '{"wales_whqs": {"investigate_working_days": 20, "rules_version": "Our WHQS times 2026"}}.'
    )

    # --- retention of personal data ('dampwatch retention run'; 0 keeps for ever) ---
    retention_readings_days: int = Field(0, ge=0, description="Delete readings older than this many days.")
    retention_dead_letters_days: int = Field(30, ge=0, description="Delete dead letters older than this many days.")
    retention_messages_days: int = Field(
        730, ge=0, description="Delete sent, failed and suppressed outbox messages older than this many days."
    )
    retention_audit_days: int = Field(2190, ge=0, description="Delete audit log entries older than this many days.")
    retention_closed_cases_days: int = Field(
        2190, ge=0, description="Delete cases closed more than this many days ago (with their timeline, "
        "inspections and findings)."
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
    def _sqlite_files_under_var_dir(self) -> Settings:
        """The default SQLite files live in ``var_dir`` (not ``./var`` of whatever folder a command runs in)."""
        for name, file_name in (("database_url", "dampwatch.db"), ("readings_url", "readings.db")):
            if name not in self.model_fields_set:
                setattr(self, name, f"sqlite:///{self.var_dir / file_name}")
        return self

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
        for name in ("mqtt_password", "web_secret_key", "smtp_password", "notify_api_key", "webhook_secret",
                     "ingest_http_secrets"):
            if values.get(name):
                values[name] = "********"
        for name in ("database_url", "readings_url", "mqtt_url"):
            if values.get(name):
                values[name] = _hide_url_password(values[name])
        return values


def name_value_pairs(text: str | None, setting: str, form: str = "NAME=VALUE") -> dict[str, str]:
    """A list setting such as ``"a=1, b=2"`` (commas or new lines) as a dict; ``ConfigError`` names the bad item.

    The error shows only the part before ``=``, so a secret in the value never reaches a log or a terminal.
    """
    pairs: dict[str, str] = {}
    for item in (text or "").replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        name, separator, value = item.partition("=")
        if not separator or not name.strip() or not value.strip():
            raise ConfigError(f"{setting}: {name.strip()!r}... must be {form}")
        pairs[name.strip()] = value.strip()
    return pairs


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
