# SPDX-License-Identifier: MIT
"""Host side of the agent tests: keys, roots, bundles and app images, and
running device code under the MicroPython unix build."""

import json
from pathlib import Path

from bundles import factory as f
from mpota_host import apppack

MP = Path(__file__).resolve().parent / "mp"
PATH = [f.FIRMWARE, MP]
R, A, B, X = f.keys("agent-r", "agent-a", "agent-b", "agent-x")
CHUNK = 1024


def root(tmp):
    """Root version 1: root key R, update key A, thresholds 1."""
    path = Path(tmp) / "root"
    if not path.exists():
        path.write_bytes(f.root_doc([R], 1, [A], 1))
    return path


def image(size=40 * CHUNK, seed=0):
    return f.image(size, seed)


def changed(data, chunks, seed=1):
    """data with the given chunks (at CHUNK granularity) altered."""
    out = bytearray(data)
    for c in chunks:
        for i in range(c * CHUNK, min((c + 1) * CHUNK, len(out)), 7):
            out[i] ^= 0x5A ^ seed
    return bytes(out)


def bundle(tmp, name, data, signers=(A,), **kw):
    kw.setdefault("chunk_size", CHUNK)
    return f.bundle(Path(tmp) / name, data, list(signers), **kw)


def app(tmp, name, version, healthy=True, extra=b""):
    """An app directory: main.py prints its version and passes or fails
    its health check (confirming only if it passes)."""
    d = Path(tmp) / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "main.py").write_text(
        "import mpota\n"
        "print('app version {}')\n"
        "if {}:\n"
        "    print('health check passed', mpota.confirm())\n"
        "else:\n"
        "    print('health check failed')\n".format(version, healthy))
    (d / "lib").mkdir(exist_ok=True)
    (d / "lib" / "data.bin").write_bytes(bytes(range(256)) * 64 + extra)
    return d


def app_bundle(tmp, name, version, healthy=True, **kw):
    data = apppack.pack(str(app(tmp, name + "-src", version, healthy)))
    kw.setdefault("security_counter", version)
    kw.setdefault("sequence", version)
    return bundle(tmp, name, data, version=version, target="app", **kw)


def run(target, code, heapsize=None, timeout=120, extra_path=()):
    """Run device code with agentkit imported; return {name: value} from
    its RESULT lines."""
    out = target.run("from agentkit import *\n" + code, path=PATH + list(extra_path),
                     heapsize=heapsize, timeout=timeout)
    results = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            _, name, value = line.split(" ", 2)
            results[name] = json.loads(value)
    return results


def sim(device_dir, *args, heapsize=None, cwd=None):
    """Run `micropython -m mpota.sim DIR ARGS...` as the docs say; return
    the CompletedProcess (text)."""
    import os
    import subprocess

    import targets

    argv = [str(targets.UNIX_BINARY)]
    if heapsize:
        argv += ["-X", "heapsize={}".format(heapsize)]
    argv += ["-m", "mpota.sim", str(device_dir)] + [str(a) for a in args]
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(f.FIRMWARE), ".frozen"]))
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
