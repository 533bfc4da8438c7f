# SPDX-License-Identifier: MIT
"""The power-cut campaign (tests/campaign/powercut.py) on a board shaped
like CircuitPython (build/unix-cpy): the app-directory bank with its state
in files, as a CircuitPython board keeps it on CIRCUITPY once boot.py has
remounted it, through the CircuitPython paths (adafruit_hashlib for
SHA-256 and SHA-512, the pure-Python verifier and CRC-32, zlib.decompress
for deflated chunks). A sample here; the full sweep figures are in
docs/CIRCUITPYTHON.md."""

from concurrent.futures import ThreadPoolExecutor

import pytest

import targets
from campaign import powercut

# Every STRIDE-th operation, as the campaign's own sample.
RUNS = (("app-dir-deflate", "good", 29),)


class _Cpy(targets.UnixTarget):
    """unix-cpy with the stand-ins on the path of every run."""

    def run(self, code, *, path=(), **kw):
        return super().run(code, path=list(path) + list(targets.CPY_PATH), **kw)


@pytest.fixture(scope="module")
def cpy():
    t = _Cpy("unix-cpy", targets.UNIX_CPY_BINARY)
    try:
        t.check()
    except targets.TargetMissing as e:
        pytest.fail(str(e))
    return t


def test_power_cut_before_any_operation_keeps_a_bootable_app_on_circuitpython(cpy, monkeypatch):
    monkeypatch.setitem(powercut.SETUPS, "app-dir-deflate",
                        dict(powercut.SETUPS["app-dir"], compress="deflate"))

    def one(run):
        name, cycle, stride = run
        return run, powercut.run_one(name, cycle, stride=stride, target=cpy)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, RUNS))
    for (name, cycle, _), r in results:
        assert r["cases"] >= 2, (name, cycle)
        assert not r["failed"], (name, cycle, r["failures"][:5])
