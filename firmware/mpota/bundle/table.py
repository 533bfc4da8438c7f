# SPDX-License-Identifier: MIT
"""Streaming checks of bundle data: the chunk table, chunks and the image.

Data arrives in pieces of any size (from a socket, a file or flash) and is
never held whole: each check keeps a running SHA-256 and a byte budget.
Entries of the chunk table are read one at a time into a fixed buffer.
"""

from ..sha256 import sha256 as new_sha256

from . import format as F
from .error import BundleError


def same(a, b):
    """Equal digests; works across bytes, bytearray and memoryview alike
    (MicroPython does not compare a memoryview with bytes by content)."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


class Expect:
    """Bytes fed in pieces must total `size` and hash to `sha256`."""

    def __init__(self, size, sha256, short_reason):
        self.left = size
        self.want = sha256
        self.short = short_reason
        self.h = new_sha256()

    def update(self, data):
        n = len(data)
        if n > self.left:
            # More than declared: refuse before hashing a byte of it.
            raise BundleError("too-large")
        self.left -= n
        self.h.update(data)

    def finish(self):
        if self.left:
            raise BundleError(self.short)
        d = self.h.digest()
        if not (self.want == d if _QUICK and isinstance(self.want, memoryview) else same(d, self.want)):
            raise BundleError("hash-mismatch")


_QUICK = memoryview(bytearray(b"ab")) == b"ab" and not memoryview(bytearray(b"ab")) == b"ac"


def _problem(m, i, b, off, stored_sha=None, raw_sha=None):
    # The reason the entry for chunk i at b[off:off + ENTRY_SIZE] is
    # unacceptable for manifest m, or None. Reads in place: no allocation.
    if not 0 <= i < m.chunk_count():
        return "malformed"
    if b[off + 1] or b[off + 2] or b[off + 3]:
        return "malformed"
    codec = b[off + F.E_CODEC]
    stored = F.uint(b, off + F.E_STORED_LEN, 4)
    raw = m.chunk_len(i)
    if m.suite:
        # Encrypted: whole AES blocks, the plaintext (raw or deflated)
        # padded with zeros to the next one.
        most = (raw + F.AES_BLOCK - 1) // F.AES_BLOCK * F.AES_BLOCK
        if codec != F.CODEC_NONE and codec != F.CODEC_DEFLATE:
            return "unknown-codec"
        if stored % F.AES_BLOCK or stored < F.AES_BLOCK or stored > most:
            return "malformed"
        if codec == F.CODEC_NONE and stored != most:
            return "malformed"
        if codec == F.CODEC_DEFLATE and not m.window_bits:
            return "malformed"
        return None
    if codec == F.CODEC_NONE:
        # Stored as is: the two lengths and the two hashes must agree.
        if stored != raw:
            return "malformed"
        if stored_sha is not None and _QUICK:
            # The entry's own views: one comparison, nothing allocated.
            if not stored_sha == raw_sha:
                return "malformed"
        else:
            for k in range(F.HASH_SIZE):
                if b[off + F.E_STORED_SHA + k] != b[off + F.E_RAW_SHA + k]:
                    return "malformed"
    elif codec == F.CODEC_DEFLATE:
        if not m.window_bits or stored < 1 or stored > raw:
            return "malformed"
    else:
        return "unknown-codec"
    return None


class Entry:
    """One chunk table entry, parsed from its own fixed 72-byte buffer.

    Fill `buf` (e.g. `f.readinto(entry.buf)` after seeking to
    i * ENTRY_SIZE), then call load(m, i). Loading allocates nothing.
    """

    def __init__(self):
        self.buf = bytearray(F.ENTRY_SIZE)
        mv = memoryview(self.buf)
        self.stored_sha = mv[F.E_STORED_SHA:F.E_STORED_SHA + F.HASH_SIZE]
        self.raw_sha = mv[F.E_RAW_SHA:F.E_RAW_SHA + F.HASH_SIZE]
        self.codec = 0
        self.stored_len = 0
        self.raw_len = 0

    def load(self, m, i):
        reason = _problem(m, i, self.buf, 0, self.stored_sha, self.raw_sha)
        if reason:
            raise BundleError(reason)
        self.codec = self.buf[F.E_CODEC]
        self.stored_len = F.uint(self.buf, F.E_STORED_LEN, 4)
        self.raw_len = m.chunk_len(i)


class TableCheck:
    """The chunk table, fed in pieces of any size: its length and SHA-256
    must match the manifest and every entry must be valid. finish()
    returns the sum of stored chunk lengths (what a full download costs).
    Whole entries are checked in place; only an entry split across two
    pieces is copied, into `entry.buf` (reusable once the check is done).
    """

    def __init__(self, m):
        self.m = m
        self.expect = Expect(m.table_size(), m.table_sha256, "truncated-table")
        self.entry = Entry()
        self.fill = 0
        self.index = 0
        self.stored_total = 0
        self.first_problem = None

    def _one(self, b, off):
        mv = memoryview(b)
        reason = _problem(self.m, self.index, b, off,
                          mv[off + F.E_STORED_SHA:off + F.E_STORED_SHA + F.HASH_SIZE],
                          mv[off + F.E_RAW_SHA:off + F.E_RAW_SHA + F.HASH_SIZE])
        if reason and not self.first_problem:
            self.first_problem = reason
        self.stored_total += F.uint(b, off + F.E_STORED_LEN, 4)
        self.index += 1

    def update(self, data):
        self.expect.update(data)
        n = len(data)
        pos = 0
        buf = self.entry.buf
        if self.fill:
            pos = min(F.ENTRY_SIZE - self.fill, n)
            buf[self.fill:self.fill + pos] = data[:pos]
            self.fill += pos
            if self.fill < F.ENTRY_SIZE:
                return
            self._one(buf, 0)
            self.fill = 0
        while n - pos >= F.ENTRY_SIZE:
            self._one(data, pos)
            pos += F.ENTRY_SIZE
        if pos < n:
            self.fill = n - pos
            buf[:self.fill] = data[pos:]

    def finish(self):
        # The hash is judged first: a bad entry in a table that is not the
        # signed one is a mismatch, not a malformed table.
        self.expect.finish()
        if self.first_problem:
            raise BundleError(self.first_problem)
        return self.stored_total
