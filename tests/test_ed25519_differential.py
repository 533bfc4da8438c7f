# SPDX-License-Identifier: MIT
"""Differential test: our verifiers against libsodium, verdict by verdict.

10,000 cases from a fixed seed (crypto_cases.differential_cases): valid
signatures, and mutations of them that attack the verifier (bit flips in
key, signature and message; S+L and S+kL; high bits of S; small-order,
mixed-order and non-canonical points as A and as R; empty and long
messages). The whole set runs through the C module on the unix port in one
process; the first 1,000 (every family is in them) through the natmod, the
both fallback paths; the first 320 through the Cortex-M3 board (the 32-bit
field layout).
"""

import collections

import pytest

import crypto_cases as cc

FULL = 10000
SAMPLE = 1000
# The emulated board verifies at a few hundred per second: a smaller slice,
# still holding every family (checked below).
BOARD_SAMPLE = 320


@pytest.fixture(scope="module")
def cases():
    return cc.differential_cases(FULL)


@pytest.fixture(scope="module")
def expected(cases):
    return cc.reference_verdicts(cases)


def _mix(cases, expected):
    return collections.Counter((cc.family_of(case), v) for case, v in zip(cases, expected))


def test_case_mix_holds_every_attack_family_and_both_verdicts(cases, expected):
    for count in (FULL, SAMPLE, BOARD_SAMPLE):
        mix = _mix(cases[:count], expected[:count])
        for family in cc.FAMILIES:
            assert mix[(family, "1")] + mix[(family, "0")] >= count // 50, (count, family)
        assert sum(n for (_, v), n in mix.items() if v == "1") >= count // 4
        assert sum(n for (_, v), n in mix.items() if v == "0") >= count // 2
        # The cofactorless equation matters only if some mixed-order keys
        # verify (k divisible by 8) and some do not.
        assert mix[("mixed_order_key", "1")] and mix[("mixed_order_key", "0")]
        assert mix[("valid", "1")] == mix[("valid", "1")] + mix[("valid", "0")]
    assert set(expected) == {"0", "1"}


def test_ten_thousand_attack_cases_get_libsodiums_verdicts_from_the_c_module(cases, expected, request, tmp_path):
    got = cc.run_on("unix-c", cases, request, tmp_path)
    report = cc.disagreements(cases, got, expected)
    assert not report, report


@pytest.mark.parametrize("impl", ["natmod-x64", "fallback-circuitpython", "fallback-cpython"])
def test_attack_sample_gets_libsodiums_verdicts(impl, cases, expected, request, tmp_path):
    got = cc.run_on(impl, cases[:SAMPLE], request, tmp_path)
    report = cc.disagreements(cases[:SAMPLE], got, expected[:SAMPLE])
    assert not report, "{}:\n{}".format(impl, report)


def test_attack_sample_gets_libsodiums_verdicts_from_the_32_bit_field_on_a_cortex_m3(cases, expected, request, tmp_path):
    # The unix build uses the 64-bit field layout; the board runs the other.
    got = cc.run_on("qemu-m3", cases[:BOARD_SAMPLE], request, tmp_path)
    report = cc.disagreements(cases[:BOARD_SAMPLE], got, expected[:BOARD_SAMPLE])
    assert not report, report
