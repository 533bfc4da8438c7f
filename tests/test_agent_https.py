# SPDX-License-Identifier: MIT
"""The agent over HTTPS against a real `mpota serve`, as the simulated
device does it from the shell: a delta update with trial boot and confirm
and the status reports the server logs; a connection dropped mid-chunk
resumed without fetching anything twice; and an impostor server (a
certificate from another CA) that leaves the device untouched."""

import json
import re

import pytest

from agent import kit
from net.serveproc import Serve



@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    d = tmp_path_factory.mktemp("https-agent")
    kit.root(d)
    kit.app_bundle(d, "v1", 1, device_class="sim")
    kit.app_bundle(d, "v2", 2, device_class="sim")
    kit.bundle(d, "new", kit.image(40 * kit.CHUNK, seed=22), target="app",
               device_class="sim", version=3, security_counter=3, sequence=3)
    return d


def _provision(dev, tree, server, source):
    return kit.sim(dev, "provision", "--root", tree / "root", "--bundle", tree / "v1",
                   "--device-class", "sim", "--source", server.url + source,
                   "--ca", server.ca_der, "--backoff-ms", 0)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _status_lines(tree):
    path = tree / ".mpota-serve" / "status.log"
    return [json.loads(line)["status"] for line in path.read_text().splitlines()]


def test_delta_update_over_https_with_trial_confirm_and_status_reports(tmp_path, tree):
    with Serve(tree, quiet=False) as server:
        dev = tmp_path / "dev"
        _ok(_provision(dev, tree, server, "v2/"))
        out = _ok(kit.sim(dev, "install"))
        m = re.search(r"installed version 2: (\d+) chunks: (\d+) fetched .*, (\d+) copied", out)
        chunks, fetched, copied = (int(g) for g in m.groups())
        # Only the chunk holding main.py differs from v1: one run of one
        # chunk, asked for with a Range over the stream file.
        assert fetched == 1 and copied == chunks - 1
        gets = [line for line in server.err if '"GET /v2/chunks/' in line or '"GET /v2/stream/' in line]
        assert len(gets) == fetched and '"GET /v2/stream/' in gets[0] and '" 206 ' in gets[0]
        _ok(kit.sim(dev, "reboot"))
        assert "active: slot 1 version 2" in _ok(kit.sim(dev, "status"))
    reports = _status_lines(tree)
    assert [r["event"] for r in reports][-2:] == ["installed", "trial-boot"]
    assert reports[-2]["trial"] == 2 and reports[-1]["version"] == 2
    assert reports[-1]["min_security_counter"] == 2


def test_connection_dropped_mid_run_over_https_resumes_without_refetching(tmp_path, tree):
    with Serve(tree, "--fault", "drop:3000", "--fault-on", "/stream/",
               "--fault-times", "3", quiet=False) as server:
        dev = tmp_path / "dev"
        _ok(_provision(dev, tree, server, "new/"))
        out = _ok(kit.sim(dev, "install"))
        gets = [line for line in server.err if '"GET /new/' in line]
    assert "installed version 3: 40 chunks: 40 fetched (40960 bytes)" in out
    # 40 chunks in one run over the stream file, cut 3000 bytes in three
    # times, each time resumed with a Range from the first byte not yet
    # received (a read of the data buffer is received whole or not at
    # all), never from 0; no chunk file asked for.
    runs = [line for line in gets if '"GET /new/stream/' in line]
    assert len(runs) == 4 and not [line for line in gets if "/chunks/" in line]
    assert sum('" 206 ' in line for line in runs) == 3


def test_server_with_a_certificate_from_another_ca_changes_nothing(tmp_path, tree):
    with Serve(tree) as server, Serve(tree, "--state", str(tmp_path / "impostor")) as impostor:
        dev = tmp_path / "dev"
        _ok(_provision(dev, tree, server, "v2/"))
        before = (dev / "flash").read_bytes()
        proc = kit.sim(dev, "install", "--source", impostor.url + "v2/")
        assert proc.returncode == 1
        assert proc.stderr.strip().endswith("sim: transfer failed: tls")
        assert (dev / "flash").read_bytes() == before
