# SPDX-License-Identifier: MIT
"""The smallest MicroPython heap (-X heapsize) a whole update needs.

A benchmark, not a test: prints figures for docs/AGENT.md.

  build/venv/bin/python tests/agent/heap_min.py [--build | --frozen BINARY]

A device is provisioned with v1 (normal heap) and its flash saved; then,
for each way of loading the agent and each bundle, the heap size is
bisected: each probe restores the flash and runs one complete install
(LocalSource: manifest, table, every chunk, read-back) in a fresh
process. Ways of loading the agent:
  py      firmware/ sources, compiled at import (bytecode in the heap)
  mpy     the same precompiled by mpy-cross (bytecode still in the heap)
  frozen  frozen into the firmware (bytecode in flash): --build makes
          build/unix-agent/micropython with tests/agent/frozen_manifest.py
          (the unix build's settings otherwise), or give --frozen BINARY
Bundles: 128 KB app images in 4 KB chunks, none shared with v1 (every
chunk fetched), stored as is or deflated (window 2^12), read from the
bundle directory (LocalSource) or, in the https column, stored chunks
downloaded from `mpota serve` over TLS with its CA pinned: the whole
update, TLS included.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from agent import kit  # noqa: E402
from bundles import factory as f  # noqa: E402
from net.serveproc import Serve  # noqa: E402

import targets  # noqa: E402

_INSTALL = """
import sys
from mpota import device
from mpota.update.install import Install
dev = device.load(sys.argv[1] + "/mpota.json")
print(Install(dev, dev.source(sys.argv[2])).run().outcome)
"""


def mpy_tree(out):
    cross = targets.BUILD / "mpy-cross" / "mpy-cross"
    for src in (f.FIRMWARE / "mpota").rglob("*.py"):
        rel = src.relative_to(f.FIRMWARE)
        dst = out / rel.with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(cross), "-o", str(dst), str(src)], check=True)
    return out


def probe(binary, path, script, dev, snapshot, bundle, heap):
    shutil.copyfile(snapshot, dev / "flash")
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(p) for p in path] + [".frozen"]))
    proc = subprocess.run([str(binary), "-X", "heapsize={}".format(heap), str(script),
                           str(dev), str(bundle)], capture_output=True, text=True, env=env,
                          timeout=120)
    return proc.returncode == 0 and proc.stdout.strip().endswith("installed")


def _smallest(probe, lo=4096, hi=1 << 20, step=256):
    if not probe(hi):
        raise SystemExit("an install fails even with a {} byte heap".format(hi))
    while hi - lo > step:
        mid = (lo + hi) // 2
        if probe(mid):
            hi = mid
        else:
            lo = mid
    return hi


def prepare(work):
    """Bundles and a provisioned device under work; returns (device dir,
    its flash with v1, {name: bundle}, install script)."""
    root = kit.root(work)
    v1 = kit.bundle(work, "v1", kit.image(128 * 1024, seed=1), chunk_size=4096,
                    target="app", device_class="sim")
    data = kit.image(128 * 1024, seed=2)
    common = dict(chunk_size=4096, target="app", device_class="sim", version=2,
                  security_counter=2, sequence=2)
    bundles = {"stored": kit.bundle(work, "plain", data, **common),
               "deflated": kit.bundle(work, "deflated", data, compress="deflate", **common)}
    dev = work / "dev"
    proc = kit.sim(dev, "provision", "--root", root, "--bundle", v1,
                   "--device-class", "sim", "--slot-size", 256 * 1024,
                   "--table-size", 8192, "--backoff-ms", 0)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    snapshot = work / "flash.v1"
    shutil.copyfile(dev / "flash", snapshot)
    script = work / "install.py"
    script.write_text(_INSTALL)
    return dev, snapshot, bundles, script


def start_server(work):
    """`mpota serve` on the bundles under work, started (net.serveproc.Serve:
    .url is the base URL, .ca_der the CA to pin, .stop() ends it)."""
    # The state (the CA's key) outside the served tree: serve refuses it inside.
    return Serve(work, "--state", str(work.parent / (work.name + "-server"))).start()


def build_frozen():
    out = targets.BUILD / "unix-agent"
    cmd = ["make", "-j{}".format(os.cpu_count() or 2), "-C",
           str(targets.BUILD / "micropython" / "ports" / "unix"), "BUILD=" + str(out),
           "VARIANT=standard", "PROG=micropython", "MICROPY_SSL_AXTLS=0",
           "MICROPY_SSL_MBEDTLS=1", "MICROPY_PY_BTREE=0",
           "FROZEN_MANIFEST=" + str(HERE / "frozen_manifest.py"),
           "MICROPY_MPYCROSS=" + str(targets.BUILD / "mpy-cross" / "mpy-cross"),
           "USER_C_MODULES=" + str(f.REPO / "firmware" / "cmod")]
    with open(str(out) + ".log", "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT,
                       env=dict(os.environ, MAKEFLAGS=""))
    return out / "micropython"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frozen", help="a unix binary with mpota frozen in")
    ap.add_argument("--build", action="store_true",
                    help="build build/unix-agent/micropython (mpota frozen) and use it")
    args = ap.parse_args()
    if args.build:
        args.frozen = str(build_frozen())
    work = Path(tempfile.mkdtemp(prefix="mpota-heap-"))
    server = None
    try:
        dev, snapshot, bundles, script = prepare(work)
        server = start_server(work)
        if kit.sim(dev, "set", "ca", server.ca_der).returncode:
            raise SystemExit("could not pin the CA on the device")
        bundles["https"] = server.url + bundles["stored"].name
        ways = [("py", targets.UNIX_BINARY, [f.FIRMWARE]),
                ("mpy", targets.UNIX_BINARY, [mpy_tree(work / "mpy")])]
        if args.frozen:
            ways.append(("frozen", Path(args.frozen), []))
        print("smallest -X heapsize for a whole update (unix port, 64-bit), bytes")
        print("{:<8} {:>10} {:>10} {:>10}".format("agent", *bundles))
        for name, binary, path in ways:
            row = [_smallest(lambda h, b=b: probe(binary, path, script, dev, snapshot, b, h))
                   for b in bundles.values()]
            print("{:<8} {:>10} {:>10} {:>10}".format(name, *row), flush=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
