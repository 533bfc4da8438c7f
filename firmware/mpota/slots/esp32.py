# SPDX-License-Identifier: MIT
"""The ESP32's two OTA app partitions, through esp32.Partition.

The ESP-IDF bootloader starts the partition named in otadata; set_boot()
changes it, after checking the partition holds a valid app image for
this chip (esp_image_verify: header, segments, checksum, appended
SHA-256): an image it refuses raises OSError(-5379), which select()
turns into AgentError('unbootable'), otadata unchanged. With the
bootloader's rollback enabled, an image that has not called
mark_app_valid_cancel_rollback() before the next reset is given up by
the bootloader itself; boot() notices (the running partition is not the
trial one) and records the revert. Without it, boot()'s own attempt
count reverts by set_boot() on the previous partition and a reset.
"""

from ..errors import AgentError
from ..flash.blockdev import BlockFlash
from ..flash.region import Region

from micropython import const


_OTA_0 = const(0x10)  # ESP-IDF app subtypes ota_0, ota_1
# esp_err_t values as MicroPython raises them (OSError(-code)):
_VALIDATE_FAILED = const(-0x1503)  # ESP_ERR_OTA_VALIDATE_FAILED: not a valid app
_NO_OTADATA = const(-0x105)  # ESP_ERR_NOT_FOUND: no otadata partition
_FAIL = const(1)  # ESP_FAIL: no otadata entry selects the running app


def _index(p):
    sub = p.info()[1]
    return sub - _OTA_0 if sub in (_OTA_0, _OTA_0 + 1) else None


class PartitionBank:
    bootloader = True

    def __init__(self, esp32=None):
        if esp32 is None:
            import esp32
        self.esp32 = esp32
        P = esp32.Partition
        parts = [p for p in P.find(P.TYPE_APP) if _index(p) is not None]
        if len(parts) != 2 or _index(parts[0]) == _index(parts[1]):
            raise OSError("no ota_0 and ota_1 partitions")
        if _index(parts[0]):
            parts.reverse()
        self.parts = parts
        self.regions = []
        for p in self.parts:
            f = BlockFlash(p)
            self.regions.append(Region(f, 0, f.size))

    def running(self):
        P = self.esp32.Partition
        return _index(P(P.RUNNING))

    def next(self):
        # The partition ESP-IDF would update next: never the running one.
        P = self.esp32.Partition
        return _index(P(P.RUNNING).get_next_update())

    def prepare(self, i, size):
        pass

    def select(self, i):
        try:
            self.parts[i].set_boot()
        except OSError as e:
            if _errno(e) == _VALIDATE_FAILED:
                raise AgentError("unbootable")
            raise

    def enter(self, i):
        pass

    def commit(self, i):
        try:
            self.esp32.Partition.mark_app_valid_cancel_rollback()
        except OSError as e:
            # Nothing to cancel: a partition table without otadata
            # (MicroPython documents OSError(-261)), or otadata with no
            # entry selecting an app (erased: a board flashed with
            # esptool, or its only entry given up by the bootloader), so
            # the bootloader boots ota_0 by default and rolls nothing
            # back. Any other failure (a flash write) is reported: the
            # image would be rolled back at the next reset.
            if _errno(e) not in (_NO_OTADATA, _FAIL):
                raise


def _errno(e):
    return e.args[0] if e.args else None

