# SPDX-License-Identifier: MIT
"""Staged rollouts on MicroPython's unix port: the bucket math agrees with
CPython's for 100,000 device ids, waves only ever widen, and the
simulated device (`mpota.sim poll`) follows a repository: a halt and a
pause stop it, the control document's heap cost is bounded."""

import hashlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import kit
from mpota.bundle import format as F
from mpota.bundle.rollout import Plan
from mpota.rollout import cohort
from rollouts import docs
from rollouts.docs import NOW

IDS = 100_000

_BUCKETS = """
from mpota.rollout import cohort
import hashlib
h = hashlib.sha256()
counts = [0] * 10
for i in range({n}):
    b = cohort.bucket("fleet-2026", "dev-{{}}".format(i))
    h.update(b.to_bytes(2, "big"))
    counts[b // 1000] += 1
print("RESULT digest", '"' + ''.join('%02x' % x for x in h.digest()) + '"')
print("RESULT counts", counts)
"""


def test_bucket_math_is_identical_on_micropython_for_100000_ids(unix_target):
    h = hashlib.sha256()
    counts = [0] * 10
    for i in range(IDS):
        b = cohort.bucket("fleet-2026", "dev-{}".format(i))
        h.update(b.to_bytes(2, "big"))
        counts[b // 1000] += 1
    got = kit.run(unix_target, _BUCKETS.format(n=IDS), timeout=600)
    assert got["digest"] == h.hexdigest()
    assert got["counts"] == counts
    # And the buckets spread evenly: each tenth holds 10 % within 1 %.
    assert all(abs(c - IDS // 10) < IDS // 100 for c in counts)


def _plan(waves, max_bp):
    p = Plan()
    p.waves = tuple(waves)
    p.max_bp = max_bp
    return p


@st.composite
def plans(draw):
    n = draw(st.integers(1, F.MAX_WAVES))
    shares = sorted(draw(st.lists(st.integers(0, F.BASIS), min_size=n, max_size=n)))
    times = sorted(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)))
    max_bp = draw(st.integers(max(1, shares[-1]), F.BASIS))
    return _plan(zip(shares, times), max_bp)


@settings(max_examples=400, deadline=None)
@given(plans(), st.integers(0, F.BASIS - 1), st.integers(0, F.BASIS),
       st.integers(0, 10**6), st.integers(0, 10**6), st.booleans())
def test_waves_only_widen_a_device_once_in_stays_in(plan, bucket, cap, t1, t2, canary):
    early, late = min(t1, t2), max(t1, t2)
    first = cohort.decide(plan, F.STATE_RUN, cap, bucket, canary, early)
    later = cohort.decide(plan, F.STATE_RUN, cap, bucket, canary, late)
    if first == cohort.INSTALL:
        assert later == cohort.INSTALL
    if first == cohort.NOT_SELECTED:
        assert later == cohort.NOT_SELECTED
    # Raising the cap never takes a device out either.
    if first == cohort.INSTALL and cap < F.BASIS:
        assert cohort.decide(plan, F.STATE_RUN, cap + 1, bucket, canary, early) == cohort.INSTALL


def _repo(tmp_path):
    repo = docs.Repo(tmp_path / "repo")
    v1 = kit.app_bundle(tmp_path, "v1", 1, signers=(docs.A,))
    v2 = kit.app_bundle(tmp_path, "v2", 2, signers=(docs.A,))
    plan = repo.plan(docs.plan(repo.bundle(v2), "p2"))
    root = tmp_path / "root.bin"
    root.write_bytes(docs.root())
    return repo, v1, plan, root


def test_simulated_device_on_micropython_obeys_pause_then_installs_then_remembers_halt(
        unix_target, tmp_path):
    repo, v1, plan, root = _repo(tmp_path)
    dev = tmp_path / "dev"
    out = kit.sim(dev, "provision", "--root", root, "--bundle", v1, "--device-class", "esp32",
                  "--source", repo.path, "--device-id", "board-7", "--backoff-ms", "0")
    assert out.returncode == 0, out.stderr
    repo.control(docs.control([(plan, F.STATE_PAUSE, 10000, 120)], version=1))
    out = kit.sim(dev, "poll")
    assert "poll: none" in out.stdout, out.stdout + out.stderr
    repo.control(docs.control([(plan, F.STATE_RUN, 10000, 120)], version=2))
    out = kit.sim(dev, "poll", "--check")
    assert "poll: update plan p2 (next poll in 120 s)" in out.stdout, out.stdout + out.stderr
    out = kit.sim(dev, "poll")
    assert "installed version 2" in out.stdout and "poll: installed plan p2" in out.stdout
    assert "app version 2" in kit.sim(dev, "reboot").stdout
    # A halt, then a stolen-key "run": the halt holds on MicroPython too.
    plan3 = repo.plan(docs.plan(repo.bundle(kit.app_bundle(tmp_path, "v3", 3,
                                                           signers=(docs.A,))), "p3"))
    repo.control(docs.control([(plan3, F.STATE_HALT, 10000, 120)], version=3))
    assert "poll: none" in kit.sim(dev, "poll").stdout
    repo.control(docs.control([(plan3, F.STATE_RUN, 10000, 120)], version=4))
    assert "poll: none" in kit.sim(dev, "poll").stdout
    status = kit.sim(dev, "status").stdout
    assert "control version 4" in status and "halted plans 1" in status
    repo.control(docs.control([(plan3, F.STATE_RUN, 10000, 120)], version=3))
    out = kit.sim(dev, "poll")
    assert out.returncode == 1 and "sim: poll refused: control-replay" in out.stderr


_HEAP = """
import gc, json, micropython
from mpota import device as D
from mpota.rollout.poll import Poller
dev = D.use(D.load({cfg!r}))
p = Poller(dev)
gc.collect()
before = gc.mem_alloc()
res = p.poll(install=False)
gc.collect()
print("RESULT action", json.dumps(res.action))
print("RESULT held", gc.mem_alloc() - before)
"""


def test_rollout_documents_fit_in_a_few_kilobytes_of_heap(unix_target, tmp_path):
    repo, v1, plan, root = _repo(tmp_path)
    dev = tmp_path / "dev"
    assert kit.sim(dev, "provision", "--root", root, "--bundle", v1, "--device-class", "esp32",
                   "--source", repo.path, "--device-id", "board-7").returncode == 0
    # The largest control document: 16 entries.
    entries = [(plan, F.STATE_RUN, 10000, 60)] + [
        (bytes([i]) * 32, F.STATE_PAUSE, 5000, 60) for i in range(1, F.MAX_CTL_ENTRIES)]
    repo.control(docs.control(entries))
    repo.revoked(docs.revoked([bytes([i]) * 32 for i in range(F.MAX_REVOKED)]))
    got = kit.run(unix_target, _HEAP.format(cfg=str(dev / "mpota.json")))
    assert got["action"] == "update"
    # Held after the poll: the poller's 1610-byte document buffer and what
    # the device object caches; the documents themselves are dropped.
    assert got["held"] < 4096, got
