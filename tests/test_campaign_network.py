# SPDX-License-Identifier: MIT
"""A bounded sample of the network campaign (`make campaign` runs more
drop offsets and the persistent variants; docs/CAMPAIGN.md): every fault
mode of `mpota serve --fault`, and what only a raw server can do (answer
a Range with the whole file, serve another release's chunks, 503s), each
ends in a completed update or an untouched device, within a bound on the
requests each install makes (counted, not timed) and a bounded heap."""

import pytest

from campaign import network


def test_every_sampled_network_fault_completes_or_leaves_the_device_untouched(unix_target):
    fam = network.run(full=False)
    assert fam.tried == len(network.cases(full=False)) >= 18
    assert fam.failures == []


@pytest.mark.parametrize("expect,runs,problem", [
    # The judge itself: an install from a server that should not have
    # delivered, a refusal where the update should complete, a run that
    # makes more requests than its retries allow.
    (network.UNTOUCHED, [{"outcome": "installed", "opens": 14, "active": 0, "trial": 1,
                          "slot0": "old", "slot1": "new", "min_counter": 1}], "installed"),
    (network.COMPLETES, [{"refused": "closed", "opens": 14, "active": 0, "trial": 255,
                          "slot0": "old", "slot1": "x", "min_counter": 1}], "did not complete"),
    (network.COMPLETES, [{"outcome": "installed", "opens": network.RUN_OPENS + 1, "active": 0,
                          "trial": 1, "slot0": "old", "slot1": "new", "min_counter": 1}],
     "requests"),
    (network.UNTOUCHED, [{"refused": "closed", "opens": 14, "active": 0, "trial": 255,
                          "slot0": "changed", "slot1": "x", "min_counter": 1}], "untouched"),
])
def test_the_network_judge_notices_a_case_that_went_wrong(expect, runs, problem):
    bad = network.judge(expect, ("closed",), runs, {"old": "old", "new": "new"})
    assert any(problem in b for b in bad)
