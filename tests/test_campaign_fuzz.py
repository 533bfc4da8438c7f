# SPDX-License-Identifier: MIT
"""A bounded sample of the fuzz family (`make campaign` runs thousands of
examples per target, atheris if it installed, and 300,000 MicroPython
rounds; docs/CAMPAIGN.md): manifest and root parsers and the trust
decisions give a document or a clean BundleError, accept only what the
spec allows, never accept a mutant of a signed document, and stay within
bounds on their work on CPython (function calls, signature checks,
allocation peak) and under MicroPython's small heap (bytes allocated per
round): counted, never timed, so a busy machine gives the same verdicts."""

import pytest

from campaign import fuzz
from mpota.bundle import format as F


def test_sampled_fuzzing_finds_only_clean_refusals(unix_target):
    fam = fuzz.run(full=False)
    assert fam.failures == []
    examples, _, rounds = fuzz.SAMPLE
    assert fam.tried >= 5 * examples + rounds


def test_the_hypothesis_oracles_notice_a_parser_that_crashes(monkeypatch):
    frame = F.frame

    def broken(doc, kind):
        if len(doc) % 7 == 3:
            raise IndexError("sabotage")
        return frame(doc, kind)

    monkeypatch.setattr(F, "frame", broken)
    fam = fuzz.Family("control")
    fuzz._hypothesis(fam, 60, 1, only=["manifest and root parsers, arbitrary bytes"],
                     shrink=False)
    assert fam.failed >= 1
    assert any("IndexError" in x for x in fam.failures), fam.failures[:3]


def test_the_micropython_loop_notices_a_parser_that_crashes(unix_target, tmp_path):
    fam = fuzz.Family("control")
    _, good_manifest, good_root2 = fuzz._targets()
    fuzz._micropython(fam, 300, good_manifest, good_root2, tmp_path, 1, sabotage="crash")
    assert fam.failed >= 1
    assert any("IndexError" in x for x in fam.failures), fam.failures[:3]


def test_the_micropython_loop_notices_a_parser_that_works_too_hard(unix_target, tmp_path):
    # 200 KB allocated by one call: over the round's bound, whatever the
    # machine's speed.
    fam = fuzz.Family("control")
    _, good_manifest, good_root2 = fuzz._targets()
    fuzz._micropython(fam, 300, good_manifest, good_root2, tmp_path, 1, sabotage="work")
    assert fam.failed >= 1
    assert any("too much work" in x for x in fam.failures), fam.failures[:3]
    assert not any("IndexError" in x for x in fam.failures)


def _quadratic(frame):
    def parse(doc, kind):
        for i in range(len(doc)):
            for j in range(0, len(doc), 4):
                abs(i - j)
        return frame(doc, kind)

    return parse


def _checks_again_and_again(verify_manifest):
    def verify(root, doc, **facts):
        for _ in range(4 * F.MAX_SIGS):
            verify_manifest(root, doc, **facts)
        return verify_manifest(root, doc, **facts)

    return verify


@pytest.mark.parametrize("sabotage, found", [
    (lambda: (F, "frame", _quadratic(F.frame)), "calls"),
    (lambda: (fuzz.trust, "verify_manifest", _checks_again_and_again(fuzz.trust.verify_manifest)),
     "signatures"),
])
def test_the_work_bound_notices_a_call_that_does_too_much(monkeypatch, sabotage, found):
    # Counted, not timed: the same verdict on an idle and a busy machine.
    _, good_manifest, _ = fuzz._targets()

    def verify(doc):
        return fuzz.trust.verify_manifest(fuzz.ROOT1, doc, **fuzz.FACTS)

    assert not isinstance(fuzz._bounded(verify, good_manifest), str)
    monkeypatch.setattr(*sabotage())
    with pytest.raises(fuzz.Finding, match=found):
        fuzz._bounded(verify, good_manifest)


@pytest.mark.parametrize("fields", [
    # The accepted-manifest oracle: a value the spec forbids is a finding.
    {"chunk_size": 1000}, {"target": 3}, {"product": "a b\x01"},
])
def test_the_accepted_manifest_oracle_notices_values_out_of_range(fields):
    signed = fuzz.D.unsigned(F.DOC_MANIFEST, fuzz.writer.manifest_fields(
        fuzz.f.params(), 4096, bytes(32), bytes(32)))
    m = F.manifest(signed + b"\0", len(signed))
    for k, v in fields.items():
        setattr(m, k, v)
    with pytest.raises(fuzz.Finding):
        fuzz._check_manifest(m, signed + b"\0")
