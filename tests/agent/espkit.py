# SPDX-License-Identifier: MIT
"""Host side of the ESP32 tests: signed bundles of ESP32 app images (as
MicroPython's micropython.bin is), for the stand-in esp32 module in
tests/agent/esp32stub, and the device-side prelude that flashes the
first image as the board's own tool would."""

import hashlib

from agent import kit
from bundles import espapp

STUB = kit.MP.parent / "esp32stub"
PART = 131072  # each OTA partition in the tests


def noise(seed, n):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha512(b"esp32 app %d %d" % (seed, i)).digest()
        i += 1
    return out[:n]


def app_image(version, size=24 * 1024, **kw):
    """An app image for the ESP32 whose code is the same in every version
    (a delta copies it) and whose data differs."""
    return espapp.image(str(version), code=noise(0, size // 2), ram=noise(version, size // 2),
                        **kw)


def bundle(tmp, name, version, data=None, **kw):
    """A signed firmware bundle for device class "board"."""
    kw.setdefault("security_counter", version)
    kw.setdefault("sequence", version)
    kw.setdefault("device_class", "board")
    return kit.bundle(tmp, name, app_image(version) if data is None else data,
                      version=version, target="firmware", **kw)


# Device side: the chip under `base`, v1 (a bundle's .img) flashed into
# ota_0 with the board's tool (whole sectors, as Partition.writeblocks
# erases them), the board reset once, and a device on it.
PRELUDE = """
import esp32, os
from mpota import trial
from mpota.errors import AgentError
from mpota.source.local import LocalSource
from mpota.update.install import Install
base = {base!r}
try:
    os.mkdir(base)
except OSError:
    pass

def flash(image_path, label="ota_0"):
    with open(image_path, "rb") as f:
        data = f.read()
    esp32.Partition(label).writeblocks(0, data + b"\\xff" * (-len(data) % 4096))

def power_on(**kw):
    return device(base, bank="esp32", dir=base, target="firmware", device_class="board", **kw)

esp32.configure(base, {part})
"""


def prelude(base):
    return PRELUDE.format(base=str(base), part=PART)


def run(target, base, code, **fmt):
    return kit.run(target, prelude(base) + code.format(**{k: str(v) for k, v in fmt.items()}),
                   extra_path=[STUB])
