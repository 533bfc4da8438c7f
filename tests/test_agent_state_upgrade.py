# SPDX-License-Identifier: MIT
"""An agent update keeps the device's state: a state record written by an
agent from before staged rollouts (324-byte payload) loads in today's
agent with its boot state, counters and log, and the new fields at zero;
the next save writes the new layout."""

from mpota.state import StateStore, fields
from mpota.state.record import FileArea


def test_state_record_of_an_older_agent_loads_after_an_agent_update(tmp_path):
    store = StateStore((FileArea(str(tmp_path / "s0")), FileArea(str(tmp_path / "s1"))))
    st = fields.State()
    st.active, st.min_counter, st.last_sequence, st.active_version = 1, 7, 9, 4
    st.add(5, 0, 4, 1_700_000_000)
    st.time_floor = 123  # must not survive: the old layout has no room for it
    st.encode(store.store.payload)
    store.store.save(fields.SIZE_V1)  # what an older agent wrote
    got = store.load()
    assert (got.active, got.min_counter, got.last_sequence, got.active_version) == (1, 7, 9, 4)
    assert list(got.events()) == [(5, 0, 4, 1_700_000_000)]
    assert (got.time_floor, got.control_version, got.halted_used) == (0, 0, 0)
    # Its log counts as reported: no flood of old events to a new fleet.
    assert got.events_total == got.events_acked == 1
    got.time_floor = 456
    store.save(got)
    assert store.load().time_floor == 456


def test_halted_plans_ring_keeps_the_last_eight(tmp_path):
    st = fields.State()
    for i in range(10):
        assert st.add_halted(bytes([i]) * 32)
    assert not st.add_halted(bytes([9]) * 32)
    assert [st.is_halted(bytes([i]) * 32) for i in range(10)] == [False] * 2 + [True] * 8
    buf = bytearray(fields.SIZE)
    st.encode(buf)
    again = fields.State().decode(buf)
    assert again.is_halted(bytes([9]) * 32) and not again.is_halted(bytes([0]) * 32)


def test_state_record_from_before_provenance_loads_with_none(tmp_path):
    # A 420-byte record (staged rollouts, no provenance): the fields it
    # has survive, the provenance is empty until the next image brings it.
    store = StateStore((FileArea(str(tmp_path / "s0")), FileArea(str(tmp_path / "s1"))))
    st = fields.State()
    st.time_floor, st.report_seq = 77, 5
    st.active_rev = fields.rev_bytes("must-not-survive")
    st.encode(store.store.payload)
    store.store.save(fields.SIZE_V2)
    got = store.load()
    assert (got.time_floor, got.report_seq) == (77, 5)
    assert fields.rev_text(got.active_rev) == "" and not any(got.active_sbom)
    got.active_rev, got.trial_sbom = fields.rev_bytes("a" * 64), bytes(range(32))
    store.save(got)
    again = store.load()
    assert fields.rev_text(again.active_rev) == "a" * 64 and again.trial_sbom == bytes(range(32))
