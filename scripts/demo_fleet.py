# SPDX-License-Identifier: MIT
"""`make demo-fleet`: a staged rollout watched by `mpota fleet serve`.

50 simulated devices (the real agent: `build/unix/micropython -m
mpota.sim`, one process per step) poll a repository that stock nginx
serves over TLS, and report to the fleet service with their own secrets.

1. v2 rolls out: canaries first, then 25 %, then 100 % of the fleet, each
   wave opening a minute after the one before; every device confirms it.
2. v3's health check fails: the canaries roll back, the service halts the
   rollout by itself (it signs a control document with the control key),
   and no device outside the canaries ever installs v3.

Prints a summary per wave from the service's API and saves a screenshot
of the dashboard in build/demo-fleet/. Everything runs in
build/demo-fleet/work, made afresh; servers are stopped on exit.
"""

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
OUT = BUILD / "demo-fleet"
WORK = OUT / "work"
MPOTA = BUILD / "venv" / "bin" / "mpota"
MICROPYTHON = BUILD / "unix" / "micropython"
CLASS = "demo-board"
FLEET = 50
CANARIES = ["dev-03", "dev-17", "dev-41"]
WAVE_GAP = 60  # seconds between waves
PARALLEL = 4  # devices stepped at once

sys.path.insert(0, str(ROOT / "tests"))


class DemoError(Exception):
    pass


def say(text):
    print("\n== " + text, flush=True)


def mpota(*args, show=True, stdin=None):
    argv = [str(MPOTA)] + [str(a) for a in args]
    if show:
        print("$ mpota " + " ".join(str(a).replace(str(WORK) + "/", "") for a in args), flush=True)
    got = subprocess.run(argv, capture_output=True, text=True, cwd=WORK, input=stdin)
    if got.returncode:
        raise DemoError("mpota {} failed: {}".format(args[0], got.stderr.strip()))
    return got.stdout


def sim(device, *args):
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(ROOT / "firmware"), ".frozen"]))
    got = subprocess.run([str(MICROPYTHON), "-m", "mpota.sim", str(WORK / "devices" / device)]
                         + [str(a) for a in args], capture_output=True, text=True, env=env,
                         timeout=300)
    return got.returncode, got.stdout + got.stderr


def each(devices, *args):
    """Run one sim command on many devices; {device: (status, output)}.
    An argument that is a function is called with the device's id."""
    def one(d):
        return sim(d, *[a(d) if callable(a) else a for a in args])
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        return dict(zip(devices, pool.map(one, devices)))


def app(name, version, healthy):
    d = WORK / name
    d.mkdir()
    (d / "main.py").write_text(
        "import mpota\n"
        "print('app version {}')\n"
        "if {}:\n"
        "    print('health check passed', mpota.confirm())\n"
        "else:\n"
        "    print('health check failed')\n".format(version, healthy))
    return d


class Service:
    def __init__(self, repo):
        from fleetkit import _free_port

        self.port = _free_port()
        self.url = "http://127.0.0.1:{}".format(self.port)
        self.log = open(WORK / "fleet-serve.log", "w")
        args = ["fleet", "serve", "--state", "fleet-state", "--listen",
                "127.0.0.1:{}".format(self.port), "--repo", repo, "--control-key",
                "control.key", "--monitor-interval", "1"]
        print("$ mpota " + " ".join(args) + " &", flush=True)
        self.proc = subprocess.Popen([str(MPOTA)] + args, cwd=WORK, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise DemoError("mpota fleet serve stopped: see " + self.log.name)
                time.sleep(0.1)
        raise DemoError("mpota fleet serve did not answer")

    def api(self, path):
        req = urllib.request.Request(self.url + path,
                                     headers={"Authorization": "Bearer " + self.token})
        return json.loads(urllib.request.urlopen(req, timeout=30).read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def poll_all(ids):
    got = each(ids, "poll")
    installed = sorted(d for d, (_, out) in got.items() if "installed" in out)
    refused = {d: out.strip().splitlines()[-1] for d, (rc, out) in got.items() if rc}
    return installed, refused


def boot(ids):
    """Reboot each device (trial boot runs the app's health check)."""
    return each(ids, "reboot")


def wait_until(t, what):
    left = t - time.time()
    if left > 0:
        print("   (waiting {:.0f} s for {} to open)".format(left, what), flush=True)
        time.sleep(left + 1)


def running(ids):
    out = {}
    for d, (_, text) in each(ids, "status").items():
        line = [x for x in text.splitlines() if x.startswith("active:")][0]
        out[d] = int(line.split("version ")[1].split()[0])
    return out


def release(repo, version, plan_id, t0):
    mpota("rollout", "create", "bundle-v{}".format(version), "--id", plan_id,
          "--canary-file", "canaries.txt", "--wave", "0@{}".format(_iso(t0)),
          "--wave", "25@{}".format(_iso(t0 + WAVE_GAP)),
          "--wave", "100@{}".format(_iso(t0 + 2 * WAVE_GAP)), "--max-percent", "100",
          "-k", "release.key", "-o", "plan-{}".format(plan_id))
    mpota("publish", repo, "--root", "root.bin", "--bundle", "bundle-v{}".format(version),
          "--plan", "plan-{}".format(plan_id))
    mpota("control", "run", plan_id, "--repo", repo, "--poll", "600", "-k", "control.key")


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def table(service, plan_id):
    (r,) = [x for x in service.api("/api/v1/rollouts") if x["id"] == plan_id]
    f = service.api("/api/v1/rollouts/" + r["plan"] + "?live=1")
    print("   {:<8} {:>8} {:>9} {:>9} {:>11} {:>7}".format("wave", "selected", "installed",
                                                          "confirmed", "rolled back", "silent"))
    for w in f["waves"]:
        print("   {:<8} {:>8} {:>9} {:>9} {:>11} {:>7}".format(
            w["name"], w["selected"], w["downloaded"], w["confirmed"], w["rolled_back"],
            w["silent"]))
    return r, f


def screenshot(service, plan_sha, password):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = b.new_page(viewport={"width": 1200, "height": 900})
        page.goto(service.url + "/login")
        page.fill("#name", "operator")
        page.fill("#password", password)
        page.click("#login")
        page.wait_for_selector("#rollouts")
        page.screenshot(path=str(OUT / "overview.png"), full_page=True)
        page.goto(service.url + "/rollouts/" + plan_sha)
        page.screenshot(path=str(OUT / "v3-halted.png"), full_page=True)
        page.goto(service.url + "/audit")
        page.screenshot(path=str(OUT / "audit.png"), full_page=True)
        b.close()


def main():
    from net.nginx import Nginx

    if not MICROPYTHON.exists():
        raise DemoError("build/unix/micropython is missing: run `make unix`")
    shutil.rmtree(OUT, ignore_errors=True)
    WORK.mkdir(parents=True)
    ids = ["dev-{:02d}".format(i) for i in range(FLEET)]

    say("Keys, a trust root with a control key, and three releases of an app")
    for name in ("root", "release", "control"):
        mpota("keygen", name)
    mpota("root", "init", "-o", "root.bin", "--root-key", "root.pub", "--root-threshold", "1",
          "--update-key", "release.pub", "--update-threshold", "1", "--control-key",
          "control.pub", "--control-threshold", "1", "-k", "root.key")
    for version, healthy in ((1, True), (2, True), (3, False)):
        src = app("app-v{}".format(version), version, healthy)
        mpota("sign", src, "--target", "app", "-k", "release.key", "--version", version,
              "--security-counter", version, "--device-class", CLASS, "-o",
              "bundle-v{}".format(version))
    (WORK / "canaries.txt").write_text("".join(c + "\n" for c in CANARIES))
    (WORK / "ids.txt").write_text("".join(i + "\n" for i in ids))
    repo = WORK / "repo"
    repo.mkdir()
    mpota("publish", repo, "--root", "root.bin", "--bundle", "bundle-v1")

    say("The fleet service: an operator, 50 devices enrolled with their own secrets")
    password = "demo-operator-password"
    mpota("fleet", "user", "add", "operator", "--state", "fleet-state", stdin=password + "\n")
    mpota("fleet", "enroll", "ids.txt", "-o", "secrets", "--class", CLASS, "--state",
          "fleet-state")
    token = mpota("fleet", "token", "operator", "--state", "fleet-state", show=False).strip()
    web = Nginx(repo, WORK / "nginx").start()
    service = Service(str(repo))
    service.token = token
    try:
        print("   nginx serves the repository at {}; the service listens at {}".format(
            web.url, service.url))
        say("Provisioning 50 simulated devices with v1 (the agent on MicroPython's unix port)")
        ca = WORK / "nginx-ca.pem"
        ca.write_bytes(web.ca_pem if isinstance(web.ca_pem, bytes) else Path(web.ca_pem).read_bytes())
        for d in ids:
            (WORK / "devices" / d).mkdir(parents=True)
        got = each(ids, "provision", "--root", WORK / "root.bin", "--bundle", WORK / "bundle-v1",
                   "--device-class", CLASS, "--bank", "dir", "--device-id", lambda d: d,
                   "--source", web.url.rstrip("/"), "--ca", ca, "--allow-http",
                   "--fleet", service.url, "--identity", lambda d: WORK / "secrets" / (d + ".key"),
                   "--max-attempts", "1", "--backoff-ms", "0")
        bad = [d for d, (rc, _) in got.items() if rc]
        if bad:
            raise DemoError("provisioning failed on {}: {}".format(bad[0], got[bad[0]][1]))
        print("   {} devices provisioned, each reporting with its own secret".format(len(ids)))

        say("v2: canaries, then 25 %, then 100 %, a wave a minute")
        t0 = int(time.time())
        release(repo, 2, "fw-2", t0)
        for name, at in (("canaries", t0), ("25 %", t0 + WAVE_GAP), ("100 %", t0 + 2 * WAVE_GAP)):
            wait_until(at, "the {} wave".format(name))
            installed, refused = poll_all(ids)
            if refused:
                raise DemoError("poll refused: {}".format(refused))
            boot(installed)
            print("   {}: {} devices installed v2 and booted it: {}".format(
                name, len(installed), " ".join(installed)))
        each(ids, "report")
        _, f = table(service, "fw-2")
        if sum(w["confirmed"] for w in f["waves"]) != FLEET:
            raise DemoError("v2 did not complete: {}".format(f["waves"]))
        print("   v2 is confirmed on all {} devices".format(FLEET))

        say("v3: its health check fails on the canaries")
        t0 = int(time.time())
        release(repo, 3, "fw-3", t0)
        installed, _ = poll_all(ids)
        print("   canaries installed v3: {}".format(" ".join(installed)))
        boot(installed)   # trial boot: the health check fails, no confirm
        boot(installed)   # the next boot reverts to v2 (and reports the rollback)
        r = None
        for _ in range(120):
            (r,) = [x for x in service.api("/api/v1/rollouts") if x["id"] == "fw-3"]
            if r["state"] == "halt":
                break
            time.sleep(0.5)
        if r["state"] != "halt":
            raise DemoError("the service did not halt v3")
        print("   the service halted fw-3 by itself: {}".format(r["halt_reason"]))
        wait_until(t0 + 2 * WAVE_GAP, "v3's last wave")
        installed, _ = poll_all(ids)
        if installed:
            raise DemoError("devices installed v3 after the halt: {}".format(installed))
        each(ids, "report")
        versions = running(ids)
        outside = [d for d in ids if d not in CANARIES and versions[d] != 2]
        if outside:
            raise DemoError("devices outside the canaries left v2: {}".format(outside))
        print("   every wave of v3 is open now, and no device installs it: all {} run v2".format(
            FLEET))

        say("Summary (from the service's API)")
        print(" fw-2 (v2):")
        table(service, "fw-2")
        print(" fw-3 (v3):")
        r, _ = table(service, "fw-3")
        halts = [a for a in service.api("/api/v1/audit") if a["action"] == "halt"]
        print(" halted: {} by {} at {}: {}".format(r["id"], halts[0]["actor"],
                                                   _iso(halts[0]["at"]), halts[0]["detail"]))
        screenshot(service, r["plan"], password)
        print(" dashboard screenshots: build/demo-fleet/overview.png, v3-halted.png, audit.png")
    finally:
        service.stop()
        web.stop()


if __name__ == "__main__":
    try:
        main()
    except DemoError as e:
        print("demo-fleet: {}".format(e), file=sys.stderr)
        sys.exit(1)
