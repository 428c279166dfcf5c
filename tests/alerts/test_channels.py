"""Channels against real servers: SMTP with STARTTLS and login, a signed webhook, Notify's API stood in locally.

The real GOV.UK Notify service cannot be reached from here: the Notify tests run the official client
(``notifications-python-client``) making real HTTP requests to a local server at ``base_url`` that checks
what Notify checks (the JWT signed with the API key's secret, the service id, the payload).
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
import uuid

import pytest

from alerts.channels import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    LetterQueue,
    NotifyChannel,
    SmtpEmail,
    Webhook,
    build_senders,
    check_notify_api_key,
    parse_template_ids,
    sign,
    verify_signature,
)
from alerts.outbox import DeliveryError
from core.errors import ConfigError
from core.model_alerts import OutboxMessage
from tests.alerts.conftest import SmtpServer, free_port, start_receiver

SERVICE_ID = str(uuid.uuid4())
SECRET = str(uuid.uuid4())
API_KEY = f"dampwatch_test-{SERVICE_ID}-{SECRET}"
SMS_TEMPLATE = str(uuid.uuid4())
EMAIL_TEMPLATE = str(uuid.uuid4())


def message(**values) -> OutboxMessage:
    fields = {"id": 7, "channel": "email", "recipient": "sam@example.org", "message_type": "ventilation",
              "language": "en", "subject": "Help with steam", "body": "Dear Sam,\n\nOpen the window.",
              "dedup_key": "tenant:1:ventilation|alarm:3", **values}
    return OutboxMessage(**fields)


# -- SMTP --------------------------------------------------------------------------------------------------------


def test_smtp_with_starttls_and_login(tmp_path):
    """Against a real aiosmtpd requiring STARTTLS and AUTH, the message goes over TLS after logging in."""
    from core.broker_auth import generate_test_ca

    files = generate_test_ca(tmp_path / "tls", ["127.0.0.1"])
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(files.server_cert, files.server_key)
    server = SmtpServer(free_port(), tls_context=server_context, auth=("dampwatch", "s3cret")).start()
    try:
        client_context = ssl.create_default_context(cafile=str(files.ca_cert))
        channel = SmtpEmail("127.0.0.1", server.port, username="dampwatch", password="s3cret",
                            sender="alerts@example.org", starttls=True, tls_context=client_context, timeout_s=5)
        channel.send(message())
    finally:
        server.stop()
    (received,) = server.received
    assert received["tls"] is True and received["authenticated"] is True
    assert received["to"] == ["sam@example.org"]
    assert received["message"]["Content-Language"] == "en"


def test_smtp_that_is_down_is_a_temporary_error():
    """No server listening: a DeliveryError that is not permanent (the outbox retries it)."""
    with pytest.raises(DeliveryError) as caught:
        SmtpEmail("127.0.0.1", free_port(), starttls=False, timeout_s=2).send(message())
    assert caught.value.permanent is False


# -- the webhook -------------------------------------------------------------------------------------------------


def test_webhook_signature_is_verified_by_a_real_receiver():
    """A receiver over HTTP recomputes the HMAC over timestamp and body with the shared secret."""
    secret = "shared-secret-for-tests"
    verdicts = []

    def check(request):
        headers = request["headers"]
        verdicts.append(verify_signature(secret, request["body"], headers.get(TIMESTAMP_HEADER),
                                         headers.get(SIGNATURE_HEADER)))
        return (200, {}) if verdicts[-1] else (401, {"error": "bad signature"})

    receiver = start_receiver(check)
    try:
        body = json.dumps({"event": "alarm.raised", "alarm": {"id": 3, "uprn": "100000000001"}})
        reference = Webhook(receiver.url + "/hms/events", secret).send(message(channel="webhook", body=body))
        assert reference == "HTTP 200"
        with pytest.raises(DeliveryError) as caught:
            Webhook(receiver.url + "/hms/events", "the-wrong-secret").send(message(channel="webhook", body=body))
        assert caught.value.permanent is True  # 401: retrying with the same secret cannot help
    finally:
        receiver.server.shutdown()
    assert verdicts == [True, False]
    first = receiver.requests[0]
    assert first["path"] == "/hms/events" and json.loads(first["body"]) == json.loads(body)
    assert first["headers"][DELIVERY_HEADER] == "tenant:1:ventilation|alarm:3"
    assert first["headers"][SIGNATURE_HEADER].startswith("sha256=")


def test_a_replayed_or_tampered_webhook_is_refused():
    """An old timestamp, a changed body or a missing header fails verification."""
    body = b'{"event": "alarm.raised"}'
    now = int(time.time())
    good = sign("k", body, now)
    assert verify_signature("k", body, str(now), good)
    assert not verify_signature("k", body, str(now - 301), sign("k", body, now - 301))
    assert not verify_signature("k", body + b" ", str(now), good)
    assert not verify_signature("k", body, str(now + 1), good)
    assert not verify_signature("k", body, None, good)
    assert not verify_signature("k", body, "not-a-number", good)


def test_a_webhook_receiver_that_is_down_is_retried():
    """Connection refused and 503 are temporary errors."""
    receiver = start_receiver()
    receiver.status[0] = 503
    try:
        with pytest.raises(DeliveryError) as caught:
            Webhook(receiver.url, "k").send(message(channel="webhook", body="{}"))
        assert caught.value.permanent is False
    finally:
        receiver.server.shutdown()
    with pytest.raises(DeliveryError) as caught:
        Webhook(f"http://127.0.0.1:{free_port()}/", "k").send(message(channel="webhook", body="{}"))
    assert caught.value.permanent is False


def test_a_webhook_needs_a_secret():
    """A webhook URL without a shared secret is a configuration error saying what to set."""
    with pytest.raises(ConfigError, match="DAMPWATCH_WEBHOOK_SECRET"):
        Webhook("http://127.0.0.1/", "")


# -- GOV.UK Notify (a local stand-in for its API) ----------------------------------------------------------------


def notify_stand_in(status: int = 201):
    """A local server answering like Notify's API, and checking the client's JWT as Notify does."""
    from notifications_python_client.authentication import decode_jwt_token, get_token_issuer

    def answer(request):
        token = request["headers"]["Authorization"].removeprefix("Bearer ")
        assert get_token_issuer(token) == SERVICE_ID
        assert decode_jwt_token(token, SECRET)
        payload = json.loads(request["body"])
        if status != 201:
            return status, {"status_code": status, "errors": [{"error": "BadRequestError",
                                                                "message": "phone_number Not a UK mobile number"}]}
        return 201, {"id": str(uuid.uuid4()), "reference": payload.get("reference"),
                     "content": {"body": payload["personalisation"]["body"]}, "template": {"id": payload["template_id"]}}

    return start_receiver(answer)


def test_notify_sms_and_email_through_the_official_client():
    """The client posts to /v2/notifications/sms and /email with our template ids, personalisation and reference."""
    stand_in = notify_stand_in()
    try:
        sms = NotifyChannel("sms", API_KEY, base_url=stand_in.url, generic_template_id=SMS_TEMPLATE)
        email = NotifyChannel("email", API_KEY, base_url=stand_in.url, generic_template_id=EMAIL_TEMPLATE,
                              templates={"ventilation.email": "11111111-2222-3333-4444-555555555555"})
        sms_id = sms.send(message(channel="sms", recipient="07700900123", message_type="sensor_silent"))
        email.send(message())
    finally:
        stand_in.server.shutdown()
    first, second = (json.loads(r["body"]) for r in stand_in.requests)
    assert [r["path"] for r in stand_in.requests] == ["/v2/notifications/sms", "/v2/notifications/email"]
    assert first == {"phone_number": "07700900123", "template_id": SMS_TEMPLATE, "reference": message().dedup_key,
                     "personalisation": {"subject": "Help with steam", "body": "Dear Sam,\n\nOpen the window."}}
    assert second["template_id"] == "11111111-2222-3333-4444-555555555555"  # the per-type template wins
    assert second["email_address"] == "sam@example.org"
    assert uuid.UUID(sms_id)


def test_notify_rejecting_a_number_is_permanent():
    """Notify's 400 (not a mobile number) fails the message at once rather than retrying."""
    stand_in = notify_stand_in(status=400)
    try:
        with pytest.raises(DeliveryError, match="Not a UK mobile number") as caught:
            NotifyChannel("sms", API_KEY, base_url=stand_in.url, generic_template_id=SMS_TEMPLATE).send(
                message(channel="sms", recipient="0113 496 0000"))
    finally:
        stand_in.server.shutdown()
    assert caught.value.permanent is True


def test_notify_unreachable_is_temporary():
    """No Notify at the address: retried later."""
    channel = NotifyChannel("sms", API_KEY, base_url=f"http://127.0.0.1:{free_port()}", generic_template_id=SMS_TEMPLATE,
                            timeout_s=2)
    with pytest.raises(DeliveryError) as caught:
        channel.send(message(channel="sms", recipient="07700900123"))
    assert caught.value.permanent is False


@pytest.mark.parametrize("key", ["", "just-a-key", f"name-{SERVICE_ID}", f"{SERVICE_ID}-{SECRET}"])
def test_a_notify_key_in_the_wrong_shape_is_refused(key):
    """Notify keys are name-<uuid>-<uuid>; anything else is a ConfigError saying so."""
    with pytest.raises(ConfigError, match="name-<service id>-<secret>"):
        check_notify_api_key(key)


def test_template_ids_setting():
    """'type.channel=id' pairs, comma-separated; a malformed pair is a ConfigError."""
    assert parse_template_ids(" ventilation.sms=a, damp_risk.email = b ,") == {"ventilation.sms": "a",
                                                                              "damp_risk.email": "b"}
    with pytest.raises(ConfigError, match=r"ventilation\.sms"):
        parse_template_ids("ventilation.sms")


# -- letters and the set of channels ------------------------------------------------------------------------------


def test_letters_wait_in_the_print_folder(tmp_path):
    """A letter is written, address first, as one file for the print room."""
    path = LetterQueue(tmp_path / "letters").send(message(channel="letter", recipient="Sam Jones\n1 Beech Road\nLS6 1AB"))
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert text.startswith("Sam Jones\n1 Beech Road\nLS6 1AB\n") and "Open the window." in text
    assert path.endswith("00000007-ventilation.txt")


def test_senders_follow_the_settings(settings):
    """Only configured channels are built: email via SMTP or Notify, SMS via Notify, the webhook, letters."""
    assert set(build_senders(settings)) == {"letter"}
    configured = settings.model_copy(update={
        "smtp_host": "127.0.0.1", "notify_api_key": API_KEY, "notify_sms_template_id": SMS_TEMPLATE,
        "webhook_url": "http://127.0.0.1:1/", "webhook_secret": "k"})
    senders = build_senders(configured)
    assert set(senders) == {"email", "sms", "letter", "webhook"}
    assert isinstance(senders["email"], SmtpEmail)
    via_notify = build_senders(configured.model_copy(update={"alerts_email_via": "notify"}))
    assert isinstance(via_notify["email"], NotifyChannel)


def test_secrets_can_come_from_files_and_are_hidden(tmp_path, monkeypatch, settings):
    """SMTP password, Notify key and webhook secret are read from *_FILE and never shown in redacted()."""
    from core.settings import load_settings

    for name, value in (("SMTP_PASSWORD", "pw"), ("NOTIFY_API_KEY", API_KEY), ("WEBHOOK_SECRET", "hook")):
        path = tmp_path / name.lower()
        path.write_text(value + "\n")
        monkeypatch.setenv(f"DAMPWATCH_{name}_FILE", str(path))
    loaded = load_settings()
    assert (loaded.smtp_password, loaded.notify_api_key, loaded.webhook_secret) == ("pw", API_KEY, "hook")
    shown = loaded.redacted()
    assert shown["smtp_password"] == shown["notify_api_key"] == shown["webhook_secret"] == "********"


def test_the_default_quiet_hours_and_rate_limit():
    """The defaults the issue asks for: 21:00-08:00 quiet hours, one message per type per 3 days."""
    from core.settings import Settings

    defaults = Settings()
    assert defaults.alerts_quiet_hours == "21:00-08:00" and defaults.alerts_rate_limit_days == 3
    assert dt.timedelta(minutes=defaults.tenant_link_minutes) == dt.timedelta(minutes=30)
