"""The MQTT side of a wake: client set-up, TLS parameters and the last will.

The client is anything with umqtt.simple's classic API:
``MQTTClient(client_id, server, port, user, password, keepalive, ssl, ssl_params)``,
``set_last_will``, ``connect(clean_session=...)``, ``publish(topic, msg, retain, qos)``
(QoS 1 returns after the PUBACK) and ``disconnect``. The board supplies the
class: umqtt.simple on the ESP32, a paho-based stand-in under CPython.
"""

import binascii

#: The values of ssl.CERT_NONE / ssl.CERT_REQUIRED (the same in MicroPython and CPython).
CERT_NONE = 0
CERT_REQUIRED = 2
#: The last will, retained on the status topic: what the broker says when the device vanishes.
OFFLINE_STATUS = '{"status": "offline"}'


def ca_der(path):
    """The first certificate in the file at ``path`` as DER bytes (the file may be PEM or DER)."""
    with open(path, "rb") as f:
        data = f.read()
    begin = data.find(b"-----BEGIN CERTIFICATE-----")
    if begin < 0:
        return data
    start = data.find(b"\n", begin) + 1
    end = data.find(b"-----END CERTIFICATE-----", start)
    if start <= 0 or end < 0:
        raise ValueError("%s has a BEGIN CERTIFICATE line without its END line" % path)
    return binascii.a2b_base64(b"".join(data[start:end].split()))


def ssl_params(cfg):
    """``ssl_params`` for the client: the CA to check the broker against and the name to check."""
    if not cfg.tls:
        return {}
    params = {"server_hostname": cfg.broker_host}
    if cfg.tls_verify:
        params["cert_reqs"] = CERT_REQUIRED
        params["cadata"] = ca_der(cfg.tls_ca_file)
    else:
        params["cert_reqs"] = CERT_NONE
    return params


def new_client(board, cfg):
    """A client for this device, its last will already set (retained ``{"status": "offline"}``, QoS 1)."""
    user = password = None
    if cfg.mqtt_username:
        # Bytes: umqtt.simple sizes packets with len(), which counts characters in a str. It also
        # sends the password field whenever a user is given, so it must not be None.
        user = cfg.mqtt_username.encode()
        password = (cfg.mqtt_password or "").encode()
    client = board.MQTTClient(
        cfg.device_id,
        cfg.broker_host,
        cfg.port,
        user,
        password,
        cfg.keepalive_s,
        cfg.tls,
        ssl_params(cfg),
    )
    client.set_last_will(cfg.status_topic.encode(), OFFLINE_STATUS.encode(), True, 1)
    return client


def abandon(client):
    """Drop a broken connection without a DISCONNECT (so the broker publishes the last will)."""
    sock = getattr(client, "sock", None)
    if sock is None:
        return
    try:
        sock.close()
    except OSError:
        pass  # already closed by the failure that brought us here
