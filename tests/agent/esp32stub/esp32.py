# SPDX-License-Identifier: MIT
# A stand-in for MicroPython's `esp32` module on the unix port, as strict
# as the chip wherever mpota relies on it. Written from MicroPython
# v1.25's ports/esp32/esp32_partition.c and ESP-IDF v5.2's
# esp_ota_ops.c, esp_partition, esp_image_format.c and bootloader_utility.c
# (read, not copied):
#
# - Partition: two OTA app partitions (ota_0, ota_1) on the NOR flash
#   model. Reads, writes and erases are bounded by the partition
#   (OSError(-258) ESP_ERR_INVALID_ARG for an offset past it, -260
#   ESP_ERR_INVALID_SIZE for a length that runs past it); the 3-argument
#   writeblocks() erases len(buf) bytes first, which must be whole 4 KB
#   sectors (-260 otherwise, nothing erased or written).
# - set_boot() runs esp_image_verify() on the partition (magic, chip id
#   and revision, segment count, segment lengths and flash alignment,
#   checksum, appended SHA-256, image length against the partition) and
#   raises OSError(-5379) ESP_ERR_OTA_VALIDATE_FAILED without touching
#   otadata when it fails. Otherwise it writes the next otadata entry:
#   sequence number for the partition, state NEW (rollback on) or
#   UNDEFINED (off).
# - otadata is two entries, one per flash sector, each written as an
#   erase then a program (two operations: a cut between them leaves that
#   entry erased, which ESP-IDF reads as invalid; its CRC plays no other
#   part here). The active entry is the valid one with the higher
#   sequence number; INVALID and ABORTED entries are not valid.
# - reset(): the second-stage bootloader. With rollback, every
#   PENDING_VERIFY entry becomes ABORTED, and a NEW active entry becomes
#   PENDING_VERIFY. It boots the selected partition if its image loads
#   (the checks above plus the load-address checks only the bootloader
#   makes: nothing loaded over its own RAM or outside RAM), else the
#   other one; with neither it raises NoBootableApp (the real board
#   resets forever). Both entries erased: ota_0, and the bootloader
#   writes entry 0 for what it booted.
# - reset(deep_sleep=True): a wake from deep sleep with
#   CONFIG_BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP (in MicroPython's
#   sdkconfig.base): the partition booted last (kept in RTC memory)
#   starts again with no image check and without reading otadata, so no
#   PENDING_VERIFY is aborted and no set_boot() since takes effect.
# - mark_app_valid_cancel_rollback(): marks the active entry VALID;
#   OSError(1) ESP_FAIL when no entry is active (a board flashed with
#   esptool: nothing to cancel).
#
# Partition(Partition.RUNNING) is the partition reset() started (RAM
# state, kept in a file that power cuts do not touch).

import json

from mpota.flash.nor import NorFile

_BLOCK = 4096
_BASE = []  # [directory, partition size, chip, rollback in set_boot]
_LABELS = ("ota_0", "ota_1")

CHIP_ID = 0x0000  # ESP32
CHIP_REV = 300  # v3.0

# otadata entry states (esp_ota_img_states_t)
NEW, PENDING, VALID, INVALID, ABORTED = 0, 1, 2, 3, 4
UNDEFINED = 0xFFFFFFFF
_NAMES = {NEW: "new", PENDING: "pending", VALID: "valid", INVALID: "invalid",
          ABORTED: "aborted", UNDEFINED: "undefined"}

# ESP-IDF error codes, raised as check_esp_err() does: OSError(-code, name)
ESP_FAIL = -1
ESP_ERR_INVALID_ARG = 0x102
ESP_ERR_INVALID_SIZE = 0x104
ESP_ERR_OTA_VALIDATE_FAILED = 0x1503
_ERR_NAMES = {ESP_FAIL: "ESP_FAIL", ESP_ERR_INVALID_ARG: "ESP_ERR_INVALID_ARG",
              ESP_ERR_INVALID_SIZE: "ESP_ERR_INVALID_SIZE",
              ESP_ERR_OTA_VALIDATE_FAILED: "ESP_ERR_OTA_VALIDATE_FAILED"}

# ESP32 address ranges (soc.h)
_DROM = (0x3F400000, 0x3F800000)
_IROM = (0x400D0000, 0x40400000)
_DRAM = (0x3FFAE000, 0x40000000)
_IRAM = (0x40080000, 0x400AA000)
_RTC = ((0x400C0000, 0x400C2000), (0x3FF80000, 0x3FF82000), (0x50000000, 0x50002000))
# The bootloader's own stack and data at the top of DRAM.
_BOOTLOADER_DRAM = (0x3FFE0000, 0x40000000)


class NoBootableApp(Exception):
    """Neither partition holds an image the bootloader can load."""


def _check(code):
    if code:
        raise OSError(-code, _ERR_NAMES.get(code, "ESP_ERR"))


def configure(base, part_size=65536, rollback=True):
    """Create (or reopen) the chip under base: ota_0 then ota_1. A new
    chip is erased, otadata included, and runs ota_0 (flashed with the
    board's tool before its first reset)."""
    _BASE[:] = [base, part_size, NorFile(base + "/esp32-flash", 2 * part_size, _BLOCK, 256, 1),
                rollback]
    try:
        _load()
    except OSError:
        _save([None, None])


# otadata ----------------------------------------------------------------


def _load():
    with open(_BASE[0] + "/otadata") as f:
        return json.load(f)


def _save(d):
    # One flash operation on otadata (the campaign counts and cuts these).
    with open(_BASE[0] + "/otadata", "w") as f:
        f.write(json.dumps(d))


def _write_entry(i, entry):
    # esp_partition_erase_range() of the entry's sector, then its write.
    d = _load()
    d[i] = None
    _save(d)
    d[i] = entry
    _save(d)


def _valid(e):
    return e is not None and e[1] not in (INVALID, ABORTED)


def _active(d):
    best = None
    for i in range(2):
        if _valid(d[i]) and (best is None or d[i][0] > d[best][0]):
            best = i
    return best


def _ram():
    try:
        with open(_BASE[0] + "/esp32-ram") as f:
            return json.load(f)
    except OSError:
        return {"running": "ota_0", "rtc": None}


def _set_ram(r):
    with open(_BASE[0] + "/esp32-ram", "w") as f:
        f.write(json.dumps(r))


def otadata():
    """What a test looks at: the boot partition, the active entry's
    state, the running partition, both entries."""
    d = _load()
    a = _active(d)
    return {"boot": Partition(Partition.BOOT).label,
            "state": _NAMES.get(d[a][1]) if a is not None else None,
            "running": _ram()["running"], "entries": d}


# The bootloader ----------------------------------------------------------


def reset(rollback=True, deep_sleep=False):
    """The second-stage bootloader at a reset (or a deep-sleep wake):
    returns the label of the partition it started."""
    ram = _ram()
    if deep_sleep and ram["rtc"] is not None:
        if _image(ram["rtc"], False, False):
            ram["running"] = ram["rtc"]
            _set_ram(ram)
            return ram["running"]
    d = _load()
    if rollback:
        for i in range(2):
            if d[i] is not None and d[i][1] == PENDING:
                _write_entry(i, [d[i][0], ABORTED])
        d = _load()
    a = _active(d)
    initial = False
    if a is None:
        start = 0
        initial = d[0] is None and d[1] is None
    else:
        start = (d[a][0] - 1) % 2
        if rollback and d[a][1] == NEW:
            _write_entry(a, [d[a][0], PENDING])
    for i in (start, 1 - start):
        if _image(_LABELS[i], True, True):
            if initial:
                _write_entry(0, [i + 1, VALID])
            _set_ram({"running": _LABELS[i], "rtc": _LABELS[i]})
            return _LABELS[i]
    raise NoBootableApp()


# Image checks (esp_image_verify; `boot`: the bootloader's load too) -------


def _in(r, a, b):
    return r[0] <= a and b <= r[1]


def _loadable(addr, end):
    # verify_load_addresses(): RAM only, never over the bootloader's own.
    if _in(_DRAM, addr, end):
        return end <= _BOOTLOADER_DRAM[0] or addr >= _BOOTLOADER_DRAM[1]
    if _in(_IRAM, addr, end):
        return True
    for r in _RTC:
        if _in(r, addr, end):
            return True
    return False


def _mapped(addr):
    return _DROM[0] <= addr < _DROM[1] or _IROM[0] <= addr < _IROM[1]


def _xor(acc, view):
    # XOR of the bytes of view into acc (one byte), a word at a time.
    w = int.from_bytes(view, "little")
    n = len(view)
    while n > 1:
        h = n // 2
        w = (w & ((1 << (8 * h)) - 1)) ^ (w >> (8 * h))
        n -= h
    return acc ^ (w & 0xFF)


def _image(label, verify, boot):
    """True if the partition holds an image that passes the checks."""
    import hashlib

    part = Partition(label)
    size = _BASE[1]
    hdr = bytearray(24)
    part.readblocks(0, hdr)
    if not verify:
        # bootloader_load_image_no_verify(): the header is read, not checked.
        return hdr[1] <= 16
    if hdr[0] != 0xE9:
        return False
    chip = hdr[12] | hdr[13] << 8
    lo = hdr[15] | hdr[16] << 8
    hi = hdr[17] | hdr[18] << 8
    if chip != CHIP_ID or CHIP_REV < lo or (hi not in (0, 0xFFFF) and CHIP_REV > hi):
        return False
    if hdr[1] > 16:
        return False
    sha = hashlib.sha256() if hdr[23] == 1 else None
    if sha:
        sha.update(hdr)
    pos = 24
    check = 0xEF
    buf = bytearray(1024)
    seg = bytearray(8)
    for _ in range(hdr[1]):
        if pos + 8 > size:
            return False
        part.readblocks(0, seg, pos)
        if sha:
            sha.update(seg)
        addr = int.from_bytes(seg[:4], "little")
        n = int.from_bytes(seg[4:], "little")
        pos += 8
        if n & 3 or n >= 1 << 24 or pos + n > size:
            return False
        if _mapped(addr) and pos % 0x10000 != addr % 0x10000:
            return False
        if boot and n and not _mapped(addr) and addr >= 0x10000000 \
                and not _loadable(addr, addr + n):
            return False
        end = pos + n
        while pos < end:
            v = memoryview(buf)[:min(len(buf), end - pos)]
            part.readblocks(0, v, pos)
            check = _xor(check, v)
            if sha:
                sha.update(v)
            pos += len(v)
    fill = (pos + 16) // 16 * 16 - pos
    if pos + fill > size:
        return False
    tail = bytearray(fill)
    part.readblocks(0, tail, pos)
    if tail[-1] != check:
        return False
    pos += fill
    if sha:
        sha.update(tail)
        if pos + 32 > size:
            return False
        digest = bytearray(32)
        part.readblocks(0, digest, pos)
        if sha.digest() != bytes(digest):
            return False
    return True


# esp32.Partition ---------------------------------------------------------


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=_BLOCK):
        if id == Partition.RUNNING:
            id = _ram()["running"]
        elif id == Partition.BOOT:
            # esp_ota_get_boot_partition(): from otadata; ota_0 without.
            a = _active(_load())
            id = _LABELS[0] if a is None else _LABELS[(_load()[a][0] - 1) % 2]
        elif not isinstance(id, str):
            raise ValueError()
        if id not in _LABELS:
            raise OSError(2)  # ENOENT: no partition with that label
        self.label = id
        self.addr = 0 if id == "ota_0" else _BASE[1]

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None):
        if type != Partition.TYPE_APP:
            return []
        return [Partition(n) for n in _LABELS if label in (None, n)
                and subtype in (0xFF, 0x10 + _LABELS.index(n))]

    def info(self):
        return (0, 0x10 + _LABELS.index(self.label), 0x10000 + self.addr, _BASE[1],
                self.label, False)

    def _bounds(self, offset, n):
        if offset > _BASE[1]:
            _check(ESP_ERR_INVALID_ARG)
        if offset + n > _BASE[1]:
            _check(ESP_ERR_INVALID_SIZE)

    def _erase(self, offset, n):
        # esp_partition_erase_range()
        self._bounds(offset, n)
        if n % _BLOCK:
            _check(ESP_ERR_INVALID_SIZE)
        if offset % _BLOCK:
            _check(ESP_ERR_INVALID_ARG)
        for a in range(offset, offset + n, _BLOCK):
            _BASE[2].erase(self.addr + a)

    def readblocks(self, block, buf, offset=0):
        offset += block * _BLOCK
        self._bounds(offset, len(buf))
        _BASE[2].read(self.addr + offset, buf)

    def writeblocks(self, block, buf, offset=None):
        at = block * _BLOCK
        if offset is None:
            # The simple protocol erases exactly len(buf) bytes first.
            self._erase(at, len(buf))
        else:
            at += offset
        self._bounds(at, len(buf))
        # The IDF flash driver splits a write at page boundaries.
        addr = self.addr + at
        mv = memoryview(buf)
        pos = 0
        while pos < len(buf):
            n = min(len(buf) - pos, 256 - (addr + pos) % 256)
            _BASE[2].program(addr + pos, mv[pos:pos + n])
            pos += n

    def ioctl(self, op, arg):
        if op in (1, 2, 3):
            return 0
        if op == 4:
            return _BASE[1] // _BLOCK
        if op == 5:
            return _BLOCK
        if op == 6:
            self._erase(arg * _BLOCK, _BLOCK)
            return 0
        return None

    def set_boot(self):
        if not _image(self.label, True, False):
            _check(ESP_ERR_OTA_VALIDATE_FAILED)
        d = _load()
        sub = _LABELS.index(self.label)
        a = _active(d)
        if a is None:
            nxt, seq = 0, sub + 1
        else:
            # The smallest sequence number above nothing lower than the
            # active one that names this partition (esp_rewrite_ota_data).
            seq = sub + 1
            while seq < d[a][0]:
                seq += 2
            nxt = 1 - a
        _write_entry(nxt, [seq, NEW if _BASE[3] else UNDEFINED])

    def get_next_update(self):
        return Partition(_LABELS[1 - _LABELS.index(self.label)])

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        d = _load()
        a = _active(d)
        if a is None:
            _check(ESP_FAIL)
        if d[a][1] != VALID:
            _write_entry(a, [d[a][0], VALID])
