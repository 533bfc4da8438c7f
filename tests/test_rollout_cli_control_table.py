# SPDX-License-Identifier: MIT
"""The control key's whole decision on the host, as a table: the entry
before (state, cap, poll hint, or none), the action, and what follows
(or the refusal). mpota control and the fleet service both go through
mpota_host.rollout.control.transition."""

import pytest

from mpota.bundle import format as F
from mpota_host.errors import CommandError
from mpota_host.rollout.control import POLL_DEFAULT, transition

RUN, PAUSE, HALT = F.STATE_RUN, F.STATE_PAUSE, F.STATE_HALT
CEILING = 2500  # the plan's max_percent: 25 %

# (entry before, action, cap_bp, entry after | refusal text)
TABLE = [
    (None, "run", None, (RUN, CEILING, POLL_DEFAULT)),
    (None, "run", 500, (RUN, 500, POLL_DEFAULT)),
    (None, "run", 2600, "above the ceiling"),
    (None, "pause", None, "not in the control document"),
    (None, "resume", None, "not in the control document"),
    (None, "cap", 100, "not in the control document"),
    (None, "drop", None, "not in the control document"),
    (None, "halt", None, (HALT, 0, POLL_DEFAULT)),
    ((RUN, 800, 60), "run", None, "already in the control document"),
    ((RUN, 800, 60), "pause", None, (PAUSE, 800, 60)),
    ((RUN, 800, 60), "resume", None, (RUN, 800, 60)),
    ((RUN, 800, 60), "cap", 100, (RUN, 100, 60)),
    ((RUN, 800, 60), "cap", 2500, (RUN, 2500, 60)),
    ((RUN, 800, 60), "cap", 2501, "above the ceiling"),
    ((RUN, 800, 60), "cap", None, "needs --percent"),
    ((RUN, 800, 60), "halt", None, (HALT, 800, 60)),
    ((RUN, 800, 60), "drop", None, None),
    ((PAUSE, 800, 60), "resume", None, (RUN, 800, 60)),
    ((PAUSE, 800, 60), "pause", None, (PAUSE, 800, 60)),
    ((PAUSE, 800, 60), "cap", 0, (PAUSE, 0, 60)),
    ((PAUSE, 800, 60), "halt", None, (HALT, 800, 60)),
    ((PAUSE, 800, 60), "run", None, "already in the control document"),
    ((HALT, 800, 60), "resume", None, "halt is final"),
    ((HALT, 800, 60), "run", None, "halt is final"),
    ((HALT, 800, 60), "pause", None, "halt is final"),
    ((HALT, 800, 60), "cap", 100, "halt is final"),
    ((HALT, 800, 60), "halt", None, (HALT, 800, 60)),
    ((HALT, 800, 60), "drop", None, "--force drops it"),
    # A cap above the ceiling, written by something else, is not kept.
    ((RUN, 9000, 60), "pause", None, (PAUSE, CEILING, 60)),
    ((PAUSE, 9000, 60), "resume", None, (RUN, CEILING, 60)),
    ((RUN, 9000, 60), "halt", None, (HALT, CEILING, 60)),
]


@pytest.mark.parametrize("before,action,cap,after", TABLE,
                         ids=["{}-{}-{}".format(b and b[0], a, c) for b, a, c, _ in TABLE])
def test_control_transition_table(before, action, cap, after):
    if isinstance(after, str):
        with pytest.raises(CommandError) as e:
            transition(before, action, CEILING, cap, name="fw")
        assert after in str(e.value)
    else:
        assert transition(before, action, CEILING, cap, name="fw") == after


def test_stolen_control_key_cannot_lift_a_halt_with_any_action():
    for action in ("run", "resume", "pause", "cap"):
        for cap in (None, 0, 100, CEILING):
            with pytest.raises(CommandError):
                transition((HALT, 0, 60), action, CEILING, cap, name="fw")


def test_no_transition_writes_a_cap_above_the_ceiling():
    states = [None, (RUN, 0, 60), (PAUSE, CEILING, 60), (RUN, F.BASIS, 60)]
    for before in states:
        for action in ("run", "resume", "pause", "cap", "halt"):
            for cap in (None, 0, 1, CEILING - 1, CEILING, CEILING + 1, F.BASIS):
                try:
                    after = transition(before, action, CEILING, cap, name="fw")
                except CommandError:
                    continue
                assert after is None or after[1] <= CEILING, (before, action, cap, after)


def test_forced_drop_removes_a_halted_entry():
    assert transition((HALT, 0, 60), "drop", CEILING, force=True) is None
