"""Delivery channels: SMTP email, GOV.UK Notify (SMS and email), a signed webhook and printed letters.

Each channel has ``send(message) -> reference`` and raises :class:`alerts.outbox.DeliveryError` when it
cannot deliver (``permanent=True`` when retrying cannot help: an address the server refuses, a request
the other side rejects as invalid). :func:`build_senders` makes the channels the settings configure; a
channel without settings is left out, and its messages wait in the outbox until it is configured.

The webhook
-----------
``POST <DAMPWATCH_WEBHOOK_URL>`` with the event as JSON and three headers::

    X-DampWatch-Timestamp: 1795000000            (Unix seconds when it was signed)
    X-DampWatch-Signature: sha256=<hex>          (HMAC-SHA256 of "<timestamp>.<body>" with the shared secret)
    X-DampWatch-Delivery: <dedup key>            (the same on every retry of one event: de-duplicate on it)

A receiver recomputes the signature over the timestamp and the raw body, compares in constant time, and
refuses timestamps more than 5 minutes from its clock, so a captured request cannot be replayed later
(:func:`verify_signature` does exactly that).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from alerts.outbox import DeliveryError, Sender
from core.errors import ConfigError
from core.model_alerts import OutboxMessage
from core.private_files import private_file
from core.settings import name_value_pairs

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-DampWatch-Signature"
TIMESTAMP_HEADER = "X-DampWatch-Timestamp"
DELIVERY_HEADER = "X-DampWatch-Delivery"
REPLAY_TOLERANCE_S = 300


class SmtpEmail:
    """Email over SMTP (smtplib), with optional STARTTLS and login."""

    def __init__(self, host: str, port: int = 587, *, username: str | None = None, password: str | None = None,
                 sender: str = "DampWatch <dampwatch@localhost>", starttls: bool = True, timeout_s: float = 20.0,
                 tls_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.sender = sender
        self.starttls = starttls
        self.timeout_s = timeout_s
        self.tls_context = tls_context

    def send(self, message: OutboxMessage) -> str:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject or "A message from your housing team"
        email["Date"] = formatdate(localtime=False, usegmt=True)
        # The outbox id in the Message-ID lets a person match a message in doubt against the mail logs.
        email["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain="dampwatch")
        email.set_content(message.body)
        email["Content-Language"] = message.language  # after set_content, which resets Content-* headers
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.tls_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"the SMTP server refused {message.recipient}: {exc.recipients}",
                                permanent=True) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login failed (check DAMPWATCH_SMTP_USERNAME/PASSWORD): {exc}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"the SMTP server does not support STARTTLS (set DAMPWATCH_SMTP_STARTTLS=false "
                                f"only on a trusted network): {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise DeliveryError(f"the SMTP server refused {', '.join(refused)}", permanent=True)
        return str(email["Message-ID"])


class NotifyChannel:
    """SMS or email through GOV.UK Notify's API with its official client.

    ``templates`` maps ``"<message_type>.<sms|email>"`` to a Notify template id; otherwise the generic
    template of the channel is used. The personalisation is ``subject`` and ``body``: the words are
    rendered by DampWatch from its own templates (see alerts/templates/README.md). Notify's ``reference``
    is the outbox dedup key, so a message in doubt can be looked up in Notify.
    """

    def __init__(self, kind: str, api_key: str, *, base_url: str, generic_template_id: str | None,
                 templates: dict[str, str] | None = None, timeout_s: float = 20.0) -> None:
        from notifications_python_client.notifications import NotificationsAPIClient

        if kind not in ("sms", "email"):
            raise ValueError(f"Notify channel kind must be sms or email, not {kind!r}")
        check_notify_api_key(api_key)
        self.kind = kind
        self.client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout_s)
        self.generic_template_id = generic_template_id
        self.templates = templates or {}

    def template_for(self, message_type: str) -> str:
        template = self.templates.get(f"{message_type}.{self.kind}") or self.generic_template_id
        if not template:
            raise DeliveryError(f"no Notify {self.kind} template for {message_type!r}: set "
                                f"DAMPWATCH_NOTIFY_{self.kind.upper()}_TEMPLATE_ID or DAMPWATCH_NOTIFY_TEMPLATE_IDS",
                                permanent=True)
        return template

    def send(self, message: OutboxMessage) -> str:
        from notifications_python_client.errors import HTTPError

        template_id = self.template_for(message.message_type)
        personalisation = {"subject": message.subject, "body": message.body}
        try:
            if self.kind == "sms":
                response = self.client.send_sms_notification(
                    phone_number=message.recipient, template_id=template_id, personalisation=personalisation,
                    reference=message.dedup_key)
            else:
                response = self.client.send_email_notification(
                    email_address=message.recipient, template_id=template_id, personalisation=personalisation,
                    reference=message.dedup_key)
        except HTTPError as exc:
            status = exc.status_code
            # 400 (bad number, bad template) and 403 (bad key) will not get better by retrying.
            permanent = status in (400, 403)
            raise DeliveryError(f"GOV.UK Notify answered {status}: {exc.message}", permanent=permanent) from exc
        except Exception as exc:  # requests' connection errors and the client's InvalidResponse
            raise DeliveryError(f"GOV.UK Notify could not be reached: {type(exc).__name__}: {exc}") from exc
        return str(response.get("id", ""))


def check_notify_api_key(api_key: str) -> None:
    """Raise ``ConfigError`` unless the key looks like Notify's ``name-<service uuid>-<secret uuid>``."""
    import re

    if not re.fullmatch(r".+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                        r"-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", api_key or ""):
        raise ConfigError("DAMPWATCH_NOTIFY_API_KEY must look like name-<service id>-<secret>, as Notify's "
                          "API keys page shows it (two UUIDs after the key name)")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC-SHA256 of ``b"<timestamp>." + body``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, timestamp: str | None, signature: str | None, *,
                     now: float | None = None, tolerance_s: int = REPLAY_TOLERANCE_S) -> bool:
    """True when ``signature`` is ours for ``body`` and ``timestamp`` is within ``tolerance_s`` of now."""
    if not timestamp or not signature:
        return False
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, stamp), signature)


class Webhook:
    """A signed POST of an alarm or case event to the council's housing management system."""

    def __init__(self, url: str, secret: str, *, timeout_s: float = 20.0) -> None:
        if not secret:
            raise ConfigError("DAMPWATCH_WEBHOOK_URL is set but DAMPWATCH_WEBHOOK_SECRET is not; set a shared "
                              "secret so the receiver can check events came from DampWatch")
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s

    def send(self, message: OutboxMessage) -> str:
        body = message.body.encode("utf-8")
        stamp = int(time.time())
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self.secret, body, stamp),
            DELIVERY_HEADER: message.dedup_key,
            "User-Agent": "DampWatch-webhook/1",
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 409, 425, 429)
            raise DeliveryError(f"the webhook answered {exc.code} {exc.reason}", permanent=permanent) from exc
        except (OSError, urllib.error.URLError) as exc:
            raise DeliveryError(f"the webhook could not be reached: {exc}") from exc


class LetterQueue:
    """Letters wait to be printed: one text file each in a folder (the 'letter' channel).

    "Sent" for a letter means written to the print folder (``<id>-<type>.txt``, the address first); the
    print room takes the files from there.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def send(self, message: OutboxMessage) -> str:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{message.id:08d}-{message.message_type}.txt"
            tmp = private_file(path.with_suffix(".tmp"))  # a name and address: mode 0600
            printed = dt.datetime.now(dt.UTC).strftime("%d %B %Y")
            tmp.write_text(f"{message.recipient}\n\n{printed}\n\n{message.subject}\n\n{message.body}\n",
                           encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            raise DeliveryError(f"the letter could not be written to {self.folder}: {exc}") from exc
        return str(path)


def parse_template_ids(text: str) -> dict[str, str]:
    """``"ventilation.sms=abc, ventilation.email=def"`` → ``{"ventilation.sms": "abc", ...}``."""
    return name_value_pairs(text, "DAMPWATCH_NOTIFY_TEMPLATE_IDS", "'<type>.<sms|email>=<id>'")


def build_senders(settings) -> dict[str, Sender]:
    """The channels the settings configure, by outbox channel name (email, sms, letter, webhook)."""
    senders: dict[str, Sender] = {}
    templates = parse_template_ids(settings.notify_template_ids)
    if settings.notify_api_key:
        senders["sms"] = NotifyChannel("sms", settings.notify_api_key, base_url=settings.notify_base_url,
                                       generic_template_id=settings.notify_sms_template_id, templates=templates)
    if settings.alerts_email_via == "notify":
        if settings.notify_api_key:
            senders["email"] = NotifyChannel("email", settings.notify_api_key, base_url=settings.notify_base_url,
                                             generic_template_id=settings.notify_email_template_id,
                                             templates=templates)
    elif settings.smtp_host:
        senders["email"] = SmtpEmail(settings.smtp_host, settings.smtp_port, username=settings.smtp_username,
                                     password=settings.smtp_password, sender=settings.smtp_from,
                                     starttls=settings.smtp_starttls, timeout_s=settings.smtp_timeout_s)
    if settings.webhook_url:
        senders["webhook"] = Webhook(settings.webhook_url, settings.webhook_secret or "")
    senders["letter"] = LetterQueue(settings.alerts_letter_dir or Path(settings.var_dir) / "letters")
    return senders
