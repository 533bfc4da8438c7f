# SPDX-License-Identifier: MIT
"""Stand-in for CircuitPython's `aesio` (shared-bindings/aesio/aes.c and
__init__.c, shared-module/aesio/__init__.c over its tiny-AES copy in
shared-module/aesio/aes.c, read at commit cd3da4a), on the unix port's
`cryptolib` under the name `_host_cryptolib` (mbedtls underneath).

What the real module does, this does; where it forgives, this refuses
(marked "stricter"):

- `AES(key, mode=MODE_ECB, IV=None, segment_size=8)`: the key is a buffer
  (else TypeError) of 16, 24 or 32 bytes (else ValueError); mode is 1, 2
  or 6 (else NotImplementedError); an IV, if given, is 16 bytes (else
  ValueError). The IV is stored whatever the mode. (aes.c, make_new)
- `encrypt_into(src, dest)`, `decrypt_into(src, dest)`: src readable, dest
  writable (TypeError); the same length (ValueError); ECB exactly 16
  bytes, CBC a multiple of 16, CTR any length (ValueError). dest gets a
  copy of src, then is worked on in place, so src and dest may be the
  same buffer. (aes.c, validate_length and the two methods)
- CBC keeps one chaining value for both directions: after a call it is
  the last ciphertext block (the last block written by encrypt_into, the
  last block read by decrypt_into), and the next call goes on from it.
  (aes.c of shared-module, AES_CBC_encrypt_buffer / _decrypt_buffer)
- CTR: each call starts a new keystream block; the 128-bit big-endian
  counter is the same bytes as the CBC chaining value.
  (AES_CTR_xcrypt_buffer)
- `rekey(key, IV=None)`: the same key and IV checks; the mode stays; the
  chaining value / counter becomes the IV, or 16 zero bytes without one.
  (aes.c rekey, shared-module __init__.c common_hal_aesio_aes_rekey)
- `mode` property: reads the mode; setting it checks it as the
  constructor does and keeps the chaining value. (aes.c get/set_mode)

Stricter than the real module:
- An IV that is not a buffer (the real one ignores it silently) is a
  TypeError; str is refused wherever a buffer is asked for.
- CBC or CTR with no IV since the last (re)key is a ValueError: the real
  one runs with 16 zero bytes.
- src and dest that overlap without being the same bytes are a
  ValueError: the real one memcpy()s across them (undefined in C).
- Buffers with items wider than a byte (array('I')) are a TypeError.
- 24-byte (AES-192) keys are a ValueError: cryptolib has no AES-192.
- No `counter` keyword (the real one parses and ignores it; the stubs
  lack it).
Unlike the real one, this allocates: in rekey, and to measure a
memoryview's length.
"""

import uctypes

import _host_cryptolib as _c

MODE_ECB = 1
MODE_CBC = 2
MODE_CTR = 6
block_size = 16
key_size = (16, 24, 32)

_MODES = (MODE_ECB, MODE_CBC, MODE_CTR)


def _read(buf, what):
    # mp_get_buffer_raise(..., MP_BUFFER_READ): TypeError for a non-buffer.
    if type(buf) is str:
        raise TypeError("stand-in: {} must be bytes-like, not str".format(what))
    uctypes.addressof(buf)  # "object with buffer protocol required"
    if type(buf) is bytes or type(buf) is bytearray:
        return len(buf)
    n = len(buf)
    if len(bytes(buf)) != n:
        raise TypeError("stand-in: {} must have 1-byte items".format(what))
    return n


def _key(key):
    n = _read(key, "key")
    if n not in key_size:
        raise ValueError("Key must be 16, 24, or 32 bytes long")
    if n == 24:
        raise ValueError("stand-in: no AES-192 (cryptolib has none)")
    return bytes(key)


def _iv(iv):
    # The real one skips an IV that is not a buffer; a buffer must be 16.
    if iv is None:
        return None
    if _read(iv, "IV") != 16:
        raise ValueError("IV length must be 16")
    return bytes(iv)


def _check_mode(mode):
    if not isinstance(mode, int):
        raise TypeError("can't convert {} to int".format(type(mode).__name__))
    if mode not in _MODES:
        raise NotImplementedError("Requested AES mode is unsupported")
    return mode


class AES:
    def __init__(self, key, mode=MODE_ECB, IV=None, segment_size=8):
        # aes.c make_new: key, then mode, then IV; segment_size an int, unused.
        k = _key(key)
        _check_mode(mode)
        iv = _iv(IV)
        if not isinstance(segment_size, int):
            raise TypeError("can't convert {} to int".format(type(segment_size).__name__))
        self._mode = mode
        self._chain = bytearray(16)  # CBC chaining value and CTR counter
        self._ks = bytearray(16)  # one CTR keystream block
        self._set(k, iv)

    def rekey(self, key, IV=None):
        k = _key(key)
        iv = _iv(IV)
        self._set(k, iv)

    def _set(self, key, iv):
        # common_hal_aesio_aes_rekey: the context is zeroed, so no IV means
        # a chaining value of 16 zero bytes; the mode is not touched.
        self._k = key
        self._ecb_e = _c.aes(key, 1)
        self._ecb_d = _c.aes(key, 1)
        self._cbc = None  # a cryptolib CBC object, one direction only
        self._cbc_enc = False
        self._has_iv = iv is not None
        chain = self._chain
        for i in range(16):
            chain[i] = iv[i] if iv is not None else 0

    def _get_mode(self):
        return self._mode

    def _set_mode(self, mode):
        self._mode = _check_mode(mode)

    mode = property(_get_mode, _set_mode)

    def encrypt_into(self, src, dest):
        self._run(src, dest, True)

    def decrypt_into(self, src, dest):
        self._run(src, dest, False)

    def _run(self, src, dest, enc):
        n = _read(src, "src")
        # dest must be writable, as mp_get_buffer_raise(MP_BUFFER_WRITE):
        # the same check, made by cryptolib on an empty input.
        self._ecb_e.encrypt(b"", dest)
        m = _read(dest, "dest")
        # aes.c validate_length
        if n != m:
            raise ValueError("Source and destination buffers must be the same length")
        mode = self._mode
        if mode == MODE_ECB and n != 16:
            raise ValueError("ECB only operates on 16 bytes at a time")
        if mode == MODE_CBC and n & 15:
            raise ValueError("CBC blocks must be multiples of 16 bytes")
        if mode != MODE_ECB and not self._has_iv:
            raise ValueError("stand-in: CBC/CTR without an IV (the chip would use zeros)")
        a, b = uctypes.addressof(src), uctypes.addressof(dest)
        if n and a != b and a < b + n and b < a + n:
            raise ValueError("stand-in: src and dest overlap")
        if mode == MODE_ECB:
            if enc:
                self._ecb_e.encrypt(src, dest)
            else:
                self._ecb_d.decrypt(src, dest)
        elif mode == MODE_CBC:
            self._cbc_run(src, dest, n, enc)
        else:
            self._ctr_run(src, dest, n)

    def _cbc_run(self, src, dest, n, enc):
        if not n:
            return
        chain = self._chain
        if self._cbc is None or self._cbc_enc != enc:
            # cryptolib objects go one way; the chaining value is ours.
            self._cbc = _c.aes(self._k, 2, bytes(chain))
            self._cbc_enc = enc
        if enc:
            self._cbc.encrypt(src, dest)
            for i in range(16):
                chain[i] = dest[n - 16 + i]
        else:
            # The last ciphertext block, read before dest (maybe src) is
            # overwritten: AES_CBC_decrypt_buffer's storeNextIv.
            for i in range(16):
                chain[i] = src[n - 16 + i]
            self._cbc.decrypt(src, dest)

    def _ctr_run(self, src, dest, n):
        # AES_CTR_xcrypt_buffer: a fresh keystream block at each call's
        # start and every 16 bytes; the counter is incremented as each
        # block is made.
        chain, ks, e = self._chain, self._ks, self._ecb_e
        self._cbc = None  # the chaining value moves under it
        j = 16
        for i in range(n):
            if j == 16:
                e.encrypt(chain, ks)
                for k in range(15, -1, -1):
                    chain[k] = (chain[k] + 1) & 0xFF
                    if chain[k]:
                        break
                j = 0
            dest[i] = src[i] ^ ks[j]
            j += 1
