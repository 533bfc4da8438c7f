# SPDX-License-Identifier: MIT
"""A bounded sample of the power-cut campaign (`make campaign` cuts before
every operation; docs/CAMPAIGN.md): for each setup and cycle, power is
cut before every STRIDE-th flash operation or state write, whole and
torn, and after each cut the device must boot a valid signed image, keep
its floors and its confirmed state, and finish the update on retry
without fetching verified chunks again beyond one erase unit."""

import pytest

from campaign import powercut


@pytest.mark.parametrize("setup,cycle", [(s, c) for s in sorted(powercut.SAMPLE)
                                         for c in powercut.cycles(s)])
def test_power_cut_before_sampled_operations_keeps_a_valid_image_and_the_retry_completes(
        unix_target, setup, cycle):
    r = powercut.run_one(setup, cycle, stride=powercut.SAMPLE[setup], target=unix_target)
    count = r["count"]
    # The cycle really writes: the image's chunks, the table, the state.
    assert count["ops"] > 30 and count["state_writes"] >= 6
    assert r["cases"] >= 2 * (count["ops"] // powercut.SAMPLE[setup]) - 2
    assert r["failures"] == [] and r["failed"] == 0
    assert r["resume"]["max_again"] <= max(1, powercut.SETUPS[setup]["sector"]
                                           // powercut.SETUPS[setup]["chunk"])


def test_the_sweep_notices_a_state_record_written_over_its_only_good_copy(unix_target):
    # The control: with the state store sabotaged to overwrite its newest
    # copy, cuts during state writes lose the device's state, and the
    # sweep must say so.
    r = powercut.run_one("nor-4k", "good", stride=3, target=unix_target, sabotage="one-copy")
    assert r["failed"] > 0
    reasons = " ".join(" ".join(f[3]) for f in r["failures"])
    assert "not-provisioned" in reasons
