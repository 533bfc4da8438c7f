# SPDX-License-Identifier: MIT
"""Found in the security review of staged rollouts (issue 11): attacks
on the device's poll that the first attack tests did not try. The device
code is the agent's, run on CPython with the dir bank."""

import pytest

from mpota.bundle import format as F
from rollouts import device as rd
from rollouts import docs

RUN, PAUSE, HALT = F.STATE_RUN, F.STATE_PAUSE, F.STATE_HALT


@pytest.fixture
def world(tmp_path):
    w = type("World", (), {})()
    w.tmp = tmp_path
    w.repo = docs.Repo(tmp_path / "repo")
    w.v1 = rd.app_bundle(tmp_path, "v1", 1)
    w.v2 = rd.app_bundle(tmp_path, "v2", 2)
    w.v2_sha = w.repo.bundle(w.v2)
    w.plan = w.repo.plan(docs.plan(w.v2_sha, "p2"))
    return w


def installed(dev):
    st = dev.load()
    return st.trial_version if st.trial != 0xFF else None


def test_stolen_control_key_cannot_flush_the_halt_memory_with_invented_plans(world):
    # The device sees p2 halted. The stolen control key then halts eight
    # plans that do not exist, to push p2 out of the device's memory of
    # halts, and runs p2 again in the same document.
    world.repo.control(docs.control([(world.plan, HALT, 10000, 60)], version=1))
    dev = rd.make(world.tmp, "dev-1", world.repo, world.v1)
    assert rd.poll(dev).action == "none"
    invented = [(bytes((i,)) * 32, HALT, 0, 60) for i in range(1, 9)]
    world.repo.control(docs.control(invented + [(world.plan, RUN, 10000, 60)], version=2))
    res = rd.poll(dev)
    assert res.action == "none"
    assert installed(dev) is None
    assert dev.load().is_halted(docs.sha(world.plan))


def test_install_that_fails_inside_a_poll_keeps_what_the_install_recorded(world):
    # The host serves damaged chunks of the planned bundle. The install
    # records its start and its failure in the state record; the poll must
    # not then write its own older copy of the record over them.
    import shutil

    from mpota.state import log as L

    bundle = world.repo.path / "bundles" / world.v2_sha.hex()
    shutil.rmtree(bundle / "stream", ignore_errors=True)
    for chunk in (bundle / "chunks").iterdir():
        chunk.write_bytes(b"damaged")
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)]))
    dev = rd.make(world.tmp, "dev-1", world.repo, world.v1)
    res = rd.poll(dev)
    assert res.action == "refused"
    st = dev.load()
    events = [e for e, _, _, _ in st.events()]
    assert L.CHUNK_FAIL in events  # the install's own record of the failure
    assert st.p_sha != b"\0" * 32  # the download resumes where it stopped


def test_stolen_control_key_cannot_open_later_waves_early_by_dating_a_document_ahead(world):
    # The plan opens 100 % in 30 days. The stolen key signs a control
    # document issued 31 days from now: a device whose clock reads today
    # must not take that date as the time its waves open by.
    from mpota.rollout import cohort

    plan = world.repo.plan(docs.plan(world.v2_sha, "slow",
                                     waves=((100, 0), (10000, docs.NOW + 30 * docs.DAY))))
    outside = next(i for i in ("d{}".format(n) for n in range(1000))
                   if cohort.bucket("slow", i) >= 100)
    ahead = docs.NOW + 31 * docs.DAY
    world.repo.control(docs.control([(plan, RUN, 10000, 60)], issued=ahead,
                                    expires=ahead + docs.DAY))
    dev = rd.make(world.tmp, outside, world.repo, world.v1, now=docs.NOW)
    res = rd.poll(dev)
    assert res.action == "wait"
    assert installed(dev) is None


@pytest.mark.parametrize("reading", [None, 0, 946684800])  # no clock, 1970, 2000
def test_board_without_a_known_clock_opens_waves_by_the_floor_and_control_time(reading):
    from mpota import clock

    floor = clock.AGENT_TIME
    assert clock.wave_now(reading, floor, 0) == floor
    assert clock.wave_now(reading, floor, floor + 99) == floor + 99


def test_known_clock_opens_waves_by_itself_even_below_the_control_time():
    from mpota import clock

    floor = clock.AGENT_TIME
    assert clock.wave_now(floor + 5, floor, floor + 10 ** 9) == floor + 5
    assert clock.wave_now(floor + 5, floor, 0) == floor + 5


def test_revocation_list_published_later_is_read_by_a_long_lived_poller(world):
    # AGENT.md's loop keeps one Poller. Before the first `mpota revoke`
    # there is no list (404); the first list, published later, must still
    # be read by that poller, or it installs a revoked image.
    from mpota.bundle import trust
    from mpota.rollout.poll import Poller

    world.repo.control(docs.control([(world.plan, PAUSE, 10000, 60)], version=1))
    dev = rd.make(world.tmp, "dev-1", world.repo, world.v1)
    poller = Poller(dev)
    assert poller.poll().action == "none"
    m = (world.v2 / "manifest").read_bytes()
    image_sha = trust.verify_manifest(trust.load_root(docs.root()), m).image_sha256
    world.repo.revoked(docs.revoked([image_sha]))
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)], version=2))
    res = poller.poll()
    assert (res.action, res.reason) == ("refused", "revoked")
    assert installed(dev) is None


def test_control_document_published_after_the_first_poll_is_followed(world):
    from mpota.rollout.poll import Poller

    dev = rd.make(world.tmp, "dev-1", world.repo, world.v1)
    poller = Poller(dev)
    assert poller.poll().reason == "missing-control"
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)]))
    assert poller.poll().action == "installed"


def test_halted_plan_the_current_update_keys_no_longer_sign_does_not_stop_polls(world):
    # A plan halted long ago, signed by an update key that a root rotation
    # has since retired, stays in the control document as a halt: the
    # device must go on following the other plans.
    old = world.repo.plan(docs.plan(world.v2_sha, "old", signers=(docs.B,)))
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60), (old, HALT, 0, 60)]))
    dev = rd.make(world.tmp, "dev-1", world.repo, world.v1)
    assert rd.poll(dev).action == "installed"
