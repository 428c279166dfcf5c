"""Broker security: per-device credentials, Mosquitto password and ACL files, and a pilot TLS CA.

Each device logs in to the broker with its own user name (its device id) and
a random password. The app database keeps only the password's hash, already
in Mosquitto's own format (PBKDF2-SHA512, ``$7$``), so ``dampwatch broker
config`` can write the broker's password file at any time without knowing a
single password. The ACL lets a device write only under its own id; the
ingestor's account may read every device topic. Mosquitto re-reads both files
on SIGHUP, so provisioning or revoking a device needs no broker restart.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import ipaddress
import os
import secrets
from pathlib import Path

from core.errors import ValidationError
from core.model import validate_device_id

#: Mosquitto 2.x's PBKDF2-SHA512 settings, as `mosquitto_passwd` writes them.
PBKDF2_ITERATIONS = 101
PBKDF2_SALT_BYTES = 12
PBKDF2_HASH_BYTES = 64
DEVICE_PASSWORD_BYTES = 24
INGESTOR_USERNAME = "dampwatch-ingest"


def new_password() -> str:
    """A random password for a device or service account (URL-safe, 32 characters)."""
    return secrets.token_urlsafe(DEVICE_PASSWORD_BYTES)


def mosquitto_hash(password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """The password hash in Mosquitto's ``$7$`` format (what ``mosquitto_passwd`` writes)."""
    salt = salt if salt is not None else os.urandom(PBKDF2_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, PBKDF2_HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_mosquitto_hash(password: str, encoded: str) -> bool:
    """True when ``password`` matches a ``$7$`` hash."""
    try:
        _, kind, iterations, salt, digest = encoded.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    expected = mosquitto_hash(password, salt=base64.b64decode(salt), iterations=int(iterations))
    return secrets.compare_digest(expected.rsplit("$", 1)[1], digest)


@dataclasses.dataclass(frozen=True)
class Account:
    """A broker login: a device (writes under its own id) or a service (reads everything)."""

    username: str
    password_hash: str
    is_device: bool = True


def password_file_text(accounts: list[Account]) -> str:
    """Mosquitto's password file: ``user:hash`` lines."""
    lines = []
    for account in sorted(accounts, key=lambda a: a.username):
        if ":" in account.username or "\n" in account.username:
            raise ValidationError(f"user name {account.username!r} cannot be used in a Mosquitto password file")
        lines.append(f"{account.username}:{account.password_hash}")
    return "\n".join(lines) + ("\n" if lines else "")


def acl_file_text(accounts: list[Account], prefix: str) -> str:
    """Mosquitto's ACL file: a device writes only its own topics and reads only its own acknowledgement;
    services read all device topics and write the acknowledgements (``<prefix>/<id>/stored``)."""
    lines = [
        "# Written by 'dampwatch broker config'. Do not edit: it is regenerated from the app database.",
        "# Anything not allowed here is denied.",
        "",
    ]
    for account in sorted(accounts, key=lambda a: (a.is_device, a.username)):
        lines.append(f"user {account.username}")
        if account.is_device:
            validate_device_id(account.username)
            lines.append(f"topic write {prefix}/{account.username}/up")
            lines.append(f"topic write {prefix}/{account.username}/status")
            # the ingestor's end-to-end acknowledgement: which of its readings are in the store
            lines.append(f"topic read {prefix}/{account.username}/stored")
        else:
            lines.append(f"topic read {prefix}/#")
            lines.append(f"topic read $share/+/{prefix}/#")
            lines.append(f"topic write {prefix}/+/stored")
        lines.append("")
    return "\n".join(lines)


def write_private(path: Path, text: str, *, owner: str | None = "mosquitto") -> None:
    """Write ``path`` readable only by its owner (and by the ``mosquitto`` user, which must read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    if owner and os.geteuid() == 0:
        try:
            import pwd

            entry = pwd.getpwnam(owner)
            os.chown(tmp, entry.pw_uid, entry.pw_gid)
        except KeyError:
            os.chmod(tmp, 0o644)
    os.replace(tmp, path)


# -- TLS for a pilot --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TLSFiles:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def generate_test_ca(directory: Path, hostnames: list[str], *, days: int = 825) -> TLSFiles:
    """A private CA and a server certificate for the broker, for a pilot (not for production).

    The server certificate names every host in ``hostnames`` (DNS names or IP
    addresses) so clients can verify it. In production, use a certificate from
    the council's own CA or a public one instead.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DampWatch pilot CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(directory / "ca.crt", directory / "ca.key", directory / "server.crt", directory / "server.key")
    pem = serialization.Encoding.PEM
    files.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    files.server_cert.write_bytes(server_cert.public_bytes(pem))
    key_format = (serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_private(files.ca_key, ca_key.private_bytes(pem, *key_format).decode(), owner=None)
    write_private(files.server_key, server_key.private_bytes(pem, *key_format).decode())
    return files
