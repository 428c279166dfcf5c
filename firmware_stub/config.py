"""The device's settings: a JSON file on flash, with defaults and checks that name the field.

Only ``device_id``, ``wifi_ssid`` and ``broker_host`` have no default. TLS is
on by default with the broker's certificate checked against ``tls_ca_file``
(a PEM file on the device's flash); turning either off is an explicit choice.
Every error message names the field and says what would be accepted, because
the person reading it is at a serial console with the device in their hand.

See ``dampwatch.example.json`` beside this module for a complete file.
"""

import json

SCHEMA_VERSION = 1
DEFAULT_PATH = "/dampwatch.json"

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

#: Marks a field without a default.
REQUIRED = object()

# name: (kind, default, minimum, maximum); minimum and maximum bound a number or a length in bytes.
# kinds: "int", "bool", "str", "opt_str" (a string or null), "float".
_FIELDS = {
    "schema_version": ("int", SCHEMA_VERSION, 1, SCHEMA_VERSION),
    "device_id": ("str", REQUIRED, 1, 64),
    "wifi_ssid": ("str", REQUIRED, 1, 32),
    "wifi_password": ("str", "", 0, 63),
    "broker_host": ("str", REQUIRED, 1, 253),
    "broker_port": ("int", 0, 0, 65535),
    "tls": ("bool", True, None, None),
    "tls_verify": ("bool", True, None, None),
    "tls_ca_file": ("opt_str", None, 1, 255),
    "mqtt_username": ("opt_str", None, 1, 255),
    "mqtt_password": ("opt_str", None, 0, 255),
    "topic_prefix": ("str", "dampwatch", 1, 64),
    "interval_s": ("int", 600, 10, 86400),
    "buffer_capacity": ("int", 1008, 1, 65535),
    "batch_max_readings": ("int", 100, 1, 500),
    "stored_ack": ("bool", True, None, None),
    "ack_wait_s": ("int", 5, 0, 60),
    "keepalive_s": ("int", 60, 0, 65535),
    "wifi_timeout_s": ("int", 15, 1, 120),
    "ntp_host": ("str", "pool.ntp.org", 1, 253),
    "ntp_resync_s": ("int", 86400, 600, 604800),
    "backoff_base_s": ("int", 60, 1, 86400),
    "backoff_cap_s": ("int", 3600, 1, 604800),
    "data_dir": ("str", "/dampwatch", 1, 128),
    "sht3x_address": ("int", 0x44, 0x44, 0x45),
    "i2c_id": ("int", 0, 0, 1),
    "i2c_scl_pin": ("int", 22, 0, 48),
    "i2c_sda_pin": ("int", 21, 0, 48),
    "i2c_freq_hz": ("int", 100000, 10000, 1000000),
    "battery_adc_pin": ("int", 34, 0, 48),
    "battery_divider": ("float", 2.0, 1.0, 20.0),
}


class ConfigError(ValueError):
    """The settings file is missing, not JSON, or has a field that is wrong; the message names it."""

    def __init__(self, message, field=None):
        ValueError.__init__(self, message)
        self.field = field


class Config:
    """Validated settings; every field of the file is an attribute."""

    # The fields the properties below read, declared for the type checker (no annotations: MicroPython);
    # __init__ sets every field, these class values are never seen.
    device_id = ""
    broker_port = 0
    tls = True
    topic_prefix = ""

    def __init__(self, values):
        for name in _FIELDS:
            setattr(self, name, values[name])

    @property
    def port(self):
        """The broker port: ``broker_port``, or 8883 with TLS and 1883 without when it is 0."""
        if self.broker_port:
            return self.broker_port
        return 8883 if self.tls else 1883

    @property
    def up_topic(self):
        """Where readings go: ``<prefix>/<device_id>/up``."""
        return "%s/%s/up" % (self.topic_prefix, self.device_id)

    @property
    def status_topic(self):
        """Where the online status and the last will go: ``<prefix>/<device_id>/status``."""
        return "%s/%s/status" % (self.topic_prefix, self.device_id)

    @property
    def stored_topic(self):
        """Where the ingestor says which readings are stored (retained): ``<prefix>/<device_id>/stored``."""
        return "%s/%s/stored" % (self.topic_prefix, self.device_id)

    def as_dict(self):
        """The settings as a dict (the password fields included)."""
        return {name: getattr(self, name) for name in _FIELDS}


def defaults():
    """The default of every field that has one."""
    return {name: spec[1] for name, spec in _FIELDS.items() if spec[1] is not REQUIRED}


def _fail(name, message):
    raise ConfigError("config field '%s' %s" % (name, message), name)


def _check_field(name, value):
    kind, _, low, high = _FIELDS[name]
    if kind == "bool":
        if value is not True and value is not False:
            _fail(name, "must be true or false (got %s)" % json.dumps(value))
        return value
    # Every kind but bool has both bounds.
    assert low is not None and high is not None
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(name, "must be a whole number between %d and %d (got %s)" % (low, high, json.dumps(value)))
        if not low <= value <= high:
            _fail(name, "must be between %d and %d (got %d)" % (low, high, value))
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(name, "must be a number between %s and %s (got %s)" % (low, high, json.dumps(value)))
        if not low <= value <= high:
            _fail(name, "must be between %s and %s (got %s)" % (low, high, value))
        return float(value)
    if value is None and kind == "opt_str":
        return None
    if not isinstance(value, str):
        _fail(name, "must be text in double quotes (got %s)" % json.dumps(value))
    size = len(value.encode())
    if size < low:
        _fail(name, "must not be empty" if low == 1 else "is too short")
    if size > high:
        _fail(name, "must be at most %d bytes long (got %d)" % (high, size))
    return value


def _check_together(values):
    device_id = values["device_id"]
    for index, char in enumerate(device_id):
        if char not in _ID_CHARS or (index == 0 and char in "-_."):
            _fail(
                "device_id",
                "must start with a letter or digit and use only letters, digits, '-', '_' and '.' (got %s)"
                % json.dumps(device_id),
            )
    prefix = values["topic_prefix"]
    if "+" in prefix or "#" in prefix or prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
        _fail(
            "topic_prefix",
            "must be topic levels without wildcards or leading, trailing or double '/' "
            "(got %s)" % json.dumps(prefix),
        )
    password = values["wifi_password"]
    if password and len(password.encode()) < 8:
        _fail("wifi_password", "must be empty (an open network) or 8 to 63 characters long (WPA2)")
    if values["tls"] and values["tls_verify"] and not values["tls_ca_file"]:
        _fail(
            "tls_ca_file",
            "is required when tls and tls_verify are true: give the path on the device of "
            "the broker's CA certificate (PEM), or set tls_verify to false to skip the check",
        )
    if values["mqtt_password"] is not None and not values["mqtt_username"]:
        _fail("mqtt_username", "is required when mqtt_password is set")
    if values["backoff_cap_s"] < values["backoff_base_s"]:
        _fail("backoff_cap_s", "must be at least backoff_base_s (%d)" % values["backoff_base_s"])
    if not values["data_dir"].startswith("/"):
        _fail(
            "data_dir",
            'must be an absolute path such as "/dampwatch" (got %s)' % json.dumps(values["data_dir"]),
        )


def from_dict(raw):
    """Check ``raw`` (the parsed JSON object) field by field and return a ``Config``."""
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a JSON object ({...}), not %s" % json.dumps(raw)[:40])
    for name in raw:
        if name not in _FIELDS:
            _fail(name, "is not a setting DampWatch knows; check its spelling")
    values = defaults()
    for name in _FIELDS:
        if name in raw:
            values[name] = _check_field(name, raw[name])
        elif name not in values:
            _fail(name, "is required")
    _check_together(values)
    return Config(values)


def loads(text):
    """Parse and check the JSON text of a settings file."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ConfigError("the config is not valid JSON (%s)" % exc) from exc
    return from_dict(raw)


def load(path=DEFAULT_PATH):
    """Read, parse and check the settings file at ``path``."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(
            "cannot read the config file %s (%s); copy dampwatch.example.json there and edit it" % (path, exc)
        ) from exc
    return loads(text)
