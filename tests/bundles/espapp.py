# SPDX-License-Identifier: MIT
"""ESP32 app images for tests, in the layout ESP-IDF's bootloader reads
(esp_app_format.h; written here from that description):

  header (24 bytes): magic 0xE9, segment count, flash mode/speed/size,
      entry address, WP pin, pin drive, chip id (u16), min chip rev,
      min and max chip rev "full" (major * 100 + minor), reserved,
      hash_appended
  segments: (load address u32, length u32, data), lengths multiples of 4;
      a segment mapped from flash (IROM, DROM) starts at a flash offset
      equal to its load address modulo 64 KB (padding segments with load
      address 0 get it there)
  checksum: 0xEF XOR every data byte, the last byte of the 16-byte block
      that ends the segments
  SHA-256 of all of the above, appended when hash_appended is 1

The first segment (DROM) starts with an esp_app_desc_t (magic
0xABCD5432, secure version, version and project strings), as IDF builds
do. Everything here is little-endian.
"""

import hashlib
import struct

MAGIC = 0xE9
CHIP_ESP32 = 0x0000
CHIP_ESP32S3 = 0x0009
APP_DESC_MAGIC = 0xABCD5432
HEADER = 24
SEGMENT_HEADER = 8
MMU_PAGE = 0x10000

DROM = 0x3F400000  # data mapped from flash
IROM = 0x400D0000  # code mapped from flash
DRAM = 0x3FFB0000  # data loaded into RAM
IRAM = 0x40080000  # code loaded into RAM


def _pad4(data):
    return data + b"\0" * (-len(data) % 4)


def app_desc(version, project="mpota-test", secure_version=0):
    """An esp_app_desc_t: 256 bytes."""
    return (struct.pack("<II8x", APP_DESC_MAGIC, secure_version)
            + version.encode()[:31].ljust(32, b"\0") + project.encode()[:31].ljust(32, b"\0")
            + b"00:00:00".ljust(16, b"\0") + b"Jan  1 2026".ljust(16, b"\0")
            + b"v5.2.2".ljust(32, b"\0") + b"\0" * 32 + b"\0" * 80)


def image(version="1", ram=b"", code=b"", irom=b"", chip_id=CHIP_ESP32, min_rev=0,
          max_rev=399, hash_appended=True, segments=None, entry=IRAM + 0x4):
    """An app image: DROM (app description), IRAM (code), DRAM (ram) and,
    if irom is given, an IROM segment behind a padding segment. Or the
    exact (load address, data) segments given."""
    if segments is None:
        segments = [(DROM + HEADER + SEGMENT_HEADER, app_desc(version)),
                    (IRAM, code or b"\x36\x41\x00\x1d\xf0\x00\x00\x00"),
                    (DRAM, ram)]
        if irom:
            segments.append(("pad", None))
            segments.append((IROM, irom))
    return build(segments, chip_id=chip_id, min_rev=min_rev, max_rev=max_rev,
                 hash_appended=hash_appended, entry=entry)


def build(segments, chip_id=CHIP_ESP32, min_rev=0, max_rev=399, hash_appended=True,
          entry=IRAM + 0x4, magic=MAGIC):
    """Assemble segments [(load address, data)]; ("pad", None) before a
    mapped segment becomes the padding segment that aligns it."""
    body = b""
    count = 0
    for i, (addr, data) in enumerate(segments):
        if addr == "pad":
            nxt = segments[i + 1][0]
            at = HEADER + len(body) + SEGMENT_HEADER  # where padding data would start
            want = nxt % MMU_PAGE
            # Padding data, then the next segment's header, then its data at `want`.
            n = (want - (at + SEGMENT_HEADER)) % MMU_PAGE
            body += struct.pack("<II", 0, n) + b"\0" * n
            count += 1
            continue
        data = _pad4(data)
        body += struct.pack("<II", addr, len(data)) + data
        count += 1
    header = struct.pack("<BBBBIB3sHBHH4sB", magic, count, 2, 0x20, entry, 0xEE, b"\0\0\0",
                         chip_id, min_rev // 100, min_rev, max_rev, b"\0" * 4,
                         1 if hash_appended else 0)
    out = header + body
    check = 0xEF
    pos = HEADER
    for _ in range(count):
        _, n = struct.unpack_from("<II", out, pos)
        for b in out[pos + SEGMENT_HEADER:pos + SEGMENT_HEADER + n]:
            check ^= b
        pos += SEGMENT_HEADER + n
    fill = (len(out) + 1 + 15) // 16 * 16 - len(out)
    out += b"\0" * (fill - 1) + bytes([check])
    if hash_appended:
        out += hashlib.sha256(out).digest()
    return out


def segments_of(img):
    """[(load address, flash offset of the data, length)] of an image."""
    out = []
    pos = HEADER
    for _ in range(img[1]):
        addr, n = struct.unpack_from("<II", img, pos)
        out.append((addr, pos + SEGMENT_HEADER, n))
        pos += SEGMENT_HEADER + n
    return out


def firmware_bin(app, bootloader=None):
    """What MicroPython's build calls firmware.bin: the second-stage
    bootloader at offset 0 (itself an image whose segments load into the
    bootloader's own RAM), the partition table at 0x8000, the app at
    0x10000 (offsets relative to flash address 0x1000 on the ESP32)."""
    boot = bootloader or build([(0x3FFF0000, b"\x11" * 0x400), (0x40078000, b"\x22" * 0x800),
                                (0x40080400, b"\x33" * 0x200)], entry=0x40080400)
    table = b"\xaa\x50" + b"\x00" * 30
    out = boot.ljust(0x8000 - 0x1000, b"\xff") + table
    return out.ljust(0x10000 - 0x1000, b"\xff") + app


def padded(img, unit=4096):
    """img padded with 0xFF to a whole number of flash sectors, as the
    3-argument Partition.writeblocks() takes it."""
    return img + b"\xff" * (-len(img) % unit)
