# SPDX-License-Identifier: MIT
"""A bounded sample of the fuzz family (`make campaign` runs thousands of
examples per target, atheris if it installed, and 300,000 MicroPython
rounds; docs/CAMPAIGN.md): manifest and root parsers and the trust
decisions give a document or a clean BundleError, accept only what the
spec allows, never accept a mutant of a signed document, and stay within
time and memory bounds on CPython and under MicroPython's small heap."""

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
    fuzz._micropython(fam, 300, good_manifest, good_root2, tmp_path, 1, sabotage=True)
    assert fam.failed >= 1
    assert any("IndexError" in x for x in fam.failures), fam.failures[:3]


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
