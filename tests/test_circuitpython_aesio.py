# SPDX-License-Identifier: MIT
"""The `aesio` stand-in (tests/circuitpython/lib/aesio.py) on the
CircuitPython-shaped build: it computes AES as the standards say, refuses
everything CircuitPython's C refuses with the same exception (read at
commit cd3da4a: shared-bindings/aesio/aes.c, shared-module/aesio/), keeps
CBC's chaining value across calls as tiny-AES does, and refuses the few
things the chip lets through silently (an IV-less CBC, overlapping
buffers). The agent's CircuitPython decryption is only as good as this."""

import json
import random

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import targets

# SP 800-38A, appendix F: the AES-128 key, the four plaintext blocks and
# their ECB (F.1.1), CBC (F.2.1/F.2.2) and CTR (F.5.1) ciphertexts.
K128 = "2b7e151628aed2a6abf7158809cf4f3c"
PT = ("6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
      "30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710")
ECB_CT = ("3ad77bb40d7a3660a89ecaf32466ef97" "f5d3d58503b9699de785895a96fdbaaf"
          "43b1cd7f598ece23881b00e3ed030688" "7b0c785e27e8ad3f8223207104725dd4")
CBC_IV = "000102030405060708090a0b0c0d0e0f"
CBC_CT = ("7649abac8119b246cee98e9b12e9197d" "5086cb9b507219ee95db113a917678b2"
          "73bed6b8e3c1743b7116e69e22229516" "3ff1caa1681fac09120eca307586e1a7")
CTR_IV = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
CTR_CT = ("874d6191b620e3261bef6864990db6ce" "9806f66b7970fdff8617187bb9fffdff"
          "5ae4df3edbd5d35e5b4f09020db03eab" "1e031dda2fbe03d1792170a0f3009cee")


def _run(cpy, body):
    """Run body on the board with aesio, h (bytes.fromhex) and out(name,
    value) defined; return {name: value}."""
    code = ("import aesio, json\n"
            "from binascii import hexlify\n"
            "h = bytes.fromhex\n"
            "def out(name, value):\n"
            "    print('RESULT ' + name + ' ' + json.dumps(value))\n"
            "def refused(f):\n"
            "    try:\n"
            "        f()\n"
            "    except Exception as e:\n"
            "        return [type(e).__name__, str(e)]\n"
            "    return 'accepted'\n" + body)
    got = {}
    for line in cpy.run(code, path=list(targets.CPY_PATH), timeout=120).splitlines():
        if line.startswith("RESULT "):
            _, name, value = line.split(" ", 2)
            got[name] = json.loads(value)
    return got


def test_standin_computes_the_standards_known_answers(cpy):
    got = _run(cpy, """
# FIPS-197 C.1: one block, AES-128, ECB encrypt.
a = aesio.AES(h('000102030405060708090a0b0c0d0e0f'), aesio.MODE_ECB)
o = bytearray(16)
a.encrypt_into(h('00112233445566778899aabbccddeeff'), o)
out('fips197', hexlify(o).decode())
# SP 800-38A F.1.1 ECB-AES128.Encrypt, 16 bytes at a time (ECB's rule).
a = aesio.AES(h('{k}'))
pt, ct = h('{pt}'), bytearray(64)
for i in range(0, 64, 16):
    a.encrypt_into(memoryview(pt)[i:i + 16], memoryview(ct)[i:i + 16])
out('ecb', hexlify(ct).decode())
# F.2.2 CBC-AES128.Decrypt, in one call.
a = aesio.AES(h('{k}'), aesio.MODE_CBC, h('{iv}'))
o = bytearray(64)
a.decrypt_into(h('{cbc}'), o)
out('cbc', hexlify(o).decode())
# F.5.1 CTR-AES128.Encrypt.
a = aesio.AES(h('{k}'), aesio.MODE_CTR, h('{ctr}'))
o = bytearray(64)
a.encrypt_into(pt, o)
out('ctr', hexlify(o).decode())
out('consts', [aesio.MODE_ECB, aesio.MODE_CBC, aesio.MODE_CTR])
""".format(k=K128, pt=PT, iv=CBC_IV, cbc=CBC_CT, ctr=CTR_IV))
    assert got == {"fips197": "69c4e0d86a7b0430d8cdb78070b4c55a", "ecb": ECB_CT,
                   "cbc": PT, "ctr": CTR_CT, "consts": [1, 2, 6]}


# Each call the real aesio refuses, and how (shared-bindings/aesio/aes.c;
# "%q length must be %d" is py/argcheck.c's mp_arg_validate_length).
REFUSED = {
    "key_15_bytes": ("aesio.AES(bytes(15))",
                     ["ValueError", "Key must be 16, 24, or 32 bytes long"]),
    "key_not_a_buffer": ("aesio.AES(12345)",
                         ["TypeError", "object with buffer protocol required"]),
    "mode_0": ("aesio.AES(bytes(16), 0)",
               ["NotImplementedError", "Requested AES mode is unsupported"]),
    "mode_3": ("aesio.AES(bytes(16), 3, bytes(16))",
               ["NotImplementedError", "Requested AES mode is unsupported"]),
    "iv_15_bytes": ("aesio.AES(bytes(16), aesio.MODE_CBC, bytes(15))",
                    ["ValueError", "IV length must be 16"]),
    "iv_17_bytes_even_in_ecb": ("aesio.AES(bytes(16), aesio.MODE_ECB, bytes(17))",
                                ["ValueError", "IV length must be 16"]),
    "ecb_32_bytes": ("aesio.AES(bytes(16)).decrypt_into(bytes(32), bytearray(32))",
                     ["ValueError", "ECB only operates on 16 bytes at a time"]),
    "ecb_empty": ("aesio.AES(bytes(16)).encrypt_into(b'', bytearray(0))",
                  ["ValueError", "ECB only operates on 16 bytes at a time"]),
    "cbc_17_bytes": ("aesio.AES(bytes(16), 2, bytes(16)).decrypt_into(bytes(17), bytearray(17))",
                     ["ValueError", "CBC blocks must be multiples of 16 bytes"]),
    "cbc_40_bytes": ("aesio.AES(bytes(16), 2, bytes(16)).encrypt_into(bytes(40), bytearray(40))",
                     ["ValueError", "CBC blocks must be multiples of 16 bytes"]),
    "dest_longer": ("aesio.AES(bytes(16), 2, bytes(16)).decrypt_into(bytes(16), bytearray(32))",
                    ["ValueError", "Source and destination buffers must be the same length"]),
    "dest_shorter_ctr": ("aesio.AES(bytes(16), 6, bytes(16)).encrypt_into(bytes(5), bytearray(4))",
                         ["ValueError", "Source and destination buffers must be the same length"]),
    "dest_read_only": ("aesio.AES(bytes(16)).encrypt_into(bytes(16), bytes(16))",
                       ["TypeError", "object with buffer protocol required"]),
    "src_not_a_buffer": ("aesio.AES(bytes(16)).encrypt_into(None, bytearray(16))",
                         ["TypeError", "object with buffer protocol required"]),
    "rekey_key_20_bytes": ("aesio.AES(bytes(16)).rekey(bytes(20))",
                           ["ValueError", "Key must be 16, 24, or 32 bytes long"]),
    "rekey_iv_8_bytes": ("aesio.AES(bytes(16), 2, bytes(16)).rekey(bytes(16), bytes(8))",
                         ["ValueError", "IV length must be 16"]),
    "mode_set_to_5": ("setattr(aesio.AES(bytes(16)), 'mode', 5)",
                      ["NotImplementedError", "Requested AES mode is unsupported"]),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_standin_refuses_what_circuitpythons_aesio_refuses(cpy, case):
    call, expected = REFUSED[case]
    got = _run(cpy, "out('r', refused(lambda: {}))\n".format(call))
    assert got["r"] == expected


def test_cbc_chaining_value_is_the_last_ciphertext_block_across_calls(cpy):
    # tiny-AES keeps ctx->Iv = the last ciphertext block after every
    # CBC call: block by block equals all at once, in place or not, and
    # decrypting a block C "primes" the next call with C (the agent's way
    # to set a chunk's IV without a new object).
    got = _run(cpy, """
k, iv, ct = h('{k}'), h('{iv}'), h('{cbc}')
a = aesio.AES(k, aesio.MODE_CBC, iv)
buf = bytearray(ct)
for i in range(0, 64, 16):
    m = memoryview(buf)[i:i + 16]
    a.decrypt_into(m, m)
out('in_place_blocks', hexlify(buf).decode())
# The chaining value now is ct's last block: one more block goes on from it.
o = bytearray(16)
a.decrypt_into(bytes(16), o)
out('after', hexlify(o).decode())
# Primed: a zero-IV object that decrypted iv as a block, then ct.
b = aesio.AES(k, aesio.MODE_CBC, bytes(16))
b.decrypt_into(iv, bytearray(16))
buf = bytearray(ct)
b.decrypt_into(buf, buf)
out('primed', hexlify(buf).decode())
# Encryption chains the same way: two calls, one stream.
e = aesio.AES(k, aesio.MODE_CBC, iv)
pt, o = h('{pt}'), bytearray(64)
e.encrypt_into(memoryview(pt)[:32], memoryview(o)[:32])
e.encrypt_into(memoryview(pt)[32:], memoryview(o)[32:])
out('enc_two_calls', hexlify(o).decode())
""".format(k=K128, iv=CBC_IV, cbc=CBC_CT, pt=PT))
    last = bytes.fromhex(CBC_CT)[-16:]
    after = Cipher(algorithms.AES(bytes.fromhex(K128)), modes.CBC(last)).decryptor().update(bytes(16))
    assert got == {"in_place_blocks": PT, "after": after.hex(), "primed": PT,
                   "enc_two_calls": CBC_CT}


def test_cbc_in_any_pieces_equals_one_pass_of_an_independent_aes(cpy):
    # Random key, IV and data; decrypted on the board in random
    # block-aligned pieces, against the cryptography package in one pass.
    rng = random.Random(15)
    cases = []
    for _ in range(20):
        key, iv = rng.randbytes(16), rng.randbytes(16)
        ct = rng.randbytes(16 * rng.randint(1, 12))
        cuts = sorted({16 * rng.randint(0, len(ct) // 16) for _ in range(3)} | {0, len(ct)})
        cases.append((key.hex(), iv.hex(), ct.hex(), cuts))
    got = _run(cpy, """
res = []
for k, iv, ct, cuts in {cases!r}:
    a = aesio.AES(h(k), aesio.MODE_CBC, h(iv))
    buf = bytearray(h(ct))
    for i in range(len(cuts) - 1):
        m = memoryview(buf)[cuts[i]:cuts[i + 1]]
        a.decrypt_into(m, m)
    res.append(hexlify(buf).decode())
out('res', res)
""".format(cases=cases))
    want = [Cipher(algorithms.AES(bytes.fromhex(k)), modes.CBC(bytes.fromhex(iv)))
            .decryptor().update(bytes.fromhex(ct)).hex() for k, iv, ct, _ in cases]
    assert got["res"] == want


def test_rekey_keeps_the_mode_and_restarts_the_chain_from_the_new_iv(cpy):
    got = _run(cpy, """
k, iv, ct = h('{k}'), h('{iv}'), h('{cbc}')
a = aesio.AES(bytes(16), aesio.MODE_CBC, bytes(16))
a.decrypt_into(h('{cbc}'), bytearray(64))   # the chain moved on
a.rekey(k, iv)
o = bytearray(64)
a.decrypt_into(ct, o)
out('mode', a.mode)
out('pt', hexlify(o).decode())
# Setting the mode keeps the key and the IV given at construction.
a = aesio.AES(k, aesio.MODE_ECB, iv)
a.mode = aesio.MODE_CBC
a.decrypt_into(ct, o)
out('switched', hexlify(o).decode())
""".format(k=K128, iv=CBC_IV, cbc=CBC_CT))
    assert got == {"mode": 2, "pt": PT, "switched": PT}


def test_standin_refuses_what_the_chip_would_run_wrongly(cpy):
    # Stricter than the chip, on purpose: with no IV the chip's CBC runs
    # from 16 zero bytes (rekey without IV zeroes it), and overlapping
    # src/dest are a memcpy across itself. Either would decrypt garbage
    # that only a later hash check catches.
    got = _run(cpy, """
out('no_iv', refused(lambda: aesio.AES(bytes(16), aesio.MODE_CBC).decrypt_into(bytes(16), bytearray(16))))
a = aesio.AES(bytes(16), aesio.MODE_CBC, bytes(16))
a.rekey(bytes(16))
out('rekey_no_iv', refused(lambda: a.decrypt_into(bytes(16), bytearray(16))))
buf = bytearray(48)
a.rekey(bytes(16), bytes(16))
out('overlap', refused(lambda: a.decrypt_into(memoryview(buf)[:32], memoryview(buf)[16:])))
out('same', refused(lambda: a.decrypt_into(memoryview(buf)[16:], memoryview(buf)[16:])))
""")
    assert got["no_iv"][0] == got["rekey_no_iv"][0] == got["overlap"][0] == "ValueError"
    assert got["same"] == "accepted"


def test_circuitpython_build_has_no_cryptolib(cpy):
    # A board has no cryptolib: agent code that reached for it would pass
    # here and fail there. The stand-in's own is under a private name.
    got = _run(cpy, """
for name in ('cryptolib', 'ucryptolib'):
    try:
        __import__(name)
        out(name, 'imported')
    except ImportError:
        out(name, 'ImportError')
""")
    assert got == {"cryptolib": "ImportError", "ucryptolib": "ImportError"}
