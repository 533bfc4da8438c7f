# SPDX-License-Identifier: MIT
"""trial.decide(), the boot decision without its I/O, as a table of every
case: the stored state (a trial or none, its counted boots, whether it was
selected again once already), the slot the bootloader started (None where
the agent picks the slot) and whether a bootloader runs images. Each
action is what keeps a board from bricking or from running an image
nobody confirmed; boot() only carries it out (the agent tests on the unix
port and the power-cut campaign run boot() itself)."""

import itertools

import pytest

from mpota import trial as T
from mpota.state.fields import NONE, State

ACTIVE_SLOT, TRIAL_SLOT, MAX = 0, 1, 3


def state(trial, attempts=0, reselected=False):
    st = State()
    st.active = ACTIVE_SLOT
    st.trial = TRIAL_SLOT if trial else NONE
    st.attempts = attempts
    st.flags = 1 if reselected else 0  # trial._RESELECTED
    return st


# (trial pending, counted boots, selected again already, slot started, bootloader) -> action
TABLE = [
    # No trial: the confirmed image runs.
    ((False, 0, False, None, False), T.ACTIVE),
    ((False, 0, False, ACTIVE_SLOT, True), T.COMMIT),
    # A revert whose set_boot() was cut: the bootloader still starts the
    # given-up slot; back to the confirmed one.
    ((False, 0, False, TRIAL_SLOT, True), T.BACK),
    # A trial, the agent picking the slot: count boots up to MAX, then give up.
    ((True, 0, False, None, False), T.TRY),
    ((True, MAX - 1, False, None, False), T.TRY),
    ((True, MAX, False, None, False), T.GIVE_UP),
    ((True, MAX + 5, False, None, False), T.GIVE_UP),
    # A trial the bootloader started: the same, and giving up selects the
    # confirmed slot (and resets into it).
    ((True, 0, False, TRIAL_SLOT, True), T.TRY),
    ((True, 1, True, TRIAL_SLOT, True), T.TRY),
    ((True, MAX, False, TRIAL_SLOT, True), T.GIVE_UP_SELECT),
    # The bootloader started the old slot though a trial is pending: never
    # counted (a power cut before set_boot() or before the first count) is
    # selected again once; counted, or already selected again, is a revert
    # the bootloader made (its own rollback).
    ((True, 0, False, ACTIVE_SLOT, True), T.RESELECT),
    ((True, 0, True, ACTIVE_SLOT, True), T.LEFT),
    ((True, 1, False, ACTIVE_SLOT, True), T.LEFT),
    ((True, MAX, False, ACTIVE_SLOT, True), T.LEFT),
]


@pytest.mark.parametrize("case, action", TABLE)
def test_boot_decision_table(case, action):
    trial, attempts, reselected, running, bootloader = case
    assert T.decide(state(trial, attempts, reselected), running, MAX, bootloader) == action


ALL = list(itertools.product([False, True], range(MAX + 2), [False, True],
                             [None, ACTIVE_SLOT, TRIAL_SLOT], [False, True]))


def test_every_input_has_an_action_and_the_state_is_not_touched():
    # The decision does no I/O and changes nothing: boot() does both.
    for trial, attempts, reselected, running, bootloader in ALL:
        st = state(trial, attempts, reselected)
        before = bytearray(4096)
        st.encode(before)
        act = T.decide(st, running, MAX, bootloader)
        after = bytearray(4096)
        st.encode(after)
        assert act in (T.ACTIVE, T.COMMIT, T.BACK, T.RESELECT, T.LEFT, T.GIVE_UP,
                       T.GIVE_UP_SELECT, T.TRY)
        assert after == before


def test_an_unconfirmed_image_runs_only_as_a_counted_trial_within_max_attempts():
    # Across every input: the trial slot runs only through TRY, and TRY
    # only before MAX counted boots; a state without a trial never starts one.
    for trial, attempts, reselected, running, bootloader in ALL:
        act = T.decide(state(trial, attempts, reselected), running, MAX, bootloader)
        if act == T.TRY:
            assert trial and attempts < MAX and running in (None, TRIAL_SLOT)
        if not trial:
            assert act in (T.ACTIVE, T.COMMIT, T.BACK)
        if act == T.RESELECT:
            assert attempts == 0 and not reselected


def test_the_table_covers_every_action():
    assert {a for _, a in TABLE} == {T.ACTIVE, T.COMMIT, T.BACK, T.RESELECT, T.LEFT, T.GIVE_UP,
                                     T.GIVE_UP_SELECT, T.TRY}
