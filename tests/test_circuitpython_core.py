# SPDX-License-Identifier: MIT
"""The agent on a board shaped like CircuitPython (build/unix-cpy, with the
stand-ins of tests/circuitpython/lib): no hashlib.sha256, no deflate, and
what follows from it (docs/CIRCUITPYTHON.md)."""

import pytest

import targets
from agent import kit

NOZLIB = targets.ROOT / "tests" / "circuitpython" / "nozlib"


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cpy")
    return {"root": kit.root(tmp),
            "v1": kit.app_bundle(tmp, "v1", 1),
            # As the README signs: deflated chunks.
            "v2": kit.app_bundle(tmp, "v2", 2, compress="deflate")}


def _run(cpy, code, bundles, tmp_path, path=targets.CPY_PATH):
    return kit.run(cpy, code.format(base=str(tmp_path / "dev"),
                                    **{k: str(v) for k, v in bundles.items()}),
                   extra_path=list(path), timeout=300)


def test_board_without_any_sha256_imports_mpota_and_refuses_with_a_reason(cpy, bundles, tmp_path):
    # No hashlib and no adafruit_hashlib on the path: `import mpota`, its
    # boot and state modules import; a hash asked for is a reason code.
    # (Verifying needs SHA-512 too: adafruit_hashlib is then required,
    # docs/CIRCUITPYTHON.md.)
    r = _run(cpy, """
import mpota
from mpota import sha256, trial, device
emit("source", sha256.SOURCE)
emit("hash", outcome(lambda: sha256.sha256() and "hashed"))
""", bundles, tmp_path, path=targets.CPY_PATH[:1])
    assert r["source"] is None
    assert r["hash"] == {"refused": "no-sha256"}


def test_readme_deflated_bundle_installs_and_confirms_on_circuitpython(cpy, bundles, tmp_path):
    r = _run(cpy, """
from mpota import sha256, trial
from mpota.bundle import inflate
from mpota.source.local import LocalSource
from mpota.update.install import Install
emit("runtime", [sha256.SOURCE, inflate.kind()])
dev = device({base!r}, bank="dir", target="app", slot_size=131072)
provision(dev, {root!r}, {v1!r})
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
b = trial.boot(dev)
import main
emit("state", state(dev))
""", bundles, tmp_path)
    assert r["runtime"] == ["adafruit_hashlib", "zlib"]
    assert r["install"]["outcome"] == "installed" and r["install"]["fetched"] > 0
    assert r["state"]["active_version"] == 2 and r["state"]["trial"] == 255


def test_board_without_zlib_refuses_deflated_bundle_at_check_before_any_download(
        cpy, bundles, tmp_path):
    r = _run(cpy, """
from mpota.bundle import inflate
from mpota.update import offer
from mpota.update.install import Install
emit("kind", inflate.kind())
dev = device({base!r}, bank="dir", target="app", slot_size=131072)
provision(dev, {root!r}, {v1!r})
before = state(dev)
src = FlakySource({v2!r})
emit("check", outcome(lambda: offer.check(dev, src)[1]))
emit("install", outcome(lambda: report(Install(dev, src).run())))
emit("opens", [o[0] for o in src.opens])
st = dev.load()
emit("progress", [st.p_units, st.p_table, bytes(st.p_sha) == bytes(len(st.p_sha))])
emit("events", [before["events"], state(dev)["events"]])
""", bundles, tmp_path, path=[NOZLIB] + list(targets.CPY_PATH))
    assert r["kind"] is None
    assert r["check"] == {"refused": "unknown-codec"}
    assert r["install"] == {"refused": "unknown-codec"}
    # Only the manifest and the root rotation probe were read.
    assert not [n for n in r["opens"] if n.startswith(("table/", "chunks/"))]
    # No download record: no progress, no install event; one refusal logged.
    assert r["progress"] == [0, 0, True]
    before, after = r["events"]
    assert len(after) == len(before) + 1 and after[-1][0] == 3  # verify-failure


def test_corrupt_deflate_data_is_bad_deflate_on_the_zlib_path(cpy, bundles, tmp_path):
    # Bytes that are no deflate stream, given to CircuitPython's one-shot
    # path as a chunk whose stored hash matched: 'bad-deflate', no other
    # exception; and the path needs the chunk's length ('unknown-codec'
    # without it).
    r = _run(cpy, """
import io
from mpota.bundle import inflate
class Stream:
    def __init__(self, data):
        self.f = io.BytesIO(data)
    def readinto(self, buf):
        return self.f.readinto(buf)
garbage = bytes(range(7, 255, 3)) * 4
emit("bad", outcome(lambda: inflate.reader(Stream(garbage), 12, len(garbage)) and "read"))
emit("no-size", outcome(lambda: inflate.reader(Stream(garbage), 12) and "read"))
""", bundles, tmp_path)
    assert r["bad"] == {"refused": "bad-deflate"}
    assert r["no-size"] == {"refused": "unknown-codec"}
