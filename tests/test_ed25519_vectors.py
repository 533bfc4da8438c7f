# SPDX-License-Identifier: MIT
"""Published Ed25519 vectors through every implementation of `verify`.

Each vector file goes through each implementation in one process (one run
per batch on the board), and a failure names the vector that disagreed.
Implementations: the C module on the unix port, the x64 natmod, the
Cortex-M3 board, and the pure-Python fallback both on the CircuitPython
path (unix port without the C module, SHA-512 from adafruit_hashlib) and on
CPython. See crypto_cases.IMPLEMENTATIONS.
"""

import nacl.signing
import pytest

import crypto_cases as cc


@pytest.fixture(params=cc.IMPLEMENTATIONS)
def impl(request):
    return request.param


def _check(impl, cases, expected, request, tmp_path):
    got = cc.run_on(impl, cases, request, tmp_path)
    report = cc.disagreements(cases, got, expected)
    assert not report, "{}:\n{}".format(impl, report)


# ---------------------------------------------------------------- the data


def test_wycheproof_verdicts_are_libsodiums():
    # The policy is libsodium's: the file's verdicts must be its verdicts too.
    cases, expected = cc.wycheproof_cases()
    assert len(cases) == 151
    assert cc.reference_verdicts(cases) == expected


def test_speccheck_edge_cases_are_all_refused_by_libsodium_but_case_3():
    verdicts = cc.reference_verdicts(cc.speccheck_cases())
    assert [i for i, v in enumerate(verdicts) if v == "1"] == [3]


def test_rfc8032_vectors_are_reproduced_by_libsodium():
    # Guards the copied data: signing again must give the same key and bytes.
    cases, secrets = cc.rfc8032_cases()
    assert [c[0] for c in cases] == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"]
    for (name, pk, sig, msg), secret in zip(cases, secrets):
        key = nacl.signing.SigningKey(secret)
        assert bytes(key.verify_key) == pk, name
        assert key.sign(msg).signature == sig, name


# ---------------------------------------------------------------- per implementation


def test_wycheproof_forged_malleable_and_malformed_signatures_are_rejected(impl, request, tmp_path):
    # Also: the 88 valid signatures are accepted, and truncated or overlong
    # signatures raise ValueError rather than being looked at.
    cases, expected = cc.wycheproof_cases()
    assert expected.count("1") == 88 and expected.count("V") == 12
    _check(impl, cases, expected, request, tmp_path)


def test_speccheck_small_order_mixed_order_and_noncanonical_points_get_libsodiums_verdicts(
    impl, request, tmp_path
):
    cases = cc.speccheck_cases()
    _check(impl, cases, cc.reference_verdicts(cases), request, tmp_path)


def test_rfc8032_signatures_are_accepted_and_tampered_copies_rejected(impl, request, tmp_path):
    originals, _ = cc.rfc8032_cases()
    cases = list(originals)
    for name, pk, sig, msg in originals:
        tampered_msg = bytes([msg[0] ^ 1]) + msg[1:] if msg else b"\x00"
        cases.append((name + ", message changed", pk, sig, tampered_msg))
        cases.append((name + ", S changed", pk, sig[:32] + bytes([sig[32] ^ 4]) + sig[33:], msg))
        cases.append((name + ", R changed", pk, bytes([sig[0] ^ 2]) + sig[1:], msg))
    expected = cc.reference_verdicts(cases)
    assert expected == "1" * len(originals) + "0" * (len(cases) - len(originals))
    _check(impl, cases, expected, request, tmp_path)


def test_truncated_or_overlong_key_or_signature_raises_value_error(impl, request, tmp_path):
    (_, pk, sig, msg) = cc.rfc8032_cases()[0][1]
    cases = [("key of {} bytes".format(n), (pk * 3)[:n], sig, msg) for n in (0, 1, 31, 33, 64)]
    cases += [("signature of {} bytes".format(n), pk, (sig * 3)[:n], msg) for n in (0, 32, 63, 65, 128)]
    cases.append(("both wrong", pk[:31], sig[:63], msg))
    _check(impl, cases, "V" * len(cases), request, tmp_path)


def test_fallback_gives_libsodiums_verdicts_on_a_cortex_m3_board(request, tmp_path):
    # The fallback on a microcontroller's interpreter and heap (~190 KB),
    # SHA-512 from adafruit_hashlib as on CircuitPython. A sample: it is slow.
    rfc, _ = cc.rfc8032_cases()
    cases = rfc + cc.speccheck_cases() + cc.differential_cases()[:20]
    cases.append(("short key", rfc[0][1][:31], rfc[0][2], rfc[0][3]))
    got = cc.run_on("fallback-qemu-m3", cases, request, tmp_path)
    report = cc.disagreements(cases, got, cc.reference_verdicts(cases))
    assert not report, report
