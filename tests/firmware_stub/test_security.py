"""TLS with CA verification and username/password, as the device config and the MQTT adapter honour them."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.mqtt import MosquittoBroker
from firmware_stub.sim_hw import SimNetwork

pytestmark = pytest.mark.broker

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(command: str, *extra: str, cwd: Path) -> None:
    """Run ``openssl <command words> <extra>`` in ``cwd`` (extra arguments may contain spaces)."""
    subprocess.run(["openssl", *command.split(), *extra], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    """A test CA, a broker certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    folder = tmp_path / "broker"
    folder.mkdir()
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req -x509 -keyout ca.key -out ca.pem -days 2", *EC_KEY, "-subj", "/CN=DW CA", cwd=folder)
    openssl("req -keyout server.key -out server.csr", *EC_KEY, "-subj", "/CN=127.0.0.1", cwd=folder)
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.cnf",
        cwd=folder,
    )
    openssl(
        "req -x509 -keyout other.key -out other-ca.pem -days 2", *EC_KEY, "-subj", "/CN=Other", cwd=folder
    )
    return folder


@pytest.fixture
def tls_broker(certificates: Path) -> Iterator[MosquittoBroker]:
    """Mosquitto speaking only TLS, with the test CA's certificate for 127.0.0.1."""
    with MosquittoBroker(
        certificates, tls_cert=certificates / "server.pem", tls_key=certificates / "server.key"
    ) as b:
        yield b


@pytest.mark.parametrize(
    ("settings", "delivered"),
    [
        ({"tls": True, "tls_ca_file": "ca.pem"}, True),
        ({"tls": True, "tls_ca_file": "other-ca.pem"}, False),
        ({"tls": True, "tls_ca_file": None, "tls_verify": False}, True),
        ({"tls": False}, False),
    ],
    ids=["right-ca", "wrong-ca", "verify-off", "plain-to-tls"],
)
def test_tls_checks_the_broker_certificate(
    tls_broker: MosquittoBroker, certificates: Path, make_device, settings: dict, delivered: bool
) -> None:
    """With TLS the device delivers only to a broker whose certificate its CA signed; otherwise it buffers."""
    if settings.get("tls_ca_file"):
        settings = {**settings, "tls_ca_file": str(certificates / settings["tls_ca_file"])}
    with SimNetwork(tls_broker.host, tls_broker.port) as network:
        device = make_device(network, **settings)
        device.run(2)
    assert device.buffered() == (0 if delivered else 2)
    if str(settings.get("tls_ca_file")).endswith("other-ca.pem"):
        assert "CERTIFICATE_VERIFY_FAILED" in device.board.log_lines[-1]


@pytest.fixture
def password_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """Mosquitto that admits only user dw-sim-0001 with password right-password."""
    folder = tmp_path / "broker"
    folder.mkdir()
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(folder / "passwd"), "dw-sim-0001", "right-password"],
        check=True,
        capture_output=True,
    )
    with MosquittoBroker(folder, password_file=folder / "passwd") as broker:
        yield broker


@pytest.mark.parametrize(
    ("username", "password", "delivered"),
    [("dw-sim-0001", "right-password", True), ("dw-sim-0001", "wrong-password", False), (None, None, False)],
)
def test_username_and_password(
    password_broker: MosquittoBroker, make_device, username: str | None, password: str | None, delivered: bool
) -> None:
    """The device logs in with its username and password; a refused login is logged with its code and buffered."""
    with SimNetwork(password_broker.host, password_broker.port) as network:
        device = make_device(network, mqtt_username=username, mqtt_password=password)
        device.run(2)
    assert device.buffered() == (0 if delivered else 2)
    if not delivered:
        assert "MQTTException(5)" in device.board.log_lines[-1]  # 5: not authorised
