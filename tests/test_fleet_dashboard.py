# SPDX-License-Identifier: MIT
"""The dashboard as a person uses it, in Debian's headless Chromium driven
by Playwright (the system browser; no browser download): log in, watch
the monitor halt a rollout whose canaries roll back, press pause on
another. `mpota fleet serve` runs as a real process. Screenshots go to
build/fleet-screens/ for a person to look at."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

import fleetkit as K
from bundles import factory
from mpota.bundle import format as F
from mpota_host.fleet import client as C
from mpota_host.fleet import db as D
from mpota_host.rollout import repo as Repo
from rollouts import docs

ROOT = Path(__file__).resolve().parent.parent
SCREENS = ROOT / "build" / "fleet-screens"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
CANARIES = ["dev-00001", "dev-00002", "dev-00003"]


def _repo(tmp):
    repo = docs.Repo(tmp / "repo")
    repo.root(1, docs.root(issued=docs.NOW - docs.DAY))
    plans = []
    for version, plan_id, canary in ((2, "fw-2", ()), (3, "fw-3", CANARIES)):
        b = factory.bundle(tmp / "b{}".format(version), factory.image(2000, version), [docs.A],
                           version=version, security_counter=version, sequence=version)
        msha = repo.bundle(b)
        shards = [repo.shard(docs.shard(canary))] if canary else []
        plans.append(repo.plan(docs.plan(msha, plan_id, waves=((500, 0), (2500, 0), (10000, 0)),
                                         canary=shards)))
    repo.control(docs.control([(p, F.STATE_RUN, 10000, 600) for p in plans]))
    key, _ = docs.C.write(tmp, "control")
    return repo, [docs.sha(p).hex() for p in plans], key


@pytest.fixture
def service(tmp_path):
    state = tmp_path / "state"
    eng = D.engine_for(D.url_for(None, str(state)))
    D.migrate(eng)
    devs = K.devices(eng, tmp_path, 40)
    eng.dispose()
    repo, shas, key = _repo(tmp_path)
    pw = tmp_path / "pw"
    pw.write_text("operator-password\n")
    mpota = [sys.executable, "-m", "mpota_host.cli", "fleet"]
    subprocess.run(mpota + ["user", "add", "alice", "--password-file", str(pw), "--state",
                            str(state)], check=True, capture_output=True)
    port = K._free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(mpota + ["serve", "--state", str(state), "--listen",
                                     "127.0.0.1:{}".format(port), "--repo", str(repo.path),
                                     "--control-key", str(key), "--monitor-interval", "0.3"],
                            stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:{}".format(port)
    import urllib.request
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2).read()
            break
        except OSError:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
    yield base, devs, repo, shas
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_operator_sees_the_halt_and_pauses_a_rollout(service):
    from playwright.sync_api import sync_playwright

    base, devs, repo, (v2, v3) = service
    SCREENS.mkdir(parents=True, exist_ok=True)
    sender = C.Sender(base)
    for d in devs.values():
        d.log("boot", 1)
        assert sender.send(d) == 200
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(base + "/")
        assert page.url.startswith(base + "/login")
        page.fill("#name", "alice")
        page.fill("#password", "operator-password")
        page.click("#login")
        page.wait_for_selector("#rollouts")
        assert page.inner_text("#devices") == "40"
        page.screenshot(path=str(SCREENS / "1-overview.png"), full_page=True)

        # Two canaries of v3 fail their health check and roll back.
        for i in CANARIES[:2]:
            d = devs[i]
            for e in (("install", 3), ("installed", 3), ("trial", 3)):
                d.log(*e)
            d.log("rolled-back", 3, "health")
            assert sender.send(d) == 200
        page.goto(base + "/rollouts/" + v3)
        for _ in range(200):
            if page.query_selector("#halt"):
                break
            time.sleep(0.2)
            page.reload()
        assert "canary" in page.inner_text("#halt")
        assert page.inner_text("#state") == "halt"
        page.screenshot(path=str(SCREENS / "2-v3-halted.png"), full_page=True)

        # The operator pauses v2 by hand.
        page.goto(base + "/rollouts/" + v2)
        page.click("#pause")
        page.wait_for_selector("#resume")
        assert page.inner_text("#state") == "pause"
        assert "pause: done" in page.inner_text("#message")
        page.screenshot(path=str(SCREENS / "3-v2-paused.png"), full_page=True)

        page.goto(base + "/audit")
        trail = page.inner_text("#audit")
        page.screenshot(path=str(SCREENS / "4-audit.png"), full_page=True)
        browser.close()
    assert "monitor\thalt" in trail and "alice\tpause" in trail
    _, ctl = Repo.read_control(str(repo.path))
    states = {bytes(e.plan_sha).hex(): e.state for e in ctl.entries}
    assert states == {v2: F.STATE_PAUSE, v3: F.STATE_HALT}
