# SPDX-License-Identifier: MIT
"""Staged rollouts against an attacker (docs/ROLLOUT.md, "Threats and what
stops each"): a device provisioned with v1 polls a repository that an
attacker holding the online control key, or the static host, has altered.
The device code is the agent's, run on CPython with the dir bank."""

import pytest

from mpota.bundle import format as F
from rollouts import device as rd
from rollouts import docs
from rollouts.docs import A, C, C2, NOW, X, DAY

RUN, PAUSE, HALT = F.STATE_RUN, F.STATE_PAUSE, F.STATE_HALT


@pytest.fixture
def world(tmp_path):
    """A repository with v1 (provisioned) and v2 (released by plan p2)."""
    w = type("World", (), {})()
    w.tmp = tmp_path
    w.repo = docs.Repo(tmp_path / "repo")
    w.v1 = rd.app_bundle(tmp_path, "v1", 1)
    w.v2 = rd.app_bundle(tmp_path, "v2", 2)
    w.v2_sha = w.repo.bundle(w.v2)
    w.plan = w.repo.plan(docs.plan(w.v2_sha, "p2"))
    return w


def device(w, name="dev-1", **cfg):
    return rd.make(w.tmp, name, w.repo, w.v1, **cfg)


def installed(dev):
    st = dev.load()
    return st.trial_version if st.trial != 0xFF else None


def test_rollout_at_100_percent_installs_the_planned_bundle(world):
    world.repo.control(docs.control([(world.plan, RUN, 10000, 300)]))
    dev = device(world)
    res = rd.poll(dev)
    assert (res.action, res.plan, res.next_poll) == ("installed", "p2", 300)
    assert installed(dev) == 2


def test_stolen_control_key_cannot_release_an_image_no_plan_names(world):
    # The attacker's own build, signed with a key the root does not list,
    # under a plan it signed with the control key.
    evil = rd.app_bundle(world.tmp, "evil", 9)
    from bundles import factory as f

    f.resign(evil, [C])
    evil_sha = world.repo.bundle(evil)
    evil_plan = world.repo.plan(docs.plan(evil_sha, "evil", signers=(C,)))
    world.repo.control(docs.control([(evil_plan, RUN, 10000, 60)]))
    dev = device(world)
    res = rd.poll(dev)
    assert (res.action, res.reason) == ("refused", "unknown-key")
    assert installed(dev) is None


def test_stolen_control_key_cannot_point_a_plan_at_another_signed_manifest(world):
    # v3 is a real, offline-signed release, but no plan releases it: the
    # host puts its manifest where the plan's bundle should be.
    v3 = rd.app_bundle(world.tmp, "v3", 3)
    target = world.repo.path / "bundles" / world.v2_sha.hex()
    (target / "manifest").write_bytes((v3 / "manifest").read_bytes())
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)]))
    dev = device(world)
    res = rd.poll(dev)
    assert (res.action, res.reason) == ("refused", "hash-mismatch")
    assert installed(dev) is None


def test_stolen_control_key_cannot_widen_a_rollout_past_the_plan(world):
    plan = world.repo.plan(docs.plan(world.v2_sha, "narrow", max_bp=1000,
                                     waves=((1000, 0),)))
    # A cap of 100 % changes nothing: the device takes min(wave, ceiling, cap).
    world.repo.control(docs.control([(plan, RUN, 10000, 60)]))
    from mpota.rollout import cohort

    outside = next(i for i in ("d{}".format(n) for n in range(1000))
                   if cohort.bucket("narrow", i) >= 1000)
    dev = device(world, outside)
    res = rd.poll(dev)
    assert res.action == "none"
    assert installed(dev) is None


def test_stolen_control_key_cannot_lift_a_halt_the_device_has_seen(world):
    world.repo.control(docs.control([(world.plan, HALT, 10000, 60)], version=1))
    dev = device(world)
    assert rd.poll(dev).action == "none"
    # A newer control document signed with the (stolen) control key says run.
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)], version=2))
    res = rd.poll(dev)
    assert res.action == "none"
    assert installed(dev) is None
    assert dev.load().halted_used == 1


def test_stolen_control_key_cannot_roll_the_control_version_back(world):
    world.repo.control(docs.control([(world.plan, PAUSE, 10000, 60)], version=5))
    dev = device(world)
    assert rd.poll(dev).action == "none"
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)], version=4))
    res = rd.poll(dev)
    assert (res.action, res.reason) == ("refused", "control-replay")
    assert installed(dev) is None


def test_replayed_old_control_document_is_refused(world):
    old = docs.control([(world.plan, RUN, 10000, 60)], version=1)
    world.repo.control(docs.control([(world.plan, PAUSE, 10000, 60)], version=2))
    dev = device(world)
    assert rd.poll(dev).action == "none"
    world.repo.control(old)
    assert rd.poll(dev).reason == "control-replay"
    assert installed(dev) is None


def test_expired_control_document_is_refused(world):
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)],
                                    issued=NOW - 3 * DAY, expires=NOW - DAY))
    dev = device(world)
    res = rd.poll(dev)
    assert (res.action, res.reason) == ("refused", "control-expired")
    assert installed(dev) is None


def test_control_document_signed_by_an_update_key_is_refused(world):
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)], signers=(A,)))
    dev = device(world)
    assert rd.poll(dev).reason == "unknown-key"


def test_plan_signed_by_the_control_key_alone_is_refused(world):
    plan = world.repo.plan(docs.plan(world.v2_sha, "ctl-made", signers=(C,)))
    world.repo.control(docs.control([(plan, RUN, 10000, 60)]))
    dev = device(world)
    assert rd.poll(dev).reason == "unknown-key"
    assert installed(dev) is None


def test_plan_for_another_device_class_is_not_installed(world):
    plan = world.repo.plan(docs.plan(world.v2_sha, "rp2-only", device_class="rp2040"))
    world.repo.control(docs.control([(plan, RUN, 10000, 60)]))
    dev = device(world)
    assert rd.poll(dev).action == "none"
    assert installed(dev) is None


def test_plan_for_another_hardware_revision_is_not_installed(world):
    plan = world.repo.plan(docs.plan(world.v2_sha, "revb", hw_revs=("rev-b",)))
    world.repo.control(docs.control([(plan, RUN, 10000, 60)]))
    dev = device(world, hw_rev="rev-a")
    assert rd.poll(dev).action == "none"


def test_forged_canary_list_adding_a_device_is_refused(world):
    honest = docs.shard(["canary-1", "canary-2"])
    h = world.repo.shard(honest)
    plan = world.repo.plan(docs.plan(world.v2_sha, "canaries", canary=(h,),
                                     waves=((0, 0), (10000, NOW + 30 * DAY))))
    world.repo.control(docs.control([(plan, RUN, 10000, 60)]))
    # The host rewrites the shard under the same name to add dev-evil.
    (world.repo.path / "canary" / h.hex()).write_bytes(docs.shard(["canary-1", "dev-evil"]))
    dev = device(world, "dev-evil")
    res = rd.poll(dev)
    assert (res.action, res.reason) == ("refused", "hash-mismatch")
    assert installed(dev) is None


def test_canary_on_the_list_installs_before_its_wave(world):
    h = world.repo.shard(docs.shard(["canary-1", "canary-2"]))
    plan = world.repo.plan(docs.plan(world.v2_sha, "canaries", canary=(h,),
                                     waves=((0, 0), (10000, NOW + 30 * DAY))))
    world.repo.control(docs.control([(plan, RUN, 10000, 60)]))
    canary = device(world, "canary-2")
    other = device(world, "not-a-canary")
    assert rd.poll(canary).action == "installed"
    assert rd.poll(other).action == "wait"


def test_cap_of_zero_stops_even_the_canaries(world):
    h = world.repo.shard(docs.shard(["canary-1"]))
    plan = world.repo.plan(docs.plan(world.v2_sha, "canaries", canary=(h,)))
    world.repo.control(docs.control([(plan, RUN, 0, 60)]))
    assert rd.poll(device(world, "canary-1")).action in ("wait", "none")


def test_revoked_image_offered_again_is_refused(world):
    from mpota.bundle import trust
    from mpota.bundle.rollout import plan as _

    m = (world.v2 / "manifest").read_bytes()
    image_sha = trust.verify_manifest(trust.load_root(docs.root()), m).image_sha256
    world.repo.revoked(docs.revoked([image_sha]))
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)]))
    dev = device(world)
    res = rd.poll(dev)
    assert (res.action, res.reason) == ("refused", "revoked")
    assert installed(dev) is None


def test_device_on_trial_of_a_revoked_image_reverts_at_next_boot(world):
    from mpota import trial
    from mpota.bundle import trust

    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)]))
    dev = device(world)
    assert rd.poll(dev).action == "installed"
    assert trial.boot(dev).trial  # v2 runs on trial, not yet confirmed
    m = (world.v2 / "manifest").read_bytes()
    image_sha = trust.verify_manifest(trust.load_root(docs.root()), m).image_sha256
    world.repo.revoked(docs.revoked([image_sha]))
    rd.poll(dev)
    assert dev.load().trial == 0xFF
    res = trial.boot(rd.reload(dev))
    assert (res.version, res.trial) == (1, False)
    assert not trial.confirm(dev)
    events = [(e, r) for e, r, _, _ in dev.load().events()]
    from mpota.state import log as L

    assert (L.REVERT, L.reason_code("revoked")) in events


def test_hidden_revocation_list_is_refused_once_one_was_seen(world):
    world.repo.revoked(docs.revoked([b"\x01" * 32]))
    world.repo.control(docs.control([(world.plan, PAUSE, 10000, 60)]))
    dev = device(world)
    assert rd.poll(dev).action == "none"
    (world.repo.path / "revoked").unlink()
    assert rd.poll(dev).reason == "missing-revocations"


def test_rolled_back_revocation_list_is_refused(world):
    world.repo.revoked(docs.revoked([b"\x01" * 32, b"\x02" * 32], version=2))
    world.repo.control(docs.control([(world.plan, PAUSE, 10000, 60)]))
    dev = device(world)
    rd.poll(dev)
    world.repo.revoked(docs.revoked([b"\x01" * 32], version=1))
    assert rd.poll(dev).reason == "revocation-replay"


def test_root_without_a_control_role_follows_no_rollout(world):
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)]))
    dev = rd.make(world.tmp, "no-ctl", world.repo, world.v1,
                  root_doc=docs.root(control=()))
    assert rd.poll(dev).reason == "no-control-role"


def test_rotation_to_a_new_control_key_kills_the_old_one(world):
    world.repo.control(docs.control([(world.plan, PAUSE, 10000, 60)], version=7))
    dev = device(world)
    rd.poll(dev)
    world.repo.root(2, docs.root(version=2, control=(C2,)))
    # The new key starts at version 1; the old key's documents are refused.
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)], version=8))
    assert rd.poll(dev).reason == "unknown-key"
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)], version=1,
                                    signers=(C2,)))
    assert rd.poll(dev).action == "installed"


@pytest.mark.parametrize("clock", [0, 946684800])  # 1970, 2000
def test_device_whose_clock_reads_1970_or_2000_refuses_expired_control(world, clock):
    # Without the floor a clock in 1970 would find this document fresh.
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)],
                                    issued=NOW - 40 * DAY, expires=NOW - 30 * DAY))
    dev = device(world, now=clock)
    assert rd.poll(dev).reason == "control-expired"
    assert installed(dev) is None


@pytest.mark.parametrize("clock", [0, 946684800])
def test_device_whose_clock_reads_1970_or_2000_does_not_open_future_waves(world, clock):
    plan = world.repo.plan(docs.plan(world.v2_sha, "later",
                                     waves=((10000, NOW + 10 * DAY),)))
    world.repo.control(docs.control([(plan, RUN, 10000, 60)]))
    dev = device(world, now=clock)
    assert rd.poll(dev).action == "wait"


def test_device_without_a_clock_opens_a_wave_by_the_control_issue_time(world):
    plan = world.repo.plan(docs.plan(world.v2_sha, "later", waves=((10000, NOW + DAY),)))
    world.repo.control(docs.control([(plan, RUN, 10000, 60)], version=1))
    dev = device(world, clock=False)
    assert rd.poll(dev).action == "wait"
    # A day later the control document is re-signed: its issue time opens it.
    world.repo.control(docs.control([(plan, RUN, 10000, 60)], version=2,
                                    issued=NOW + DAY + 60))
    assert rd.poll(dev).action == "installed"


def test_control_issue_time_far_ahead_freezes_rollouts_but_not_manifest_expiry(world):
    far = NOW + 3650 * DAY
    world.repo.control(docs.control([(world.plan, PAUSE, 10000, 60)], version=1,
                                    issued=far, expires=far + DAY))
    dev = device(world, now=NOW)
    rd.poll(dev)
    st = dev.load()
    assert st.control_time == far and st.time_floor < NOW + DAY
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)], version=2))
    assert rd.poll(dev).reason == "control-expired"


def test_clock_far_in_the_future_refuses_rather_than_installs(world):
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)]))
    dev = device(world, now=NOW + 3650 * DAY)
    assert rd.poll(dev).reason == "control-expired"
    assert installed(dev) is None


def test_paused_rollout_installs_nothing_and_resumes(world):
    world.repo.control(docs.control([(world.plan, PAUSE, 10000, 60)], version=1))
    dev = device(world)
    assert rd.poll(dev).action == "none"
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)], version=2))
    assert rd.poll(dev).action == "installed"


def test_missing_plan_is_not_asked_for_again_by_the_same_poller(world):
    from mpota.rollout.poll import Poller

    world.repo.control(docs.control([(b"\x07" * 32, RUN, 10000, 60)]))
    dev = device(world)
    poller = Poller(dev)
    asked = []
    real = poller.src.open

    def counting(name, offset=0):
        asked.append(name)
        return real(name, offset)

    poller.src.open = counting
    poller.poll()
    poller.poll()
    assert asked.count("plans/" + "07" * 32) == 1


def test_poll_hint_is_clamped_to_the_device_bounds(world):
    world.repo.control(docs.control([(world.plan, PAUSE, 10000, 1)]))
    world.repo.control(docs.control([(world.plan, RUN, 10000, 5)]))
    dev = device(world, poll_min=30, poll_max=600)
    assert rd.poll(dev).next_poll == 30


def test_stranger_key_cannot_sign_a_revocation_list(world):
    world.repo.revoked(docs.revoked([b"\x01" * 32], signers=(X,)))
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)]))
    dev = device(world)
    assert rd.poll(dev).reason == "unknown-key"
    assert installed(dev) is None


def test_refused_control_document_waits_the_devices_own_longest_poll(world):
    # Not the agent's built-in day: the device's configured poll_max.
    world.repo.control(docs.control([(world.plan, RUN, 10000, 60)], signers=(X,)))
    dev = device(world, poll_min=30, poll_max=900)
    res = rd.poll(dev)
    assert (res.action, res.reason, res.next_poll) == ("refused", "unknown-key", 900)
