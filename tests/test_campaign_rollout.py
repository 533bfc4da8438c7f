# SPDX-License-Identifier: MIT
"""The campaign's rollout families at `make test` size: fuzzing the plan,
control and revocation documents (hypothesis and the MicroPython loop)
finds only clean refusals, and the fuzzer does notice a parser that
crashes; the power-cut sweep of a rollout-driven update."""

from campaign import powercut, rolloutfuzz


def test_sampled_rollout_fuzzing_finds_only_clean_refusals(unix_target):
    fam = rolloutfuzz.run(full=False)
    assert fam.tried > 4000
    assert fam.failed == 0, fam.failures


def test_rollout_fuzzer_notices_a_parser_that_crashes(monkeypatch):
    from mpota.bundle import rollout as R

    real = R.control

    def broken(doc, signed):
        if len(doc) % 5 == 1:
            raise IndexError("sabotage")
        return real(doc, signed)

    monkeypatch.setattr(R, "control", broken)
    fam = rolloutfuzz.Family("control")
    rolloutfuzz._hypothesis(fam, 200, 1)
    assert fam.failed and any("IndexError" in f for f in fam.failures), fam.failures


def test_power_cut_during_a_rollout_driven_install_keeps_a_valid_image(unix_target):
    r = powercut.run_one("app-dir", "rollout", stride=3)
    assert r["cases"] >= 20
    assert r["failed"] == 0, r["failures"]
