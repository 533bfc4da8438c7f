# SPDX-License-Identifier: MIT
"""An encrypted bundle on the device (docs/FORMAT.md, "Encryption"): the
content key unwrapped with one of the device's X25519 keys and checked
against the signed manifest, before anything is written; then each
chunk's stored bytes, already checked against the signed table in the
scratch area, decrypted as they are read from there (staged.py).

Imported only for an encrypted bundle.
"""

from ..bundle import format as F
from ..bundle.error import BundleError
from ..bundle.table import same
from ..crypto import aes
from ..crypto.hkdf import hkdf
from ..crypto.x25519 import BASE, x25519
from . import fetch
from .stream import RegionStream

from micropython import const

_LINE = const(64)  # bytes decrypted at once for a byte-wise reader
WRAP_INFO = b"mpota wrap v1"
CONTENT_INFO = b"mpota content v1"


def device_keys(dev):
    """The device's X25519 private keys (config decrypt_keys: files of 32
    raw bytes), in the configured order. Kept here, not in device.py: only
    an encrypted bundle needs them (the heap of a board without one)."""
    from ..errors import AgentError

    keys = []
    for name in dev.cfg.get("decrypt_keys", ()):
        try:
            with open(dev.path(name), "rb") as f:
                k = f.read(33)
        except OSError:
            raise AgentError("config")
        if len(k) != 32:
            raise AgentError("config")
        keys.append(k)
    return keys


def device_ids(dev):
    """The recipient ids (hex) of the device's keys: all that status may
    show of them."""
    return [key_name(x25519(k, BASE))[5:] for k in device_keys(dev)]


def content_keys(secret):
    """(chunk key, IV key, key check) of a content secret."""
    k = hkdf(secret, b"", CONTENT_INFO, 48)
    return k[:16], k[16:32], k[32:48]


def wrap_pad(shared, ephemeral, public):
    """What the content secret is XORed with for one recipient."""
    return hkdf(shared, bytes(ephemeral) + bytes(public), WRAP_INFO, F.SECRET_SIZE)


def key_name(public):
    """The bundle file holding the content key wrapped for `public`."""
    return "keys/" + "".join("{:02x}".format(b) for b in F.key_id(public))


def open_cipher(dev, src, m):
    """The chunk cipher for manifest m, from the first of the device's
    keys the bundle holds a wrapped key for. Refusals: 'unknown-cipher'
    (no AES here), 'not-for-device' (none of them), 'bad-key-wrap' (a
    key file that does not unwrap to the signed check)."""
    if not aes.available():
        raise BundleError("unknown-cipher")
    buf = bytearray(F.WRAP_SIZE + 1)  # one more: a longer file is noticed
    for private in device_keys(dev):
        public = x25519(private, BASE)
        try:
            wrap = fetch.read_doc(dev, src, key_name(public), buf, "not-for-device")
        except BundleError as e:
            if e.reason == "not-for-device":
                continue
            raise
        return unwrap(private, public, wrap, m.key_check)
    raise BundleError("not-for-device")


def unwrap(private, public, wrap, check):
    if len(wrap) != F.WRAP_SIZE:
        raise BundleError("bad-key-wrap")
    ephemeral = bytes(wrap[:32])
    shared = x25519(private, ephemeral)
    if not any(shared):
        # A small-order ephemeral key: nothing secret was agreed.
        raise BundleError("bad-key-wrap")
    pad = wrap_pad(shared, ephemeral, public)
    secret = bytes(wrap[32 + i] ^ pad[i] for i in range(F.SECRET_SIZE))
    key, iv_key, want = content_keys(secret)
    if not same(want, check):
        raise BundleError("bad-key-wrap")
    return aes.ChunkCipher(key, iv_key)


class SealedStream(RegionStream):
    """The plaintext of the encrypted chunk staged at region[addr:addr+n]
    (n whole AES blocks), decrypted as it is read: a block-aligned read
    is decrypted in the caller's buffer, a byte-wise one (the
    decompressor's) through a line of _LINE bytes. Allocates nothing."""

    def __init__(self, region, addr, n, cipher, raw_sha):
        RegionStream.__init__(self, region, addr, n)
        self.cipher = cipher
        cipher.begin(raw_sha)
        mv = memoryview(self.cache)
        # The line's whole-block prefixes, made once.
        self.lines = [mv[:k] for k in range(F.AES_BLOCK, _LINE + 1, F.AES_BLOCK)]

    def readinto(self, buf):
        n = len(buf)
        if self.at == self.fill and n and not n % F.AES_BLOCK and self.end - self.pos >= n:
            self.region.read(self.pos, buf)
            self.cipher.decrypt(buf)
            self.pos += n
            return n
        n = min(n, self.fill - self.at + self.end - self.pos)
        cache = self.cache
        for i in range(n):
            if self.at == self.fill:
                self._refill()
            buf[i] = cache[self.at]
            self.at += 1
        return n

    def read(self, n=-1):
        # CPython's zlib path (bundle.inflate) reads with read().
        left = self.fill - self.at + self.end - self.pos
        b = bytearray(left if n < 0 else max(0, min(n, left)))
        return bytes(b[:self.readinto(b)])

    def _refill(self):
        v = self.lines[min(_LINE, self.end - self.pos) // F.AES_BLOCK - 1]
        self.region.read(self.pos, v)
        self.cipher.decrypt(v)
        self.pos += len(v)
        self.at = 0
        self.fill = len(v)
