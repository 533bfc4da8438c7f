# SPDX-License-Identifier: MIT
# A stand-in for MicroPython's `esp32` module, for the ESP32 slot tests on
# the unix port: Partition on top of the NOR flash model (two OTA app
# partitions), with otadata kept in a JSON file and the ESP-IDF
# bootloader's choice at reset, rollback included, in reset().
#
# Only what mpota's PartitionBank uses is here, with the same signatures
# as the real module: Partition(Partition.RUNNING), Partition.find(),
# info(), readblocks(), writeblocks() (with and without offset), ioctl(),
# set_boot(), get_next_update(), mark_app_valid_cancel_rollback().

import json

from mpota.flash.nor import NorFile

_BLOCK = 4096
_BASE = []


def configure(base, part_size=65536):
    """Create (or reopen) the chip under base: ota_0 then ota_1."""
    _BASE[:] = [base, part_size, NorFile(base + "/esp32-flash", 2 * part_size, _BLOCK, 256, 1)]
    try:
        _load()
    except OSError:
        _save({"boot": "ota_0", "state": "valid", "running": "ota_0", "prev": "ota_0"})


def _load():
    with open(_BASE[0] + "/otadata") as f:
        return json.load(f)


def _save(d):
    with open(_BASE[0] + "/otadata", "w") as f:
        f.write(json.dumps(d))


def reset(rollback=True):
    """The bootloader at reset: start the boot partition; with rollback on,
    an image still pending verification from its first boot is given up."""
    d = _load()
    if d["state"] == "new":
        d["state"] = "pending"
        d["running"] = d["boot"]
    elif d["state"] == "pending" and rollback:
        d["state"] = "aborted"
        d["boot"] = d["prev"]
        d["running"] = d["prev"]
    else:
        d["running"] = d["boot"]
    _save(d)
    return d["running"]


def otadata():
    return _load()


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id):
        if id == Partition.RUNNING:
            id = _load()["running"]
        elif id == Partition.BOOT:
            id = _load()["boot"]
        if id not in ("ota_0", "ota_1"):
            raise ValueError("no partition")
        self.label = id
        self.addr = 0 if id == "ota_0" else _BASE[1]

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None):
        if type != Partition.TYPE_APP:
            return []
        return [Partition(n) for n in ("ota_0", "ota_1") if label in (None, n)]

    def info(self):
        return (0, 0x10 if self.label == "ota_0" else 0x11, self.addr, _BASE[1], self.label, False)

    def readblocks(self, block, buf, offset=0):
        _BASE[2].read(self.addr + block * _BLOCK + offset, buf)

    def writeblocks(self, block, buf, offset=None):
        chip = _BASE[2]
        addr = self.addr + block * _BLOCK
        if offset is None:
            # The simple protocol erases the blocks first.
            for b in range((len(buf) + _BLOCK - 1) // _BLOCK):
                chip.erase(addr + b * _BLOCK)
            offset = 0
        addr += offset
        # The IDF flash driver splits a write at page boundaries.
        mv = memoryview(buf)
        pos = 0
        while pos < len(buf):
            n = min(len(buf) - pos, 256 - (addr + pos) % 256)
            chip.program(addr + pos, mv[pos:pos + n])
            pos += n

    def ioctl(self, op, arg):
        if op == 4:
            return _BASE[1] // _BLOCK
        if op == 5:
            return _BLOCK
        if op == 6:
            _BASE[2].erase(self.addr + arg * _BLOCK)
            return 0
        return None

    def set_boot(self):
        d = _load()
        d["prev"] = d["running"]
        d["boot"] = self.label
        d["state"] = "new"
        _save(d)

    def get_next_update(self):
        return Partition("ota_1" if self.label == "ota_0" else "ota_0")

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        d = _load()
        d["state"] = "valid"
        _save(d)
