"""The simulated hardware itself: the umqtt-style adapter over paho, the clock, the I2C bus."""

from __future__ import annotations

import errno
import time

import pytest

from core.mqtt import MosquittoBroker
from firmware_stub.sim_hw import (
    RTC_POWER_ON_EPOCH_S,
    TICKS_PERIOD,
    MQTTClient,
    SHT3xModel,
    SimClock,
    SimI2C,
    SimNetwork,
)

from .conftest import Subscriber


@pytest.mark.broker
def test_qos1_publish_returns_after_the_puback(mosquitto: MosquittoBroker, network: SimNetwork) -> None:
    """When a QoS 1 publish returns, the broker has the message (a retained one is there for a new subscriber)."""
    client = MQTTClient("adapter-test", network.host, network.port, keepalive=30, network=network)
    client.connect()
    client.publish(b"dampwatch/adapter-test/status", b'{"status": "online"}', retain=True, qos=1)
    late = Subscriber(mosquitto.host, mosquitto.port, topic="dampwatch/adapter-test/status", client_id="late")
    try:
        late.wait_for(lambda s: len(s.messages) == 1, what="the retained message")
        assert late.messages[0][1] == b'{"status": "online"}'
    finally:
        late.close()
        client.disconnect()


@pytest.mark.broker
def test_publish_raises_oserror_when_the_network_is_cut(network: SimNetwork) -> None:
    """A publish on a connection the network dropped raises OSError, as umqtt.simple does."""
    client = MQTTClient("adapter-test", network.host, network.port, keepalive=30, network=network)
    client.connect()
    network.cut()
    with pytest.raises(OSError):
        client.publish(b"dampwatch/adapter-test/up", b"{}", qos=1)
    with pytest.raises(OSError) as caught:
        client.connect()
    assert caught.value.errno == errno.ENETUNREACH


@pytest.mark.broker
def test_connection_refused_by_a_dead_route(network: SimNetwork, mosquitto: MosquittoBroker) -> None:
    """With the broker stopped, connect raises OSError instead of hanging."""
    mosquitto.stop()
    client = MQTTClient("adapter-test", network.host, network.port, keepalive=30, network=network)
    started = time.monotonic()
    with pytest.raises(OSError):
        client.connect()
    assert time.monotonic() - started < 5


def test_rtc_restarts_in_2000_after_power_on() -> None:
    """The device clock reads 2000-01-01 after power-on until NTP sets it; the world clock goes on."""
    clock = SimClock()
    assert clock.rtc_s() == RTC_POWER_ON_EPOCH_S
    clock.advance(90)
    assert clock.rtc_s() == RTC_POWER_ON_EPOCH_S + 90
    clock.set_from_ntp()
    assert clock.rtc_s() == int(clock.world_s) and clock.rtc_set
    clock.power_on()
    assert clock.rtc_s() == RTC_POWER_ON_EPOCH_S and not clock.rtc_set


@pytest.mark.parametrize(
    ("a", "b", "diff"), [(10, 5, 5), (5, 10, -5), (3, TICKS_PERIOD - 2, 5), (TICKS_PERIOD - 2, 3, -5)]
)
def test_ticks_diff_wraps_like_micropython(a: int, b: int, diff: int) -> None:
    """ticks_diff gives the signed difference on the 2**30 wrapping counter."""
    assert SimClock.ticks_diff(a, b) == diff


def test_bus_errors_look_like_micropython() -> None:
    """An absent address raises ENODEV and an unknown command is NACKed with EIO."""
    clock = SimClock()
    bus = SimI2C(SHT3xModel(clock))
    assert bus.scan() == [0x44]
    with pytest.raises(OSError) as absent:
        bus.writeto(0x45, b"\x24\x00")
    assert absent.value.errno == errno.ENODEV
    with pytest.raises(OSError) as nack:
        bus.writeto(0x44, b"\xf3\x2d")
    assert nack.value.errno == errno.EIO
