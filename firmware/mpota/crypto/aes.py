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

_kind = []  # type: list  # the implementation found, looked up once


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


def _ops(k, key, iv_key):
    # (ECB encrypt, CBC decrypt) as (src, dst) calls; CPython's CBC is made
    # per chunk (begin()).
    if k == "cryptolib":
        import cryptolib

        return cryptolib.aes(iv_key, 1).encrypt, cryptolib.aes(key, 2, bytes(16)).decrypt
    if k == "aesio":
        import aesio

        return (aesio.AES(iv_key, aesio.MODE_ECB).encrypt_into,
                aesio.AES(key, aesio.MODE_CBC, bytes(16)).decrypt_into)
    if k == "cpython":
        return _HostEcb(bytes(iv_key)), None
    raise ValueError("no AES")


class ChunkCipher:
    def __init__(self, key, iv_key):
        self.seed = bytearray(16)
        self.iv = bytearray(16)
        self.junk = bytearray(16)
        self.key = bytes(key)
        self.ecb, self.cbc = _ops(kind(), key, iv_key)

    def begin(self, raw_sha):
        """Start a chunk whose raw SHA-256 is raw_sha."""
        seed = self.seed
        for i in range(16):
            seed[i] = raw_sha[i]
        self.ecb(seed, self.iv)
        if kind() == "cpython":
            self.cbc = _HostCbc(self.key, bytes(self.iv))
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


class _HostEcb:
    # CPython (host tools, tests): through the cryptography package.
    def __init__(self, key):
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self.op = Cipher(algorithms.AES(key), modes.ECB()).encryptor()

    def __call__(self, src, dst):
        dst[:] = self.op.update(bytes(src))


class _HostCbc:
    def __init__(self, key, iv):
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self.op = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()

    def __call__(self, src, dst):
        dst[:] = self.op.update(bytes(src))
