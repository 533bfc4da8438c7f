# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `wifi` (shared-bindings/wifi): one radio
that "joins" a network by name; the traffic then goes over the host's
loopback. A wrong password or an unknown network raises ConnectionError,
as the real radio does."""

import os

try:
    ConnectionError
except NameError:  # MicroPython has none; CircuitPython's is an OSError
    class ConnectionError(OSError):
        pass

# The network the tests' board may join: CPY_STANDIN_SSID / _PASSWORD.
_SSID = os.getenv("CPY_STANDIN_SSID") or "mpota-test"
_PASSWORD = os.getenv("CPY_STANDIN_PASSWORD") or "mpota-pass"


class Radio:
    _standin_radio = True

    def __init__(self):
        self.enabled = True
        self.connected = False
        self.ipv4_address = None
        self.ap_info = None

    def connect(self, ssid, password="", *, channel=0, bssid=None, timeout=None):
        if not self.enabled:
            raise RuntimeError("Wifi is not enabled")
        if isinstance(ssid, bytes):
            ssid = ssid.decode()
        if isinstance(password, bytes):
            password = password.decode()
        if ssid != _SSID:
            raise ConnectionError("No network with that ssid")
        if password != _PASSWORD:
            raise ConnectionError("Authentication failure")
        self.connected = True
        self.ipv4_address = "127.0.0.1"

    def stop_station(self):
        self.connected = False
        self.ipv4_address = None


radio = Radio()
