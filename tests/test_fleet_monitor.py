# SPDX-License-Identifier: MIT
"""The halt decision as a table (host_tools/mpota_host/fleet/monitor.py):
every rule, its edge, and the rules an operator changed."""

import pytest

from mpota_host.fleet import monitor

R = monitor.DEFAULT_RULES


def wave(name="5%", canary=False, ran=0, failures=0):
    return {"name": name, "canary": canary, "ran": ran, "failures": failures}


CASES = [
    # (what, figures, rules changed, halts?)
    ("nothing ran", {"waves": [wave(canary=True), wave()]}, {}, False),
    ("one bad signature halts at once",
     {"security": {"bad-signature": 1}, "waves": [wave(canary=True, ran=1)]}, {}, True),
    ("hash mismatch is a security refusal",
     {"security": {"hash-mismatch": 3}, "waves": []}, {}, True),
    ("security refusal with the rule off", {"security": {"rollback": 2}, "waves": []},
     {"security_halt": False}, False),
    ("a security reason with no device", {"security": {"expired": 0}, "waves": []}, {}, False),
    ("one failure in the canary wave", {"waves": [wave(canary=True, ran=5, failures=1)]}, {}, False),
    ("two failures in the canary wave", {"waves": [wave(canary=True, ran=5, failures=2)]}, {}, True),
    ("three allowed in the canary wave",
     {"waves": [wave(canary=True, ran=5, failures=2)]}, {"canary_failures": 3}, False),
    ("2 of 49 is judged only from 50 on", {"waves": [wave(ran=49, failures=2)]}, {}, False),
    ("1 of 100 is not over 1 %", {"waves": [wave(ran=100, failures=1)]}, {}, False),
    ("2 of 100 is over 1 %", {"waves": [wave(ran=100, failures=2)]}, {}, True),
    ("1 of 50 is over 1 %", {"waves": [wave(ran=50, failures=1)]}, {}, True),
    ("5 % allowed", {"waves": [wave(ran=100, failures=5)]}, {"wave_fail_percent": 5}, False),
    ("judged from 10 devices", {"waves": [wave(ran=10, failures=1)]}, {"wave_min_ran": 10}, True),
    ("a later wave halts too",
     {"waves": [wave(canary=True, ran=5), wave("5%", ran=60), wave("25%", ran=200, failures=3)]},
     {}, True),
]


@pytest.mark.parametrize("what,figures,changed,halts", CASES, ids=[c[0] for c in CASES])
def test_halt_rules_table(what, figures, changed, halts):
    rules = monitor.check_rules(changed)
    reason = monitor.decide(figures, rules)
    assert (reason is not None) == halts, reason


def test_halt_reason_names_the_refusal_and_the_devices():
    reason = monitor.decide({"security": {"bad-signature": 2, "rollback": 1}, "waves": []}, R)
    assert reason == "security refusal: bad-signature on 2 devices, rollback on 1 device"


def test_silent_timeout_is_the_longer_of_two_polls_and_the_rule():
    assert monitor.silent_after(R, 3600) == 24 * 3600
    assert monitor.silent_after(R, 86400) == 2 * 86400
    assert monitor.silent_after(monitor.check_rules({"silent_hours": 1}), 60) == 3600


@pytest.mark.parametrize("bad", [{"canary_failures": 0}, {"wave_fail_percent": -1},
                                 {"nonsense": 1}, {"security_halt": "yes"}])
def test_operator_cannot_set_a_rule_out_of_range(bad):
    with pytest.raises(ValueError):
        monitor.check_rules(bad)
