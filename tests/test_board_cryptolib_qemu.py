# SPDX-License-Identifier: MIT
"""`cryptolib` on the emulated boards: the AES that decrypts the chunks of
encrypted bundles (issue 15). The boards build MicroPython's own
extmod/modcryptolib.c over mbedtls's AES from Debian's mbedtls source
(boards/qemu/board.mk), as stock rp2 and esp32 firmware does over its
lib/mbedtls. Every check also runs on the unix port (Debian's libmbedtls),
the stand-in for a board in the agent's other tests, so that a test passing
there means the same on a board.

Known answers are the published vectors: FIPS-197 appendix C.1 and
SP 800-38A appendix F.1.1 (ECB-AES128.Encrypt) and F.2.2
(CBC-AES128.Decrypt). The chaining checks compare with OpenSSL (the
`cryptography` package), computed here on the host.
"""

import random

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import targets

TARGETS = ("unix_target", "qemu_m3", "qemu_m0")

# FIPS-197 appendix C.1 (AES-128).
C1_KEY = "000102030405060708090a0b0c0d0e0f"
C1_PLAIN = "00112233445566778899aabbccddeeff"
C1_CIPHER = "69c4e0d86a7b0430d8cdb78070b4c55a"

# SP 800-38A appendix F: one key and four plaintext blocks for all modes.
F_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
F_PLAIN = (
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)
# F.1.1 ECB-AES128.Encrypt.
F11_CIPHER = (
    "3ad77bb40d7a3660a89ecaf32466ef97"
    "f5d3d58503b9699de785895a96fdbaaf"
    "43b1cd7f598ece23881b00e3ed030688"
    "7b0c785e27e8ad3f8223207104725dd4"
)
# F.2.2 CBC-AES128.Decrypt.
F22_IV = "000102030405060708090a0b0c0d0e0f"
F22_CIPHER = (
    "7649abac8119b246cee98e9b12e9197d"
    "5086cb9b507219ee95db113a917678b2"
    "73bed6b8e3c1743b7116e69e22229516"
    "3ff1caa1681fac09120eca307586e1a7"
)

# Random data for the checks against OpenSSL, fixed by the seed.
_rng = random.Random(15)
R_KEY = _rng.randbytes(16)
R_IV = _rng.randbytes(16)
R_PAIRS = 8
R_BLOCKS = _rng.randbytes(32 * R_PAIRS)
R_BULK = _rng.randbytes(256)

# One program per target; each line it prints is `name hex`.
PROGRAM = """
import cryptolib
_ECB = const(1)
_CBC = const(2)
h = bytes.fromhex

def out(name, data):
    print(name, bytes(data).hex())

def in_place(cipher, data, encrypt):
    buf = bytearray(16)
    res = bytearray()
    for i in range(0, len(data), 16):
        buf[:] = data[i:i + 16]
        if encrypt:
            cipher.encrypt(buf, buf)
        else:
            cipher.decrypt(buf, buf)
        res += buf
    return res

out("c1", cryptolib.aes(h({c1_key!r}), _ECB).encrypt(h({c1_plain!r})))

k = h({f_key!r})
p = h({f_plain!r})
c = h({f22_cipher!r})
iv = h({f22_iv!r})
out("f11_one_call", cryptolib.aes(k, _ECB).encrypt(p))
out("f11_in_place_by_block", in_place(cryptolib.aes(k, _ECB), p, True))
out("f22_one_call", cryptolib.aes(k, _CBC, iv).decrypt(c))
buf = bytearray(c)
cryptolib.aes(k, _CBC, iv).decrypt(buf, buf)
out("f22_in_place_one_call", buf)
out("f22_in_place_by_block", in_place(cryptolib.aes(k, _CBC, iv), c, False))
# Started with a wrong IV; "decrypting" the right one as a block sets it.
d = cryptolib.aes(k, _CBC, bytes(16))
d.decrypt(iv)
out("f22_after_iv_block", in_place(d, c, False))

k = h({r_key!r})
blocks = h({r_blocks!r})
res = bytearray()
for i in range(0, len(blocks), 32):
    d = cryptolib.aes(k, _CBC, h({r_iv!r}))
    d.decrypt(blocks[i:i + 16])
    res += d.decrypt(blocks[i + 16:i + 32])
out("pairs_second_block", res)
bulk = h({r_bulk!r})
out("bulk_cbc_encrypt", cryptolib.aes(k, _CBC, h({r_iv!r})).encrypt(bulk))
out("bulk_cbc_decrypt", cryptolib.aes(k, _CBC, h({r_iv!r})).decrypt(bulk))
out("bulk_ecb_decrypt", cryptolib.aes(k, _ECB).decrypt(bulk))
""".format(
    c1_key=C1_KEY,
    c1_plain=C1_PLAIN,
    f_key=F_KEY,
    f_plain=F_PLAIN,
    f22_cipher=F22_CIPHER,
    f22_iv=F22_IV,
    r_key=R_KEY.hex(),
    r_iv=R_IV.hex(),
    r_blocks=R_BLOCKS.hex(),
    r_bulk=R_BULK.hex(),
)


def _name(fixture):
    return fixture.replace("_target", "")


@pytest.fixture(scope="module", params=TARGETS, ids=_name)
def results(request):
    """What PROGRAM printed on one target, as {name: bytes}."""
    target = request.getfixturevalue(request.param)
    try:
        printed = target.run(PROGRAM)
    except targets.TargetError as exc:
        pytest.fail("{}: {}\n{}".format(_name(request.param), exc, exc.output), pytrace=False)
    found = {}
    for line in printed.splitlines():
        name, _, value = line.partition(" ")
        found[name] = bytes.fromhex(value)
    return found


def _ecb(key):
    return Cipher(algorithms.AES(key), modes.ECB())


def _cbc(key, iv):
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def test_ecb_encrypt_gives_fips197_c1_ciphertext(results):
    assert results["c1"].hex() == C1_CIPHER


def test_ecb_encrypt_gives_sp800_38a_f11_ciphertext_at_once_and_by_block_in_place(results):
    assert results["f11_one_call"].hex() == F11_CIPHER
    assert results["f11_in_place_by_block"].hex() == F11_CIPHER


def test_cbc_decrypt_gives_sp800_38a_f22_plaintext_at_once_and_in_place(results):
    assert results["f22_one_call"].hex() == F_PLAIN
    assert results["f22_in_place_one_call"].hex() == F_PLAIN


def test_cbc_decrypt_in_place_block_by_block_keeps_the_chain_across_calls(results):
    assert results["f22_in_place_by_block"].hex() == F_PLAIN


def test_decrypting_an_iv_block_sets_the_chaining_value_of_the_next_block(results):
    assert results["f22_after_iv_block"].hex() == F_PLAIN


def test_cbc_chaining_value_is_last_ciphertext_block(results):
    # For every pair (X, Y) decrypted in turn: Y's plaintext is
    # AES-decrypt(Y) xor X, whatever IV the decryptor began with.
    raw = _ecb(R_KEY).decryptor().update(R_BLOCKS)
    want = b"".join(
        _xor(raw[i + 16:i + 32], R_BLOCKS[i:i + 16]) for i in range(0, len(R_BLOCKS), 32)
    )
    assert len(results["pairs_second_block"]) == 16 * R_PAIRS
    assert results["pairs_second_block"] == want


def test_cbc_and_ecb_match_openssl_on_random_data(results):
    assert results["bulk_cbc_encrypt"] == _cbc(R_KEY, R_IV).encryptor().update(R_BULK)
    assert results["bulk_cbc_decrypt"] == _cbc(R_KEY, R_IV).decryptor().update(R_BULK)
    assert results["bulk_ecb_decrypt"] == _ecb(R_KEY).decryptor().update(R_BULK)
