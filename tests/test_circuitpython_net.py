# SPDX-License-Identifier: MIT
"""The agent's HTTPS source on a board shaped like CircuitPython
(build/unix-cpy): no `socket`, no `tls`; the network through the `wifi`,
`socketpool` and `ssl.SSLContext` stand-ins, over real TLS from a real
`mpota serve` with its CA pinned. The same HttpSource, parser and body
reader as on MicroPython, over source/poolconn.py."""

import pytest

import targets
from agent import kit
from mpota_host import apppack
from net.serveproc import Serve


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    d = tmp_path_factory.mktemp("cpy-https")
    kit.root(d)
    kit.app_bundle(d, "v1", 1)
    kit.app_bundle(d, "v2", 2, compress="deflate")
    # Chunks that do not deflate (noise in the app): over 300 bytes each.
    src = kit.app(d, "v3-src", 3, extra=kit.image(6000, seed=3))
    kit.bundle(d, "v3", apppack.pack(str(src)), version=3, target="app",
               security_counter=3, sequence=3, compress="deflate")
    return d


@pytest.fixture(autouse=True)
def wifi(monkeypatch):
    # settings.toml on the board; the stand-in radio joins this network.
    monkeypatch.setenv("CIRCUITPY_WIFI_SSID", "mpota-test")
    monkeypatch.setenv("CIRCUITPY_WIFI_PASSWORD", "mpota-pass")


_INSTALL = """
from mpota import trial
from mpota.source.local import LocalSource
from mpota.update.install import Install
dev = device({base!r}, bank="dir", target="app", slot_size=131072,
             source={url!r}, ca={ca!r}{more})
provision(dev, {root!r}, {v1!r})
src = dev.source()
emit("net", src._net.__name__)
emit("install", outcome(lambda: report(Install(dev, src).run())))
emit("state", state(dev))
"""


def _install(cpy, tmp_path, tree, url, ca, extra="", more=""):
    code = _INSTALL.format(base=str(tmp_path / "dev"), url=url, ca=str(ca), more=more,
                           root=str(tree / "root"), v1=str(tree / "v1")) + extra
    return kit.run(cpy, code, extra_path=list(targets.CPY_PATH), timeout=300)


def test_update_over_tls_with_pinned_ca_installs_and_confirms_on_circuitpython(
        cpy, tmp_path, tree):
    with Serve(tree, quiet=False) as server:
        r = _install(cpy, tmp_path, tree, server.url + "v2/", server.ca_pem, """
b = trial.boot(dev)
import main
emit("after", state(dev))
""")
        gets = [line for line in server.err if '"GET /v2/' in line]
    assert r["net"] == "mpota.source.poolconn"
    assert r["install"]["outcome"] == "installed" and r["install"]["fetched"] >= 1
    assert r["after"]["active_version"] == 2 and r["after"]["trial"] == 255
    assert any("/v2/manifest" in g for g in gets)


def test_connection_dropped_mid_run_resumes_with_range_on_circuitpython(cpy, tmp_path, tree):
    # The chunks to fetch come as runs over stream/<table hash>, each run
    # one Range request (update/runs.py). The stream is cut after 300
    # bytes, twice: each time the transfer asks again from the byte where
    # it stopped (206 again), never from the start of the run.
    with Serve(tree, "--fault", "drop:300", "--fault-on", "/stream/",
               "--fault-times", "2", quiet=False) as server:
        r = _install(cpy, tmp_path, tree, server.url + "v3/", server.ca_der)
    gets = _logged(server, "/v3/stream/", 3)
    ranges = [g.split('" ')[1][:3] for g in gets]
    assert r["install"]["outcome"] == "installed"
    assert len(ranges) >= 3 and set(ranges) == {"206"}


def _logged(server, text, want):
    """The server's log lines holding text, once it has logged `want` of
    them or its output has ended (a count of polls, no clock)."""
    import time

    for _ in range(200):
        lines = [line for line in server.err if text in line]
        if len(lines) >= want:
            break
        time.sleep(0.01)
    return lines


def test_server_certificate_from_another_ca_is_refused_as_tls(cpy, tmp_path, tree):
    with Serve(tree) as server, Serve(tree, "--state", str(tmp_path / "impostor")) as impostor:
        r = _install(cpy, tmp_path, tree, impostor.url + "v2/", server.ca_pem)
    assert r["install"] == {"refused": "tls"}
    assert r["state"]["active_version"] == 1 and r["state"]["p_units"] == 0


def test_certificate_for_another_host_name_is_refused_as_tls(cpy, tmp_path, tree):
    # The pinned CA signed it, but for elsewhere.example, not 127.0.0.1.
    with Serve(tree, "--state", str(tmp_path / "other"), "--name", "elsewhere.example") as server:
        url = "https://127.0.0.1:{}/v2/".format(server.port)
        r = _install(cpy, tmp_path, tree, url, server.ca_pem)
    assert r["install"] == {"refused": "tls"}


def test_https_source_on_a_board_without_any_network_stack_is_a_reason_code(cpy, tmp_path, tree):
    # Neither socket nor socketpool (the stand-ins left off the path): a
    # SourceError with a reason, not an ImportError.
    code = """
from mpota import device as D
from mpota.source import SourceError
dev = D.Device(config({base!r}, bank="dir", target="app", slot_size=131072,
                      source="https://127.0.0.1:1/v2/", ca={ca!r}), {base!r})
emit("source", outcome(lambda: dev.source() and "made"))
""".format(base=str(tmp_path / "dev"), ca=str(tree / "root"))
    r = kit.run(cpy, code, extra_path=list(targets.CPY_PATH[1:]), timeout=120)
    assert r["source"] == {"refused": "connect"}


_READ = """
from mpota.source import SourceError
from mpota.source.http import HttpSource
src = HttpSource({url!r}, ca=open({ca!r}, "rb").read(), read_timeout=1, retries=0)
buf = bytearray(256)
def fetch():
    r = src.open({name!r})
    n = 0
    while True:
        got = r.readinto(buf)
        if not got:
            return n
        n += got
emit("read", outcome(fetch))
"""


@pytest.mark.parametrize("fault, reason", [
    ("stall:300", "timeout"),  # stops sending: the read timeout (the rate
    # floor's trickle is the same code as on MicroPython: test_transport_stalls)
    ("long:10", "closed"),  # fewer bytes than declared, then the end
    ("short:10", "too-large"),  # more bytes than declared
])
def test_misbehaving_server_ends_in_the_same_reason_codes_on_circuitpython(
        cpy, tmp_path, tree, fault, reason):
    big = max((tree / "v3" / "chunks").iterdir(), key=lambda p: p.stat().st_size)
    with Serve(tree, "--fault", fault, "--fault-on", big.name) as server:
        code = _READ.format(url=server.url + "v3/", ca=str(server.ca_pem),
                            name="chunks/" + big.name)
        r = kit.run(cpy, code, extra_path=list(targets.CPY_PATH), timeout=120)
    assert r["read"] == {"refused": reason}


def test_radio_that_cannot_join_the_network_is_a_connect_refusal(cpy, tmp_path, tree, monkeypatch):
    # settings.toml names the network with a wrong password: the agent's
    # one try to join fails as 'connect', not an exception of its own.
    monkeypatch.setenv("CIRCUITPY_WIFI_PASSWORD", "wrong")
    with Serve(tree) as server:
        code = """
from mpota.source.http import HttpSource
src = HttpSource({url!r}, ca=open({ca!r}, "rb").read(), retries=0)
emit("open", outcome(lambda: src.open("manifest") and "opened"))
""".format(url=server.url + "v2/", ca=str(server.ca_pem))
        r = kit.run(cpy, code, extra_path=list(targets.CPY_PATH), timeout=120)
    assert r["open"] == {"refused": "connect"}


def test_provisioning_over_wifi_installs_and_confirms_the_first_app(cpy, tmp_path, tree):
    # docs/CIRCUITPYTHON.md, step 3: provision from the REPL with the
    # configured https source, no bundle on the drive.
    with Serve(tree) as server:
        code = """
import mpota.device, mpota.provision
dev = mpota.device.use(device({base!r}, bank="dir", target="app", slot_size=131072,
                              source={url!r}, ca={ca!r}))
rep = mpota.provision.provision(dev, open({root!r}, "rb").read(), dev.source())
emit("provision", report(rep))
emit("state", state(dev))
""".format(base=str(tmp_path / "dev"), url=server.url + "v1/", ca=str(server.ca_pem),
           root=str(tree / "root"))
        r = kit.run(cpy, code, extra_path=list(targets.CPY_PATH), timeout=120)
    assert r["provision"]["outcome"] == "installed" and r["provision"]["fetched"] > 0
    assert r["state"]["active_version"] == 1 and r["state"]["trial"] == 255
