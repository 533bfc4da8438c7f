# SPDX-License-Identifier: MIT
"""SHA-512 on every implementation, against CPython's hashlib.

Known answers (FIPS 180 examples, empty, one million 'a' fed in pieces),
hashing in pieces equal to hashing at once for every split point of
messages around the 112- and 128-byte padding boundaries, and refusal of
non-buffer input. A wrong digest here would let Ed25519 verify the wrong
hash of an update image.
"""

import hashlib

import pytest

import crypto_cases as cc

KATS = [
    b"abc",
    b"",
    b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
]
LENGTHS = [0, 1, 111, 112, 113, 127, 128, 129, 255, 256, 300]
SCRIPT = cc.DEVICE / "sha512_checks.py"
# Count of 'a' for the long known answer: one million (FIPS 180), but
# 100,000 through adafruit_hashlib's pure-Python SHA-512, which would take
# ~5 s for the megabyte.
def _a_count(impl):
    return 100000 if impl == "fallback-circuitpython" else 1000000


def _message(n):
    return bytes((i * 7 + 3) & 255 for i in range(n))


def _module(impl):
    if impl.startswith("fallback"):
        return "mpota.crypto"
    return cc.BOARD_NATMOD_NAME if cc.is_board_natmod(impl) else "ed25519"


def _run(impl, request):
    code = "MODULE = {!r}\nKATS = {!r}\nLENGTHS = {!r}\nA_COUNT = {}\n{}".format(
        _module(impl),
        KATS,
        LENGTHS,
        _a_count(impl),
        SCRIPT.read_text(),
    )
    if impl == "unix-c":
        return request.getfixturevalue("unix_target").run(code)
    if impl == "natmod-x64":
        cc.require_natmod()
        return request.getfixturevalue("unix_stock_target").run(code, path=[cc.NATMOD_X64_DIR])
    if impl == "qemu-m3":
        return request.getfixturevalue("qemu_m3").run(code, timeout=120.0)
    if cc.is_board_natmod(impl):
        board, mount = cc.board_natmod(impl, request, request.getfixturevalue("tmp_path_factory").mktemp(impl))
        return board.run(code, path=[mount], timeout=120.0)
    if impl == "fallback-circuitpython":
        cc.require_circuitpython_lib()
        return request.getfixturevalue("unix_stock_target").run(code, path=[cc.FIRMWARE, cc.CIRCUITPYTHON_LIB])
    if impl == "fallback-cpython":
        return cc.run_cpython(code, path=[cc.FIRMWARE])
    raise AssertionError(impl)


@pytest.fixture(scope="module", params=cc.IMPLEMENTATIONS)
def results(request):
    """What the checks printed on one implementation, as lines split in words."""
    out = _run(request.param, request)
    return request.param, [line.split(" ") for line in out.splitlines() if line]


def _lines(results, kind):
    return [words[1:] for words in results[1] if words[0] == kind]


def test_fips180_known_answers_match(results):
    got = [words[0] for words in _lines(results, "kat")]
    assert got == [hashlib.sha512(text).hexdigest() for text in KATS], results[0]


def test_million_a_fed_in_pieces_matches(results):
    count = _a_count(results[0])
    assert _lines(results, "million") == [[str(count), hashlib.sha512(b"a" * count).hexdigest()]], results[0]


def test_hashing_in_pieces_equals_hashing_at_once_at_every_split_point(results):
    splits = _lines(results, "split")
    assert [int(words[0]) for words in splits] == LENGTHS, results[0]
    for words in splits:
        n = int(words[0])
        assert words[1] == hashlib.sha512(_message(n)).hexdigest(), (results[0], n)
        # Padding straddles a block at 112..127 bytes: every split must agree.
        assert words[2:] == [""], "{}: length {} differs when split at {}".format(results[0], n, words[2])


def test_non_buffer_input_is_refused_with_type_error(results):
    assert _lines(results, "misuse") == [], results[0]


_DIGEST_THEN_UPDATE = """
import {mod} as m
h = m.sha512(b'ab')
first = h.digest()
again = h.digest()
h.update(b'c')
print(first.hex(), again.hex(), h.digest().hex())
"""


@pytest.mark.parametrize("where", ["builtin", "natmod-x64"])
def test_digest_does_not_end_the_hash_so_a_later_update_is_not_lost(where, unix_target, unix_stock_target):
    # docs/ED25519.md promises hashlib's CPython behaviour: digest() may be
    # asked again, and update() after it continues the same message.
    if where == "builtin":
        out = unix_target.run(_DIGEST_THEN_UPDATE.format(mod="ed25519"))
    else:
        out = unix_stock_target.run(_DIGEST_THEN_UPDATE.format(mod="ed25519"),
                                    path=[str(cc.NATMOD_X64_DIR)])
    first, again, later = out.split()
    assert first == again == hashlib.sha512(b"ab").hexdigest()
    assert later == hashlib.sha512(b"abc").hexdigest()
