"""Device credentials and ACLs, enforced by a real Mosquitto started with the generated files."""

from __future__ import annotations

import base64
import ssl
import subprocess
import threading

import paho.mqtt.client as mqtt
import pytest

from core.broker_auth import (
    INGESTOR_USERNAME,
    generate_test_ca,
    mosquitto_hash,
    verify_mosquitto_hash,
)
from core.db import Database
from core.errors import ValidationError
from core.model import Property, Room
from core.mqtt import MosquittoBroker, new_client
from core.provisioning import ensure_service_account, provision_device, revoke_device, write_broker_files

pytestmark = pytest.mark.broker


def test_hash_matches_mosquitto_passwd(tmp_path):
    """Our $7$ hash is exactly what mosquitto_passwd computes for the same salt."""
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(path), "alice", "correct horse"], check=True)
    encoded = path.read_text().strip().split(":", 1)[1]
    salt = base64.b64decode(encoded.split("$")[3])
    assert mosquitto_hash("correct horse", salt=salt) == encoded
    assert verify_mosquitto_hash("correct horse", encoded)
    assert not verify_mosquitto_hash("wrong", encoded)


class Session:
    """A connected MQTT v5 client that records what the broker answers."""

    def __init__(self, broker, username=None, password=None, *, tls_ca=None, host=None):
        self.client = new_client(f"t-{username}-{id(self)}", protocol=mqtt.MQTTv5, username=username,
                                 password=password, tls_ca_file=str(tls_ca) if tls_ca else None)
        self.connack = threading.Event()
        self.reason = None
        self.acks: dict[int, object] = {}
        self.suback: list = []
        self.messages: list[mqtt.MQTTMessage] = []
        self.client.on_connect = self._on_connect
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.suback.extend(rcs)
        self.client.on_message = lambda c, u, m: self.messages.append(m)
        self.client.connect(host or broker.host, broker.port)
        self.client.loop_start()
        self.connack.wait(10)

    def _on_connect(self, _c, _u, _f, reason, _p):
        self.reason = reason
        self.connack.set()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def publish(self, topic: str, payload: bytes = b"{}", *, retain: bool = False):
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        return self.acks.get(info.mid)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def secured(tmp_path):
    """A property with two provisioned devices, the ingestor account, and a broker using the generated files."""
    database = Database(f"sqlite:///{tmp_path}/app.db")
    with database.session() as session:
        prop = Property(uprn="100000000001", address="1 Test Street", postcode="LS6 1AB")
        prop.rooms = [Room(name="Bathroom", room_type="bathroom"), Room(name="Kitchen", room_type="kitchen")]
        session.add(prop)
        session.flush()
        a = provision_device(session, "dev-a", uprn="100000000001", room="Bathroom", broker_host="127.0.0.1")
        b = provision_device(session, "dev-b", uprn="100000000001", room="Kitchen", broker_host="127.0.0.1")
        ingest = ensure_service_account(session)
        files = write_broker_files(session, tmp_path / "conf", prefix="dampwatch")
    broker = MosquittoBroker(tmp_path / "broker", password_file=files.password_file, acl_file=files.acl_file)
    broker.start()
    yield {"db": database, "broker": broker, "a": a.password, "b": b.password, "ingest": ingest,
           "dir": tmp_path / "conf"}
    broker.stop()
    database.dispose()


def test_anonymous_and_wrong_password_are_refused(secured):
    """No user name, or a wrong password: the broker refuses the connection."""
    anonymous = Session(secured["broker"])
    wrong = Session(secured["broker"], "dev-a", "not-the-password")
    assert not anonymous.accepted and not wrong.accepted
    assert "authori" in str(anonymous.reason).lower() or "password" in str(anonymous.reason).lower()
    anonymous.close()
    wrong.close()


def test_device_writes_only_under_its_own_id(secured):
    """Device A may publish to its own topics; publishing as B is refused (MQTT 5 reports it)."""
    a = Session(secured["broker"], "dev-a", secured["a"])
    assert a.accepted
    assert not a.publish("dampwatch/dev-a/up").is_failure
    assert not a.publish("dampwatch/dev-a/status").is_failure
    denied = a.publish("dampwatch/dev-b/up")
    assert denied.is_failure and "authori" in str(denied).lower()
    a.close()


def test_device_cannot_read_other_devices_and_ingestor_reads_all(secured):
    """A device subscribing to other devices' topics receives nothing; the ingestor's account receives all.

    Mosquitto 2.0 grants the SUBSCRIBE itself and applies the read ACL to each
    delivery, so the guarantee is checked where it matters: nothing arrives.
    """
    a = Session(secured["broker"], "dev-a", secured["a"])
    a.client.subscribe([("dampwatch/dev-b/up", 1), ("dampwatch/#", 1)])
    ingest = Session(secured["broker"], INGESTOR_USERNAME, secured["ingest"])
    ingest.client.subscribe("dampwatch/+/up", 1)
    b = Session(secured["broker"], "dev-b", secured["b"])
    import time

    deadline = time.monotonic() + 5
    while (len(a.suback) < 2 or not ingest.suback) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not ingest.suback[0].is_failure
    b.publish("dampwatch/dev-b/up", b'{"x": 1}')
    deadline = time.monotonic() + 5
    while not ingest.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m.topic for m in ingest.messages] == ["dampwatch/dev-b/up"]
    time.sleep(0.3)
    assert a.messages == []
    for s in (a, ingest, b):
        s.close()


def test_revoked_device_is_refused_after_reload(secured):
    """Revoking a device and reloading the broker (no restart) shuts it out; others carry on."""
    with secured["db"].session() as session:
        revoke_device(session, "dev-b")
        write_broker_files(session, secured["dir"], prefix="dampwatch")
    secured["broker"].reload()
    import time

    time.sleep(0.5)
    b = Session(secured["broker"], "dev-b", secured["b"])
    a = Session(secured["broker"], "dev-a", secured["a"])
    assert not b.accepted
    assert a.accepted
    a.close()
    b.close()


def test_provisioning_needs_a_known_property_and_room(tmp_path):
    """Provisioning refuses an unknown UPRN, and an unknown room unless its type is given."""
    database = Database(f"sqlite:///{tmp_path}/app.db")
    with database.session() as session:
        session.add(Property(uprn="5", address="5 Test Street", postcode="LS6 1AB"))
        session.flush()
        with pytest.raises(ValidationError, match="import the asset register"):
            provision_device(session, "d1", uprn="6", room="Bathroom", broker_host="h")
        with pytest.raises(ValidationError, match="--room-type"):
            provision_device(session, "d1", uprn="5", room="Bathroom", broker_host="h")
        result = provision_device(session, "d1", uprn="5", room="Bathroom", room_type="bathroom", broker_host="h")
        assert result.config["mqtt_username"] == "d1" and len(result.password) >= 32
    database.dispose()


def test_tls_with_verification_succeeds_and_a_wrong_ca_fails(tmp_path):
    """A client that trusts the generated CA connects over TLS; one trusting another CA is refused."""
    good = generate_test_ca(tmp_path / "good", ["localhost", "127.0.0.1"])
    other = generate_test_ca(tmp_path / "other", ["localhost"])
    broker = MosquittoBroker(tmp_path / "broker", tls_cert=good.server_cert, tls_key=good.server_key)
    with broker:
        trusted = Session(broker, tls_ca=good.ca_cert, host="localhost")
        assert trusted.accepted
        trusted.close()
        client = new_client("wrong-ca", protocol=mqtt.MQTTv5, tls_ca_file=str(other.ca_cert))
        with pytest.raises(ssl.SSLCertVerificationError):
            client.connect("localhost", broker.port)
        no_ca = new_client("system-store", protocol=mqtt.MQTTv5)
        no_ca.tls_set()  # the system's CAs do not know the pilot CA
        with pytest.raises(ssl.SSLCertVerificationError):
            no_ca.connect("localhost", broker.port)


def test_generated_files_work_with_the_cli(tmp_path, monkeypatch):
    """'dampwatch broker config --tls' writes a config a real mosquitto runs, and the ingestor logs in over TLS."""
    import os
    import signal

    from click.testing import CliRunner

    from core.mqtt import free_port, wait_for_port
    from dampwatch.cli import main

    monkeypatch.setenv("DAMPWATCH_DATABASE_URL", f"sqlite:///{tmp_path}/app.db")
    monkeypatch.setenv("DAMPWATCH_VAR_DIR", str(tmp_path))
    conf_dir = tmp_path / "conf"
    result = CliRunner().invoke(main, ["broker", "config", "--tls", "--dir", str(conf_dir)])
    assert result.exit_code == 0, result.output
    conf = (conf_dir / "mosquitto.conf").read_text()
    assert "max_queued_messages 10000000" in conf and "allow_anonymous false" in conf
    port = free_port()
    (conf_dir / "test.conf").write_text(
        conf.replace("listener 8883 0.0.0.0", f"listener {port} 127.0.0.1").replace("log_dest syslog", "log_dest stderr")
    )
    # Mosquitto drops to its own user before reading these files, as it would on a council's server:
    # let it through pytest's private temporary folders (search permission only).
    for parent in conf_dir.parents:
        os.chmod(parent, parent.stat().st_mode | 0o001)
    process = subprocess.Popen(["mosquitto", "-c", str(conf_dir / "test.conf")], stderr=subprocess.PIPE)
    try:
        wait_for_port("127.0.0.1", port)


        password = (conf_dir / "ingest-password").read_text().strip()
        broker = type("B", (), {"host": "localhost", "port": port})()
        ingest = Session(broker, INGESTOR_USERNAME, password, tls_ca=conf_dir / "tls" / "ca.crt")
        assert ingest.accepted
        ingest.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def test_stored_acknowledgement_is_written_by_the_ingestor_and_read_only_by_its_device(secured):
    """The ingestor may publish dampwatch/<id>/stored; device A reads its own, never B's, and cannot forge one."""
    import time

    ingest = Session(secured["broker"], INGESTOR_USERNAME, secured["ingest"])
    assert not ingest.publish("dampwatch/dev-a/stored", b'{"seq": 7}', retain=True).is_failure
    assert not ingest.publish("dampwatch/dev-b/stored", b'{"seq": 9}', retain=True).is_failure
    a = Session(secured["broker"], "dev-a", secured["a"])
    forged = a.publish("dampwatch/dev-a/stored", b'{"seq": 999}')
    assert forged.is_failure and "authori" in str(forged).lower()
    a.client.subscribe([("dampwatch/dev-a/stored", 1), ("dampwatch/dev-b/stored", 1)])
    deadline = time.monotonic() + 5
    while not a.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert [(m.topic, m.payload, m.retain) for m in a.messages] == [("dampwatch/dev-a/stored", b'{"seq": 7}', True)]
    for s in (a, ingest):
        s.close()
