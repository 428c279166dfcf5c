"""The ESP32 board: the only module that touches ``machine``, ``network`` and ``ntptime``.

Wiring assumed by the defaults (all pins are settings): SHT3x on I2C 0 with
SCL on GPIO 22 and SDA on GPIO 21 (address 0x44, ADDR pin low); the battery
through a 1:1 resistor divider (``battery_divider`` 2.0) into GPIO 34, an
ADC1 pin, so it can be read while Wi-Fi is on.

A board gives the firmware exactly this, and ``sim_hw.SimBoard`` gives the
same under CPython:

``i2c``                          an object with ``writeto(addr, buf)`` and ``readfrom(addr, n)``
``sleep_ms(ms)``                 a short busy or light sleep
``ticks_ms()``, ``ticks_diff(a, b)``  a wrapping millisecond counter
``time()``, ``gmtime(secs)``     the RTC clock (port epoch) and its UTC breakdown
``sync_time(host)``              set the clock from NTP; True on success
``battery_mv()``                 battery voltage in millivolts
``wifi_connect(ssid, password, timeout_s)``  True once joined; ``wifi_off()``
``rtc_memory(data=None)``        read (no argument) or write the RTC memory bytes
``MQTTClient``                   umqtt.simple's classic constructor (see ``uplink``)
``network_errors``               the exceptions a failed network or broker raises
``log(message)``                 a line for the serial console
``deep_sleep(ms)``               sleep; on the ESP32 the next wake is a reset into /main.py
"""

import time

#: A wake that hangs (a broker that never answers) is reset by the watchdog after this long.
WATCHDOG_MS = 120000
#: How long a socket read may block once connected.
SOCKET_TIMEOUT_S = 15
_ADC_SAMPLES = 8


class _Client:
    """umqtt.simple's client with a socket timeout once connected (umqtt alone would block forever)."""

    def __init__(self, client):
        self._client = client

    @property
    def sock(self):
        return self._client.sock

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self._client.set_last_will(topic, msg, retain, qos)

    def connect(self, clean_session=True):
        result = self._client.connect(clean_session)
        try:
            self._client.sock.settimeout(SOCKET_TIMEOUT_S)
        except (AttributeError, OSError):
            pass  # an SSL socket without settimeout: the watchdog is the backstop
        return result

    def publish(self, topic, msg, retain=False, qos=0):
        return self._client.publish(topic, msg, retain, qos)

    def set_callback(self, callback):
        self._client.set_callback(callback)

    def subscribe(self, topic, qos=0):
        self._client.subscribe(topic, qos)

    def check_msg(self):
        """Handle one waiting message, if any, without blocking (then restore the socket timeout)."""
        try:
            return self._client.check_msg()
        finally:
            try:
                self._client.sock.settimeout(SOCKET_TIMEOUT_S)
            except (AttributeError, OSError):
                pass

    def disconnect(self):
        self._client.disconnect()


def _ssl_context(ssl_params):
    """An SSLContext built from classic ``ssl_params`` (for umqtt.simple 1.4 and later)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl_params.get("cert_reqs", ssl.CERT_NONE)
    if "cadata" in ssl_params:
        context.load_verify_locations(cadata=ssl_params["cadata"])
    return context


class Esp32Board:
    """The hardware behind the firmware, configured from the settings (pins, divider)."""

    def __init__(self, cfg):
        import machine
        from umqtt.simple import MQTTClient, MQTTException

        self._machine = machine
        self._umqtt_client = MQTTClient
        self.network_errors = (OSError, MQTTException)
        self._watchdog = machine.WDT(timeout=WATCHDOG_MS)
        self.i2c = machine.I2C(
            cfg.i2c_id,
            scl=machine.Pin(cfg.i2c_scl_pin),
            sda=machine.Pin(cfg.i2c_sda_pin),
            freq=cfg.i2c_freq_hz,
        )
        self._adc = machine.ADC(machine.Pin(cfg.battery_adc_pin))
        self._adc.atten(machine.ADC.ATTN_11DB)
        self._divider = cfg.battery_divider
        self._rtc = machine.RTC()
        self._wlan = None

    # -- time --------------------------------------------------------------------------------

    def sleep_ms(self, ms):
        time.sleep_ms(ms)  # type: ignore[attr-defined]  # MicroPython's time module

    def ticks_ms(self):
        return time.ticks_ms()  # type: ignore[attr-defined]  # MicroPython's time module

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)  # type: ignore[attr-defined]  # MicroPython's time module

    def time(self):
        return time.time()

    def gmtime(self, secs):
        return getattr(time, "gmtime", time.localtime)(secs)

    def sync_time(self, host):
        import ntptime

        ntptime.host = host
        try:
            ntptime.settime()
        except (OSError, OverflowError, IndexError) as exc:
            self.log("ntp: %r" % (exc,))
            return False
        return True

    # -- power and memory --------------------------------------------------------------------

    def battery_mv(self):
        total_uv = 0
        for _ in range(_ADC_SAMPLES):
            total_uv += self._adc.read_uv()
        return int(total_uv * self._divider / _ADC_SAMPLES / 1000)

    def rtc_memory(self, data=None):
        if data is None:
            return self._rtc.memory()
        self._rtc.memory(data)
        return data

    def deep_sleep(self, ms):
        self._machine.deepsleep(ms)

    def log(self, message):
        print("dampwatch:", message)

    # -- network -----------------------------------------------------------------------------

    def wifi_connect(self, ssid, password, timeout_s):
        import network

        if self._wlan is None:
            self._wlan = network.WLAN(network.STA_IF)
        wlan = self._wlan
        wlan.active(True)
        if wlan.isconnected():
            return True
        try:
            wlan.connect(ssid, password)
        except OSError as exc:
            self.log("wifi: %r" % (exc,))
            return False
        deadline = time.ticks_add(time.ticks_ms(), timeout_s * 1000)  # type: ignore[attr-defined]  # MicroPython's time module
        while time.ticks_diff(deadline, time.ticks_ms()) > 0:  # type: ignore[attr-defined]  # MicroPython's time module
            if wlan.isconnected():
                return True
            time.sleep_ms(100)  # type: ignore[attr-defined]  # MicroPython's time module
        return wlan.isconnected()

    def wifi_off(self):
        if self._wlan is not None:
            try:
                self._wlan.disconnect()
            except OSError:
                pass  # not connected
            self._wlan.active(False)

    def MQTTClient(self, client_id, server, port, user, password, keepalive, ssl, ssl_params):
        """An umqtt.simple client, whichever of its two TLS APIs the installed version has."""
        try:
            client = self._umqtt_client(client_id, server, port, user, password, keepalive, ssl, ssl_params)
        except TypeError:
            # umqtt.simple 1.4 and later take an SSLContext (or None) instead of ssl + ssl_params.
            context = _ssl_context(ssl_params) if ssl else None
            client = self._umqtt_client(client_id, server, port, user, password, keepalive, context)
        return _Client(client)
