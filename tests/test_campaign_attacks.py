# SPDX-License-Identifier: MIT
"""The attack family of the campaign (docs/CAMPAIGN.md), whole: it is the
threat list, so `make test` and `make campaign` run the same cases. Each
case is one named attack of the TUF/Uptane list; controls show that a
valid release goes through on the same devices."""

import pytest

from campaign import attacks


@pytest.fixture(scope="module")
def family(unix_target):
    return attacks.run()


@pytest.fixture(scope="module")
def names(tmp_path_factory):
    t = attacks.Tree(tmp_path_factory.mktemp("threats"))
    _, base = attacks._devices(t)
    return [c[0] for c in attacks.catalogue(t, base)]


def test_every_attack_on_the_threat_list_is_refused_and_leaves_the_device_untouched(family):
    assert family.failures == []
    assert family.tried >= 40


@pytest.mark.parametrize("threat", [
    "arbitrary software", "rollback", "replay", "freeze", "endless data", "mix-and-match",
    "wrong device class", "wrong hardware revision", "key below threshold", "revoked key",
    "forged rotation", "TLS", "control"])
def test_the_threat_list_covers(names, threat):
    assert any(n.startswith(threat) for n in names)


def test_the_attack_judge_notices_an_attack_that_got_through():
    before = {"active": 0, "trial": 255, "version": 2, "min_counter": 2, "last_sequence": 12,
              "root_version": 1, "root": 1, "running_sha": "a", "active_sha": "a",
              "last_failure": None}
    after = dict(before, trial=1)
    bad = attacks.judge("rollback", None, {"got": {"outcome": "installed"},
                                           "before": before, "after": after})
    assert any("expected rollback" in b for b in bad) and any("trial changed" in b for b in bad)
