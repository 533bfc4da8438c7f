# SPDX-License-Identifier: MIT
"""AES-128 for the chunks of an encrypted bundle (docs/FORMAT.md,
"Encryption"), on every runtime, chosen once:

  cryptolib     MicroPython (stock ESP32 and RP2040 firmware, the unix
                port, our emulated boards): mode 1 ECB, mode 2 CBC
  aesio         CircuitPython: MODE_ECB, MODE_CBC
  cryptography  CPython (host tools, tests)

CBC and ECB are what all three have (stock MicroPython builds leave CTR
out). A chunk is AES-128-CBC with its own IV, AES-128-ECB(iv key, first
16 bytes of the chunk's raw SHA-256): begin() sets it, decrypt() then
works in place, block-aligned, and allocates nothing on MicroPython.
"""

import sys

_kind = []  # the implementation found, looked up once


def kind():
    """'cryptolib', 'aesio', 'cpython' or None where there is no AES."""
    if not _kind:
        found = None
        if sys.implementation.name == "cpython":
            try:
                import cryptography  # noqa: F401

                found = "cpython"
            except ImportError:
                pass
        else:
            try:
                import cryptolib  # noqa: F401

                found = "cryptolib"
            except ImportError:
                try:
                    import aesio  # noqa: F401

                    found = "aesio"
                except ImportError:
                    pass
        _kind.append(found)
    return _kind[0]


def available():
    return kind() is not None


class ChunkCipher:
    def __init__(self, key, iv_key):
        self.seed = bytearray(16)
        self.iv = bytearray(16)
        self.junk = bytearray(16)
        k = kind()
        if k == "cryptolib":
            import cryptolib

            self.ecb = cryptolib.aes(iv_key, 1).encrypt
            self.cbc = cryptolib.aes(key, 2, bytes(16)).decrypt
        elif k == "aesio":
            import aesio

            self.ecb = aesio.AES(iv_key, aesio.MODE_ECB).encrypt_into
            self.cbc = aesio.AES(key, aesio.MODE_CBC, bytes(16)).decrypt_into
        elif k == "cpython":
            self.key = bytes(key)
            self.ecb = _Host(bytes(iv_key)).ecb
            self.cbc = None
        else:
            raise ValueError("no AES")

    def begin(self, raw_sha):
        """Start a chunk whose raw SHA-256 is raw_sha."""
        seed = self.seed
        for i in range(16):
            seed[i] = raw_sha[i]
        self.ecb(seed, self.iv)
        if kind() == "cpython":
            self.cbc = _Host(self.key, bytes(self.iv)).cbc
        else:
            # CBC decrypts each block with the ciphertext block before it
            # as its chaining value: decrypting the IV as if it were a
            # block leaves the IV as the chaining value of the chunk's
            # first block. No new object, so nothing is allocated.
            self.cbc(self.iv, self.junk)

    def decrypt(self, buf):
        """Decrypt buf (a multiple of 16 bytes, the chunk's next blocks)
        in place."""
        self.cbc(buf, buf)


class _Host:
    # CPython: the same two operations through the cryptography package.
    def __init__(self, key, iv=None):
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        mode = modes.CBC(iv) if iv is not None else modes.ECB()
        self.enc = Cipher(algorithms.AES(key), mode).encryptor() if iv is None else None
        self.dec = Cipher(algorithms.AES(key), mode).decryptor() if iv is not None else None

    def ecb(self, src, dst):
        dst[:] = self.enc.update(bytes(src))

    def cbc(self, src, dst):
        dst[:] = self.dec.update(bytes(src))
