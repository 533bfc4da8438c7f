# SPDX-License-Identifier: MIT
"""One `except mpota.Error` catches every refusal the agent makes, with
its reason code, on CPython and under MicroPython: the verifier's
BundleError, the agent's AgentError, a transport's SourceError and a
broken flash rule's FlashError are each raised for real (a forged
manifest, an install on a device not yet provisioned, a bundle file that
is not there, a write past a flash region) and caught by the base class
the package exports."""

import json
import subprocess
import sys

from agent import kit
from bundles import factory as f

# Each refusal, raised by the code that ships, caught as mpota.Error.
CASES = """
import mpota
from mpota.bundle import trust
from mpota.flash.nor import NorFile
from mpota.flash.region import Region
from mpota.source.local import LocalSource
from mpota.update.install import Install

def caught(fn):
    try:
        fn()
    except mpota.Error as e:
        return [type(e).__name__, e.reason]
    return None

base = {base!r}
dev = device(base)
chip = NorFile(base + "/chip", 8192, 4096, 256, 1)
out = [
    caught(lambda: trust.load_root(b"MPOT" + bytes(60))),
    caught(lambda: Install(dev, LocalSource(base)).run()),
    caught(lambda: LocalSource(base).open("manifest")),
    caught(lambda: Region(chip, 0, 4096).read(4096, bytearray(16))),
]
chip.close()
"""

EXPECTED = [["BundleError", "unknown-format"], ["AgentError", "not-provisioned"],
            ["SourceError", "not-found"], ["FlashError", "range"]]


def test_every_refusal_is_caught_as_mpota_error_under_micropython(unix_target, tmp_path):
    r = kit.run(unix_target, CASES.format(base=str(tmp_path / "dev")) + "emit('out', out)\n")
    assert r["out"] == EXPECTED


def test_every_refusal_is_caught_as_mpota_error_on_cpython(tmp_path):
    code = ("import json, sys\nsys.path[:0] = [{fw!r}, {mp!r}]\nfrom agentkit import device\n"
            .format(fw=str(f.FIRMWARE), mp=str(kit.MP))
            + CASES.format(base=str(tmp_path / "dev")) + "print(json.dumps(out))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == EXPECTED


def test_the_exported_base_is_the_one_every_reason_class_derives_from():
    import mpota
    from mpota.bundle.error import BundleError
    from mpota.errors import AgentError, Error
    from mpota.flash import FlashError
    from mpota.source import SourceError

    assert mpota.Error is Error
    for cls in (AgentError, BundleError, SourceError, FlashError):
        assert issubclass(cls, mpota.Error) and cls("x").reason == "x"
    # Not every exception: a bug in the application stays a bug.
    assert not issubclass(ValueError, mpota.Error)
