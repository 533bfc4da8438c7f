# SPDX-License-Identifier: MIT
"""Memory and speed of the device's HTTP source on the unix port, against
`mpota serve` on localhost. A benchmark, not a test: it prints figures.

- the smallest `-X heapsize` at which an HTTPS download works, with the
  source imported from .py files and from precompiled .mpy files, and what
  the heap holds at each step (import, TLS context, open connection);
- throughput over HTTPS and plain HTTP for a few buffer sizes, and the
  time of a TLS handshake.

Run: build/venv/bin/python tests/bench_transport.py [--size MB]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import targets  # noqa: E402
from net.serveproc import Serve  # noqa: E402

ROOT = targets.ROOT
FIRMWARE = ROOT / "firmware"
MPY_CROSS = targets.BUILD / "mpy-cross" / "mpy-cross"

FETCH = r'''
import gc, time
from mpota.source.http import HttpSource
with open({ca!r}, 'rb') as f:
    ca = f.read()
src = HttpSource({url!r}, ca=ca, allow_http=True)
buf = bytearray({buf})
r = src.open('f')
got = 0
while True:
    n = r.readinto(buf)
    if n == 0:
        break
    got += n
r.close()
print('OK', got)
'''

STEPS = r'''
import gc
def used():
    gc.collect()
    return gc.mem_alloc()
base = used()
from mpota.source.http import HttpSource
imported = used()
import tls
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
context = used()
del ctx
with open({ca!r}, 'rb') as f:
    ca = f.read()
src = HttpSource({url!r}, ca=ca)
made = used()
r = src.open('f')
opened = used()
buf = bytearray(1024)
while r.readinto(buf):
    pass
r.close()
done = used()
print({{'import': imported - base, 'tls-context': context - imported, 'source': made - imported,
       'open-connection': opened - made, 'after-download': done - made}})
'''

SPEED = r'''
import time
from mpota.source.http import HttpSource
with open({ca!r}, 'rb') as f:
    ca = f.read()
src = HttpSource({url!r}, ca=ca, allow_http=True)
buf = bytearray({buf})
t0 = time.ticks_us()
r = src.open('f')
t1 = time.ticks_us()
got = 0
while True:
    n = r.readinto(buf)
    if n == 0:
        break
    got += n
r.close()
t2 = time.ticks_us()
print(got, time.ticks_diff(t1, t0), time.ticks_diff(t2, t1))
'''


def _mp(code, path, heapsize=None, timeout=120):
    argv = [str(targets.UNIX_BINARY)]
    if heapsize:
        argv += ["-X", "heapsize={}".format(heapsize)]
    env = dict(os.environ, MICROPYPATH="{}:.frozen".format(path))
    return subprocess.run(argv, input=code.encode(), capture_output=True, env=env, timeout=timeout)


def smallest_heap(code, path, expect):
    lo, hi = 4 * 1024, 512 * 1024
    if expect not in _mp(code, path, hi).stdout.decode():
        raise SystemExit("download fails even with {} bytes of heap".format(hi))
    while hi - lo > 256:
        mid = (lo + hi) // 2
        if expect in _mp(code, path, mid).stdout.decode():
            hi = mid
        else:
            lo = mid
    return hi


def compile_mpy(dest):
    pkg = dest / "mpota" / "source"
    pkg.mkdir(parents=True)
    for src in [FIRMWARE / "mpota" / "__init__.py"] + sorted((FIRMWARE / "mpota" / "source").glob("*.py")):
        out = (dest / src.relative_to(FIRMWARE)).with_suffix(".mpy")
        subprocess.run([str(MPY_CROSS), "-o", str(out), str(src)], check=True)
    return dest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=float, default=4, help="MB to download for throughput (default 4)")
    args = ap.parse_args()
    targets.unix().check()
    work = Path(tempfile.mkdtemp(prefix="mpota-bench-"))
    try:
        (work / "www").mkdir()
        (work / "www" / "f").write_bytes(os.urandom(int(args.size * 1024 * 1024)))
        (work / "www" / "small").write_bytes(os.urandom(100_000))
        mpy = compile_mpy(work / "mpy")
        with Serve(work / "www") as tls_srv, Serve(work / "www", "--http", "--state", str(work / "plain")) as plain:
            ca = tls_srv.ca_der
            print("HTTPS download of 100 kB, 1 kB buffer: smallest -X heapsize")
            small = FETCH.format(ca=ca, url=tls_srv.url, buf=1024).replace("'f'", "'small'")
            for label, path in (("source .py", FIRMWARE), ("precompiled .mpy", mpy)):
                print("  {:18} {:>7} bytes".format(label, smallest_heap(small, path, "OK 100000")))
            steps = _mp(STEPS.format(ca=ca, url=tls_srv.url), mpy).stdout.decode().strip()
            print("  heap held, .mpy:  {}".format(steps))
            print("throughput, {} MB from localhost (unix port; MB/s, handshake+head ms):".format(args.size))
            for label, srv in (("https", tls_srv), ("http", plain)):
                for buf in (512, 4096, 16384):
                    out = _mp(SPEED.format(ca=ca, url=srv.url, buf=buf), mpy).stdout.decode().split()
                    got, open_us, body_us = int(out[0]), int(out[1]), int(out[2])
                    print("  {:5} buffer {:5}: {:7.1f} MB/s, open {:6.1f} ms".format(
                        label, buf, got / body_us, open_us / 1000))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
