# SPDX-License-Identifier: MIT
"""The device side of fleet reports (docs/FLEET.md, "Device reports"):
the agent's HMAC agrees with the standard library on MicroPython and
CPython; the simulated device on MicroPython reports to a real
`mpota fleet serve` process, queues while the service is down and sends
the backlog oldest first; a forged or replayed report is refused; the
secret never shows in the device's status, log or the service's API."""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from agent import kit
from bundles import factory as f
from mpota import fleetreport
from rollouts import docs

VECTORS = [(bytes(range(32)), b""), (b"\xaa" * 32, b"mpota-report-v1\n" * 40),
           (b"k" * 64, b"x"), (b"", b"empty key")]


def test_agent_hmac_agrees_with_the_standard_library_on_cpython():
    for key, msg in VECTORS:
        want = hmac.new(key, msg, hashlib.sha256).digest()
        assert fleetreport.hmac_sha256(key, (msg[:5], msg[5:])) == want


def test_agent_hmac_agrees_with_the_standard_library_on_micropython(unix_target):
    code = "from mpota import fleetreport as r\nimport binascii\n"
    for i, (key, msg) in enumerate(VECTORS):
        code += "print('RESULT h{} \"' + binascii.hexlify(r.hmac_sha256({!r}, ({!r},))).decode() + '\"')\n".format(
            i, key, msg)
    got = kit.run(unix_target, code)
    for i, (key, msg) in enumerate(VECTORS):
        assert got["h{}".format(i)] == hmac.new(key, msg, hashlib.sha256).hexdigest()


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fleet:
    """`mpota fleet serve` on a loopback port, SQLite in a temp state dir."""

    def __init__(self, tmp):
        self.state = tmp / "fleet-state"
        self.port = _port()
        self.url = "http://127.0.0.1:{}".format(self.port)
        self.proc = None

    def cli(self, *args, stdin=None):
        out = subprocess.run([str(f.MPOTA), "fleet"] + [str(a) for a in args] +
                             ["--state", str(self.state)], input=stdin, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def start(self):
        self.proc = subprocess.Popen(
            [str(f.MPOTA), "fleet", "serve", "--state", str(self.state), "--listen",
             "127.0.0.1:{}".format(self.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        for _ in range(600):  # a bounded number of tries, not a time limit
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=5).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stdout.read())
                time.sleep(0.1)
        raise RuntimeError("mpota fleet serve did not answer")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            out, _ = self.proc.communicate(timeout=60)
            self.proc = None
            return out
        return ""

    def api(self, path, token):
        req = urllib.request.Request(self.url + path,
                                     headers={"Authorization": "Bearer " + token})
        return json.loads(urllib.request.urlopen(req, timeout=30).read())


@pytest.fixture
def fleet(tmp_path):
    fl = Fleet(tmp_path)
    fl.cli("migrate")
    fl.cli("user", "add", "admin", stdin="correct horse battery\n")
    fl.token = fl.cli("token", "admin").strip().split()[-1]
    (tmp_path / "ids.txt").write_text("board-1\nboard-2\n")
    fl.cli("enroll", tmp_path / "ids.txt", "-o", tmp_path / "secrets", "--class", "esp32")
    yield fl
    fl.stop()


def _device(tmp, fleet, name, secret_file):
    root = tmp / "root.bin"
    root.write_bytes(docs.root())
    v1 = kit.app_bundle(tmp, name + "-v1", 1, signers=(docs.A,))
    dev = tmp / name
    out = kit.sim(dev, "provision", "--root", root, "--bundle", v1, "--device-class", "esp32",
                  "--device-id", name, "--fleet", fleet.url, "--allow-http",
                  "--identity", secret_file)
    assert out.returncode == 0, out.stderr
    return dev


def test_device_reports_queue_offline_and_arrive_oldest_first(tmp_path, fleet, unix_target):
    secret = (tmp_path / "secrets" / "board-1.key").read_bytes()
    dev = _device(tmp_path, fleet, "board-1", tmp_path / "secrets" / "board-1.key")
    v2 = kit.app_bundle(tmp_path, "v2", 2, signers=(docs.A,))
    # The service is down: the install goes on, the report waits in flash.
    assert kit.sim(dev, "install", "--source", v2).returncode == 0
    out = kit.sim(dev, "report")
    assert out.returncode == 1 and "did not take the report" in out.stderr
    fleet.start()
    assert "app version 2" in kit.sim(dev, "reboot").stdout  # reports after the boot
    out = kit.sim(dev, "report")
    assert out.returncode == 0, out.stderr
    info = fleet.api("/api/v1/devices/board-1", fleet.token)
    text = json.dumps(info)
    events = sorted(info["events"], key=lambda e: e["n"])
    assert [(e["kind"], e["version"]) for e in events] == [
        ("install", 1), ("installed", 1), ("provisioned", 1), ("install", 2),
        ("installed", 2), ("trial", 2), ("confirmed", 2)], text
    assert (info["version"], info["trial"]) == (2, None)
    # The backlog went in one report, oldest first, numbered as logged.
    sent = [json.loads(r["body"]) for r in info["reports"]]
    backlog = max(sent, key=lambda b: len(b["events"]))["events"]
    assert [e["n"] for e in backlog] == sorted(e["n"] for e in backlog)
    # The secret is nowhere: not in the service's answer, the device's
    # status or log, nor its configuration.
    for shown in (text, kit.sim(dev, "status").stdout, kit.sim(dev, "log").stdout,
                  (dev / "mpota.json").read_text()):
        assert secret.hex() not in shown
    assert secret not in (dev / "mpota.json").read_bytes()


def test_report_signed_with_another_devices_secret_is_refused(tmp_path, fleet, unix_target):
    # board-2's secret on a device claiming to be board-1.
    dev = _device(tmp_path, fleet, "board-1", tmp_path / "secrets" / "board-2.key")
    fleet.start()
    out = kit.sim(dev, "report")
    assert out.returncode == 1
    assert fleet.api("/api/v1/devices/board-1", fleet.token).get("events", []) == []


def test_replayed_report_is_refused(tmp_path, fleet):
    from mpota_host.fleet import protocol as P

    fleet.start()
    secret = (tmp_path / "secrets" / "board-2.key").read_bytes()
    body = json.dumps({"v": 1, "run": {"version": 1, "sha": "00" * 8, "trial": 0, "reset": ""},
                       "dropped": 0, "events": []}).encode()
    tag = fleetreport.hmac_sha256(secret, (b"mpota-report-v1\n", b"board-2", b"\n", b"5",
                                           b"\n", body))

    def send():
        req = urllib.request.Request(fleet.url + P.PATH, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Mpota-Device": "board-2",
            "X-Mpota-Seq": "5", "X-Mpota-Tag": tag.hex()})
        try:
            return urllib.request.urlopen(req, timeout=30).status
        except urllib.error.HTTPError as e:
            return e.code

    assert send() == 200
    assert send() == 409
