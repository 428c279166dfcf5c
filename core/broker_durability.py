"""How much a broker crash can lose, for ``dampwatch --check-config``.

An MQTT broker acknowledges a QoS 1 message (PUBACK) when it has it in memory. Mosquitto 2.0 writes
its in-memory state to disk as a whole snapshot, every ``autosave_interval`` seconds (or after that
many changes with ``autosave_on_changes true``), and never fsyncs each message: a crash (SIGKILL, the
OOM killer, a power cut) loses every message that arrived since the last snapshot. That is the
broker's *crash window*. DampWatch's own firmware closes it with the ingestor's stored
acknowledgement; third-party sensors that forget a reading on PUBACK do not.

:func:`crash_window_notes` reads what it can: the broker's product from ``$SYS/broker/version``
and, for Mosquitto, the snapshot settings from a config file (the one ``dampwatch broker config``
writes, or ``mosquitto_conf`` given), and returns the lines to print: ``("warn", text)`` or
``("ok", text)``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.mqtt import WIDE_CRASH_WINDOW_S, BrokerAddress, new_client

if TYPE_CHECKING:
    from paho.mqtt.client import Client, ConnectFlags, MQTTMessage
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

    from core.settings import Settings

#: How long --check-config waits for the broker's $SYS version.
VERSION_WAIT_S = 3.0
_SETTING = re.compile(r"^\s*(persistence|autosave_interval|autosave_on_changes)\s+(\S+)", re.MULTILINE)


def snapshot_settings(config_text: str) -> dict[str, str]:
    """The persistence settings in a Mosquitto config (the last of each wins, as in Mosquitto)."""
    found: dict[str, str] = {}
    for name, value in _SETTING.findall(config_text):
        found[name] = value.lower()
    return found


def mosquitto_window_warning(config_text: str, source: str) -> str | None:
    """A warning when a Mosquitto config's crash window is wide (or persistence is off); None when it is short."""
    settings = snapshot_settings(config_text)
    if settings.get("persistence", "false") not in ("true", "1", "yes"):
        return (f"{source} has persistence off: a broker restart, even a clean one, loses every queued reading; "
                "set 'persistence true' and 'autosave_interval 1' (dampwatch broker config writes both)")
    interval = int(settings.get("autosave_interval", "1800"))
    if settings.get("autosave_on_changes", "false") in ("true", "1", "yes"):
        return None if interval <= 1000 else (
            f"{source} saves after every {interval} changes: a broker crash can lose up to that many acknowledged "
            "readings; set 'autosave_interval 1' with 'autosave_on_changes false'")
    if interval > WIDE_CRASH_WINDOW_S or interval == 0:
        seconds = "every reading since it started" if interval == 0 else f"up to {interval} s of readings"
        return (f"{source} snapshots every {interval} s: a broker crash loses {seconds} it had already acknowledged "
                "(DampWatch firmware resends them; third-party sensors do not); set 'autosave_interval 1'")
    return None


def broker_version(address: BrokerAddress, username: str | None, password: str | None,
                   tls_ca_file: str | None = None) -> str | None:
    """The broker's ``$SYS/broker/version`` (Mosquitto publishes it), or None if it says nothing in time."""
    import paho.mqtt.client as mqtt

    got: list[str] = []
    done = threading.Event()
    client = new_client("dampwatch-check-config", protocol=mqtt.MQTTv311, username=username, password=password,
                        tls_ca_file=tls_ca_file)
    if address.tls and tls_ca_file is None:
        client.tls_set()

    def on_connect(c: Client, _u: Any, _f: ConnectFlags, reason_code: ReasonCode, _p: Properties | None) -> None:
        if reason_code.is_failure:
            done.set()
        else:
            c.subscribe("$SYS/broker/version", 0)

    def on_message(_c: Client, _u: Any, message: MQTTMessage) -> None:
        got.append(message.payload.decode("utf-8", "replace"))
        done.set()

    client.on_connect = on_connect
    client.on_message = on_message
    try:
        client.connect(address.host, address.port, keepalive=10)
    except OSError:
        return None
    client.loop_start()
    try:
        done.wait(VERSION_WAIT_S)
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0] if got else None


def crash_window_notes(settings: Settings, *, mosquitto_conf: Path | None = None) -> list[tuple[str, str]]:
    """What ``--check-config`` says about the broker's and the store's crash windows."""
    notes: list[tuple[str, str]] = []
    if settings.mqtt_url:
        address = BrokerAddress.from_url(settings.mqtt_url)
        version = broker_version(
            address, settings.mqtt_username or address.username, settings.mqtt_password or address.password,
            str(settings.mqtt_tls_ca_file) if settings.mqtt_tls_ca_file else None,
        )
        conf = mosquitto_conf or settings.var_dir / "broker-config" / "mosquitto.conf"
        if version and "mosquitto" in version.lower():
            text = conf.read_text() if conf.is_file() else None
            if text is None:
                notes.append(("warn", f"the broker is {version}: it loses what arrived since its last snapshot if it "
                                      f"crashes; DampWatch cannot see its autosave_interval from here (no {conf}): make "
                                      f"sure it is at most {WIDE_CRASH_WINDOW_S} s (dampwatch broker config writes 1 s)"))
            else:
                warning = mosquitto_window_warning(text, str(conf))
                notes.append(("warn", warning) if warning else
                             ("ok", f"broker crash window: {conf} snapshots at most every {WIDE_CRASH_WINDOW_S} s"))
        elif version:
            notes.append(("warn", f"the broker is {version}: check how often it writes acknowledged messages to disk; "
                                  "a crash loses what it had not written (DampWatch firmware resends them)"))
        else:
            notes.append(("warn", "the broker did not say what it is ($SYS/broker/version): check how often it writes "
                                  "acknowledged messages to disk (Mosquitto: autosave_interval 1)"))
    if settings.readings_url.split(":", 1)[0].lower().startswith(("victoriametrics", "vm")):
        if settings.ingest_replay_window_s <= 0:
            notes.append(("warn", "VictoriaMetrics acknowledges writes before they are on disk and "
                                  "DAMPWATCH_INGEST_REPLAY_WINDOW_S is 0: a crash of it loses the last seconds of "
                                  "readings; set it to 60"))
        elif "tenant=" in settings.readings_url:
            notes.append(("warn", "a VictoriaMetrics cluster acknowledges writes before vmstorage has them on disk, "
                                  "and DampWatch cannot see a vmstorage restart: the replay window is not used"))
    return notes
