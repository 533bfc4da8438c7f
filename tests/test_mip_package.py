# SPDX-License-Identifier: MIT
"""The agent as a mip package (scripts/mip_package.py, make mip), installed
by the mip that stock MicroPython carries: build/unix-stock has no mpota
and no ed25519 module of its own, like a board with stock firmware.

The package is served over plain HTTP on 127.0.0.1 and installed with
mip.install(); the installed tree must then import and verify signatures.
MicroPython's hashlib has no SHA-512: the agent gets it from the native
ed25519 module (its own package here, per architecture) or, without it,
from adafruit_hashlib (build/circuitpython-lib stands in for installing it).
mip 0.3 (MicroPython 1.25's) reads only absolute urls, so each test writes
its package with --base set to its server's address; make mip writes the
same files with relative urls (mpremote and later mip resolve those).
"""

import functools
import http.server
import json
import subprocess
import sys
import threading

import nacl.signing
import pytest

from targets import BUILD, ROOT, TargetError

CPY_LIB = BUILD / "circuitpython-lib"

SCRIPT = ROOT / "scripts" / "mip_package.py"
AGENT = ROOT / "firmware" / "mpota"


def agent_tree():
    return {p.relative_to(AGENT.parent).with_suffix(".mpy").as_posix() for p in AGENT.rglob("*.py")}


def build(out, base=None):
    args = [sys.executable, str(SCRIPT), str(out)] + (["--base", base] if base else [])
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return out


@pytest.fixture
def served(tmp_path):
    """A plain HTTP server on 127.0.0.1 for tmp_path/www; yields its base
    address and the folder."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:{}/".format(server.server_address[1]), www
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def mip_install(target, url, dest):
    out = target.run("import mip\nmip.install({!r}, target={!r})\n".format(url, str(dest)))
    # mip 0.3 reports failure only in what it prints.
    assert out.rstrip().endswith("Done"), out
    return out


def signed():
    key = nacl.signing.SigningKey.generate()
    msg = b"mpota over mip"
    sig = key.sign(msg).signature
    return bytes(key.verify_key).hex(), sig.hex(), msg


_VERIFY = """
import binascii
import mpota.crypto as c
pk = binascii.unhexlify({pk!r})
sig = bytearray(binascii.unhexlify({sig!r}))
print(c.IMPLEMENTATION, c.verify(pk, sig, {msg!r}))
sig[0] ^= 1
print(c.verify(pk, sig, {msg!r}))
"""


def test_mip_install_over_http_gives_an_agent_that_verifies(unix_stock_target, served, tmp_path):
    base, www = served
    build(www, base)
    lib = tmp_path / "lib"
    mip_install(unix_stock_target, base + "package.json", lib)

    installed = {p.relative_to(lib).as_posix() for p in lib.rglob("*") if p.is_file()}
    assert installed == agent_tree()
    if not (CPY_LIB / "adafruit_hashlib").is_dir():
        pytest.fail("{} is missing: run make test".format(CPY_LIB), pytrace=False)

    # Every module imports from the installed bytecode alone.
    names = sorted(m[:-4].replace("/", ".").replace(".__init__", "") for m in installed)
    code = "".join("import {}\n".format(n) for n in names) + "print('imported', {})\n".format(len(names))
    assert unix_stock_target.run(code, path=[lib, CPY_LIB]).split() == ["imported", str(len(names))]

    pk, sig, msg = signed()
    out = unix_stock_target.run(_VERIFY.format(pk=pk, sig=sig, msg=msg), path=[lib, CPY_LIB]).split()
    # Stock firmware has no ed25519 module: the pure-Python verifier runs.
    assert out == ["python", "True", "False"]


def test_agent_without_any_sha512_says_so_at_import(unix_stock_target, served, tmp_path):
    # Neither the native module nor adafruit_hashlib: the verifier must not
    # load half-working; the import fails and names what to install.
    base, www = served
    build(www, base)
    lib = tmp_path / "lib"
    mip_install(unix_stock_target, base + "package.json", lib)
    with pytest.raises(TargetError) as err:
        unix_stock_target.run("import mpota.crypto\n", path=[lib])
    assert "ImportError: no SHA-512" in str(err.value)


def test_native_module_package_for_the_host_arch_makes_the_agent_use_c(
        unix_stock_target, served, tmp_path):
    base, www = served
    build(www, base)
    if not (www / "ed25519-x64.json").is_file():
        pytest.fail("build/natmod/x64/ed25519.mpy is missing: run make test", pytrace=False)
    lib = tmp_path / "lib"
    mip_install(unix_stock_target, base + "package.json", lib)
    mip_install(unix_stock_target, base + "ed25519-x64.json", lib)
    assert (lib / "ed25519.mpy").read_bytes() == (BUILD / "natmod" / "x64" / "ed25519.mpy").read_bytes()

    pk, sig, msg = signed()
    out = unix_stock_target.run(_VERIFY.format(pk=pk, sig=sig, msg=msg), path=[lib]).split()
    assert out == ["c", "True", "False"]
    # Everything but the pure-Python fallback, which the C module replaces
    # (and which, without a SHA-512, refuses to load).
    fallback = {"mpota.crypto.ed25519_fallback", "mpota.crypto.sha512_source"}
    names = sorted(m[:-4].replace("/", ".").replace(".__init__", "") for m in agent_tree())
    code = "".join("import {}\n".format(n) for n in names if n not in fallback) + "print('imported')\n"
    assert unix_stock_target.run(code, path=[lib]).split() == ["imported"]


def test_package_lists_every_agent_module_and_nothing_else(tmp_path):
    # A module missing from the package would install "successfully" and
    # fail on the device at its first import.
    out = build(tmp_path / "mip")
    doc = json.loads((out / "package.json").read_text())
    assert doc["version"]
    dests = [dest for dest, _ in doc["urls"]]
    assert set(dests) == agent_tree() and len(dests) == len(set(dests))
    for dest, url in doc["urls"]:
        # Relative to the package file by default, and the file is there.
        assert url == dest and (out / url).is_file()
        assert not dest.startswith("/") and ".." not in dest.split("/")


def test_package_holds_bytecode_only(tmp_path):
    out = build(tmp_path / "mip")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".py"]
    for p in files:
        if p.suffix == ".mpy":
            # .mpy header: 'M', then the bytecode version MicroPython 1.25 loads.
            assert p.read_bytes()[:2] == b"M\x06", p


def test_one_native_package_per_built_arch(tmp_path):
    out = build(tmp_path / "mip", "http://127.0.0.1:1/pkg")
    archs = sorted(p.parent.name for p in (BUILD / "natmod").glob("*/ed25519.mpy"))
    assert archs, "no native module built: run make test"
    for arch in archs:
        doc = json.loads((out / "ed25519-{}.json".format(arch)).read_text())
        assert doc["urls"] == [["ed25519.mpy", "http://127.0.0.1:1/pkg/ed25519/{}/ed25519.mpy".format(arch)]]
        assert (out / "ed25519" / arch / "ed25519.mpy").read_bytes() == \
            (BUILD / "natmod" / arch / "ed25519.mpy").read_bytes()


def test_a_module_removed_from_the_source_leaves_the_package(tmp_path):
    # The output folder is rebuilt from scratch: a stale .mpy of a deleted
    # module must not stay in it to be served.
    out = tmp_path / "mip"
    build(out)
    stale = out / "mpota" / "gone.mpy"
    stale.write_bytes(b"M\x06")
    build(out)
    assert not stale.exists()
