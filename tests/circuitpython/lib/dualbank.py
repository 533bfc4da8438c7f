# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `dualbank` on the espressif port
(shared-bindings/dualbank, ports/espressif/common-hal/dualbank), over a
file-backed model of the two OTA app partitions and ESP-IDF's rules.

The model lives in the directory CPY_STANDIN_FLASH (default: the current
one): `ota_0.bin`, `ota_1.bin` (PARTITION bytes each) and `otadata` (the
partition the bootloader starts; read once per process, as a reset reads
it). What the real module does, this does:

- `flash(buffer, *, offset=0)`: offset is keyword-only. The first call of
  a session begins an update of the partition the running one is not
  (esp_ota_begin: the whole partition is erased); it must carry more than
  the image header, segment header and app description (288 bytes), or
  RuntimeError("Firmware is too big"); an image whose version string
  equals the running firmware's is RuntimeError("Firmware is duplicate").
  offset 0 writes where the last offset-0 write ended (esp_ota_write is
  sequential); another offset writes there. The first byte of the image
  must be 0xE9. Flash bits only go from 1 to 0.
- `switch()`: ends the update and makes the other partition the boot one,
  after validating its image as esp_image_verify does (segments, the XOR
  checksum, the appended SHA-256): a bad image is RuntimeError("Firmware
  is invalid"). Calling it with nothing flashed switches back to the
  other partition, if that still holds a valid image.
- A session ends at every reset and soft reload (dualbank_reset()): an
  update cannot be resumed after one; the next flash() begins again.
- No read-back, and no query of the running partition: neither exists.
- CircuitPython builds ESP-IDF without bootloader rollback: the boot
  partition changes only by switch().

For the tests (not in the real module): `_running()` and `_boot()` name
the partitions, `_version(i)` the version string in partition i.
"""

import os

try:
    import hashlib  # never on the CircuitPython-like build
except ImportError:
    import adafruit_hashlib as hashlib

PARTITION = int(os.getenv("CPY_STANDIN_PARTITION") or 65536)
_DIR = os.getenv("CPY_STANDIN_FLASH") or "."
_HEADER = 24
_SEGMENT = 8
_DESC = 256
_DESC_MAGIC = 0xABCD5432


def _path(name):
    return _DIR + "/" + name


def _read_otadata():
    try:
        with open(_path("otadata")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


# The partition this "boot" started: fixed for the process, as on a board.
_RUN = _read_otadata()
_session = None  # [partition, sequential write position] while updating


def _file(i):
    p = _path("ota_{}.bin".format(i))
    try:
        f = open(p, "r+b")
    except OSError:
        f = open(p, "w+b")
        f.write(b"\xff" * PARTITION)
        f.flush()
    return f


def _read(i, at, n):
    f = _file(i)
    try:
        f.seek(at)
        return f.read(n)
    finally:
        f.close()


def _u32(b, at):
    return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24


def _desc_version(head):
    d = _HEADER + _SEGMENT
    if len(head) < d + _DESC or _u32(head, d) != _DESC_MAGIC:
        return None
    v = bytes(head[d + 16:d + 48])
    cut = v.find(b"\x00")
    return v if cut < 0 else v[:cut]


def _version(i):
    return _desc_version(_read(i, 0, _HEADER + _SEGMENT + _DESC))


def _valid(i):
    """esp_image_verify, in short: magic, segments inside the partition,
    the checksum byte, the appended SHA-256."""
    img = _read(i, 0, PARTITION)
    if img[0] != 0xE9 or not 1 <= img[1] <= 16:
        return False
    pos = _HEADER
    check = 0xEF
    for _ in range(img[1]):
        if pos + _SEGMENT > PARTITION:
            return False
        n = _u32(img, pos + 4)
        pos += _SEGMENT
        if n > PARTITION - pos:
            return False
        for b in img[pos:pos + n]:
            check ^= b
        pos += n
    pos += 15 - pos % 16  # pad so that the checksum byte ends a 16-byte line
    if pos >= PARTITION or img[pos] != check:
        return False
    pos += 1
    if img[23] == 1:
        if pos + 32 > PARTITION:
            return False
        h = hashlib.sha256()
        h.update(img[:pos])
        if h.digest() != img[pos:pos + 32]:
            return False
    return _desc_version(img) is not None


def flash(buffer, *, offset=0):
    global _session
    if offset < 0:
        raise ValueError("offset must be >= 0")
    data = bytes(memoryview(buffer))
    if _session is None:
        if len(data) <= _HEADER + _SEGMENT + _DESC:
            raise RuntimeError("Firmware is too big")
        if _desc_version(data) == _version(_RUN):
            raise RuntimeError("Firmware is duplicate")
        target = 1 - _RUN
        f = _file(target)
        f.seek(0)
        f.write(b"\xff" * PARTITION)  # esp_ota_begin erases the partition
        f.close()
        _session = [target, 0]
    target, seq = _session
    at = seq if offset == 0 else offset
    if at + len(data) > PARTITION:
        raise RuntimeError("Update failed")
    if at == 0 and data and data[0] != 0xE9:
        raise RuntimeError("Update failed")
    f = _file(target)
    try:
        f.seek(at)
        old = f.read(len(data))
        f.seek(at)
        f.write(bytes(a & b for a, b in zip(old, data)))
    finally:
        f.close()
    if offset == 0:
        _session[1] = at + len(data)


def switch():
    global _session
    _session = None
    target = 1 - _RUN
    if not _valid(target):
        raise RuntimeError("Firmware is invalid")
    with open(_path("otadata"), "w") as f:
        f.write(str(target))


def _running():
    return _RUN


def _boot():
    return _read_otadata()
