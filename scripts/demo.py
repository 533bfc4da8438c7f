# SPDX-License-Identifier: MIT
"""`make demo`: the whole story of an mpota update, on this machine.

Makes keys and a trust root, signs three releases of a small app, serves
them over HTTPS with `mpota serve`, and drives a simulated device (the unix
port of MicroPython running the real agent, with a NOR flash model) through:

1. provisioning with v1;
2. an update to v2 over TLS, a trial boot, and the app confirming it;
3. v3, whose health check fails: trial boots until the agent reverts to v2;
4. a replay of v1 (validly signed, lower security counter): refused.

Everything runs under build/demo/, made afresh each time; the server is
stopped on exit, whatever happens.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
WORK = BUILD / "demo"
MPOTA = BUILD / "venv" / "bin" / "mpota"
MICROPYTHON = BUILD / "unix" / "micropython"
DEVICE_CLASS = "demo-board"
# The sim lets an unconfirmed trial boot this many times before it reverts.
MAX_ATTEMPTS = 2


class DemoError(Exception):
    pass


def say(text):
    print("\n== " + text, flush=True)


def _as_typed(arg):
    # Commands are echoed as they would be typed in build/demo, where they
    # run: its own files by relative path, the repository's from ../../.
    a = str(arg)
    if a.startswith(str(WORK) + "/"):
        return a[len(str(WORK)) + 1:]
    if a.startswith(str(ROOT) + "/"):
        return "../../" + a[len(str(ROOT)) + 1:]
    return a


def _as_seen(output):
    # A progress bar redraws its line with CR; show each line as a
    # terminal would leave it.
    return "\n".join(line.rstrip("\r").split("\r")[-1].rstrip() for line in output.rstrip().split("\n"))


def run(argv, expect_ok=True, show=True):
    """Run a command, echo it and its output; return (exit status, output)."""
    shown = " ".join(_as_typed(a) for a in argv)
    print("$ " + shown, flush=True)
    env = dict(os.environ, MICROPYPATH=str(ROOT / "firmware"))
    # Bytes, not text: text mode would turn each CR into a new line.
    proc = subprocess.run([str(a) for a in argv], cwd=WORK, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.decode("utf-8", "replace")
    if show and out:
        print("  " + _as_seen(out).replace("\n", "\n  "), flush=True)
    if expect_ok and proc.returncode != 0:
        raise DemoError("step failed: {}".format(shown))
    return proc.returncode, out


def mpota(*args, **kw):
    return run([MPOTA] + list(args), **kw)


def device(*args, **kw):
    return run([MICROPYTHON, "-m", "mpota.sim", WORK / "device"] + list(args), **kw)


def write_app(version, healthy):
    """A tiny application: prints its version, runs its health check and
    confirms itself only if the check passes."""
    app = WORK / "apps" / "v{}".format(version)
    app.mkdir(parents=True)
    (app / "main.py").write_text(
        "import mpota\n"
        "print('app: hello from version {v}')\n"
        "if {ok}:\n"
        "    print('app: health check passed,', 'confirmed' if mpota.confirm() else 'already confirmed')\n"
        "else:\n"
        "    print('app: health check FAILED (sensor not found), not confirming')\n"
        .format(v=version, ok=healthy))
    # Some weight, so the download shows progress over several chunks.
    (app / "assets.bin").write_bytes(bytes((i * version * 7) & 255 for i in range(48 * 1024)))
    return app


def sign(version, healthy):
    app = write_app(version, healthy)
    mpota("sign", app, "--target", "app", "-k", "keys/release.key",
          "--version", version, "--label", "1.{}.0".format(version),
          "--security-counter", version, "--sequence", version,
          "--device-class", DEVICE_CLASS, "--chunk-size", 4096, "--compress", "deflate",
          "-o", WORK / "repo" / "v{}".format(version))


def start_server():
    proc = subprocess.Popen([str(MPOTA), "serve", str(WORK / "repo"), "--port", "0", "--quiet",
                             "--state", str(WORK / "server")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = ca = None
    for line in proc.stdout:
        print("  " + line.rstrip(), flush=True)
        if line.startswith("serving "):
            url = line.split(" at ", 1)[1].strip()
        if line.startswith("CA to pin on devices: "):
            ca = line.split(": ", 1)[1].split(" ", 1)[0]
        if line.startswith("device status:"):
            break
    if proc.poll() is not None or not url or not ca:
        proc.kill()
        raise DemoError("mpota serve did not start")
    return proc, url, ca


def stop_server(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def story(results):
    print("Each command below runs in build/demo, as typed there "
          "(the device's with MICROPYPATH=../../firmware).", flush=True)
    say("Keys and the trust root (the root is what devices are provisioned with)")
    (WORK / "keys").mkdir()
    mpota("keygen", "keys/root")
    mpota("keygen", "keys/release")
    mpota("root", "init", "-o", "keys/root.bin", "--root-key", "keys/root.pub", "--root-threshold", 1,
          "--update-key", "keys/release.pub", "--update-threshold", 1, "-k", "keys/root.key")

    say("Sign three releases: v1, v2 (healthy), v3 (its health check fails)")
    for version, healthy in ((1, True), (2, True), (3, False)):
        sign(version, healthy)
    mpota("verify", WORK / "repo" / "v2", "--trust", "keys/root.bin", "--device-class", DEVICE_CLASS)

    say("Serve them over HTTPS (a development CA, made on first use)")
    server, url, ca = start_server()
    try:
        say("Provision a simulated device with v1 and the server's CA pinned")
        device("provision", "--root", "keys/root.bin", "--bundle", WORK / "repo" / "v1",
               "--device-class", DEVICE_CLASS, "--source", url + "v2", "--ca", ca,
               "--max-attempts", MAX_ATTEMPTS)
        device("reboot")

        say("Update to v2 over TLS: every chunk checked against the signed table")
        device("check")
        device("install")
        say("Reboot into the trial; the app checks itself and confirms")
        device("reboot")
        code, out = device("status")
        results.append(("update to v2 over TLS, trial boot, confirm",
                        "running v2, confirmed" if "version 2" in out and "trial: none" in out else "UNEXPECTED"))

        say("Publish v3, whose health check fails")
        device("set", "source", url + "v3")
        device("install")
        for _ in range(MAX_ATTEMPTS + 1):
            device("reboot")
        code, out = device("status")
        results.append(("v3 fails its health check",
                        "rolled back to v2" if "version 2" in out and "trial: none" in out else "UNEXPECTED"))

        say("Replay v1: validly signed, but its security counter is below the device's")
        device("set", "source", url + "v1")
        code, out = device("install", expect_ok=False)
        refused = code != 0 and "rollback" in out
        results.append(("replay of v1 (security counter 1 < 2)",
                        "refused: rollback" if refused else "UNEXPECTED"))
    finally:
        say("Stop the server")
        stop_server(server)

    say("The device's audit log")
    device("log")
    device("status")


def main():
    for path, hint in ((MPOTA, "make setup"), (MICROPYTHON, "make unix")):
        if not path.exists():
            print("demo: {} is missing: run {}".format(path, hint), file=sys.stderr)
            return 1
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    results = []
    try:
        story(results)
    except DemoError as e:
        print("demo: {}".format(e), file=sys.stderr)
        return 1
    say("Summary")
    for what, outcome in results:
        print("  {:<46} {}".format(what, outcome))
    if any(outcome == "UNEXPECTED" for _, outcome in results):
        print("demo: something did not go as it should; see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
