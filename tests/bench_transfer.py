# SPDX-License-Identifier: MIT
"""How close an update comes to the speed of its link (issue 14). A
benchmark, not a test: it prints figures, ratios within one run.

1. Loopback: a 4 MiB app update installed by the agent on the unix port
   from stock nginx over TLS (dev CA), on the dir bank and on the NOR
   flash model, against MicroPython's raw TLS read of the same bytes from
   the same server in the same run (goal: >= 0.30 of raw). The same bundle
   without its stream file (chunk by chunk, as before runs) for contrast.
2. Shaped links: the same update through a link of given RTT and rate
   (and loss), against size / rate (goal: <= 1.3 x size / rate + 3 RTT).
   With `tc netem` the benchmark would shape a veth pair between network
   namespaces; where the kernel has no netem (checked first) a userspace
   proxy delays each direction by RTT / 2, paces at the rate and, for
   loss, holds the stream one RTT per lost 1448-byte segment (a TCP
   retransmission's stall, not its congestion back-off).
3. Emulated Cortex-M3 (qemu -icount): instructions per KiB installed from
   a RAM source into the RAM flash, against instructions per KiB of
   SHA-256 alone on the same board (goal: <= 2x).

Run: build/venv/bin/python tests/bench_transfer.py [--size MiB] [--skip-shaped] [--skip-m3]
"""

import argparse
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import targets  # noqa: E402
from agent import kit  # noqa: E402
from bundles import factory as f  # noqa: E402
from mpota_host import apppack  # noqa: E402
from net.nginx import Nginx  # noqa: E402

FIRMWARE = targets.ROOT / "firmware"
CHUNK = 4096
MIB = 1 << 20

# Device side: provision a small v1 from a directory, then install v2
# over HTTPS, timed on the device's own clock.
INSTALL = r'''
import json, time, gc
from mpota import device as D
from mpota.provision import provision
from mpota.source.local import LocalSource
from mpota.source.http import HttpSource
from mpota.update.install import Install
cfg = {cfg!r}
dev = D.use(D.Device(cfg, {base!r}))
with open({root!r}, 'rb') as fh:
    root = fh.read()
provision(dev, root, LocalSource({v1!r}))
with open({ca!r}, 'rb') as fh:
    ca = fh.read()
gc.collect()
src = HttpSource({url!r}, ca=ca, backoff=0.05)
t0 = time.ticks_us()
inst = Install(dev, src)
rep = inst.run()
t1 = time.ticks_us()
print('RESULT ' + json.dumps({{'us': time.ticks_diff(t1, t0), 'outcome': rep.outcome,
    'fetched': rep.fetched, 'bytes': rep.bytes, 'requests': inst.stream.opens}}))
'''

# MicroPython's own TLS read of a file: socket, tls, GET, readinto.
RAW = r'''
import json, socket, time, tls
with open({ca!r}, 'rb') as fh:
    ca = fh.read()
t0 = time.ticks_us()
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = tls.CERT_REQUIRED
ctx.load_verify_locations(ca)
ai = socket.getaddrinfo({host!r}, {port}, 0, socket.SOCK_STREAM)[0]
s = socket.socket(ai[0], socket.SOCK_STREAM)
s.connect(ai[-1])
s = ctx.wrap_socket(s, server_hostname={host!r})
s.write(b'GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n')
head = b''
while not head.endswith(b'\r\n\r\n'):
    head += s.read(1)
n = 0
for line in head.split(b'\r\n'):
    if line.lower().startswith(b'content-length:'):
        n = int(line[15:])
buf = bytearray({buf})
got = 0
while got < n:
    k = s.readinto(buf)
    if not k:
        break
    got += k
s.close()
t1 = time.ticks_us()
print('RESULT ' + json.dumps({{'us': time.ticks_diff(t1, t0), 'bytes': got}}))
'''


def _result(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError("no result: " + out[-2000:])


def _config(bank, size, buffer):
    slot = (size + 65536) // 65536 * 65536
    cfg = {"device_class": "bench", "target": "app", "bank": bank, "slot_size": slot,
           "table_size": (size // CHUNK + 16) * 72 // 4096 * 4096 + 4096, "chunk_area": 8192,
           "dir": "slots", "max_attempts": 3, "backoff_ms": 50, "retries": 5,
           "now": 1800000000, "buffer": buffer}
    if bank == "flash":
        cfg["flash"] = {"file": "flash", "sector": 4096, "page": 256, "write": 1}
    return cfg


def make_tree(d, size):
    """root, v1 (small app), v2 (an app of about `size` bytes), v2-chunks
    (the same bundle without its stream file), under d/www."""
    www = d / "www"
    www.mkdir(parents=True)
    root = kit.root(d)
    small = d / "app1"
    small.mkdir()
    (small / "main.py").write_text("print('v1')\n")
    big = d / "app2"
    (big / "lib").mkdir(parents=True)
    (big / "main.py").write_text("print('v2')\n")
    (big / "lib" / "data.bin").write_bytes(random.Random(14).randbytes(size - 4096))
    for name, app, v in (("v1", small, 1), ("v2", big, 2)):
        kit.bundle(www, name, apppack.pack(str(app)), version=v, security_counter=1, sequence=v,
                   target="app", device_class="bench", chunk_size=CHUNK)
    shutil.copytree(www / "v2", www / "v2-chunks")
    shutil.rmtree(www / "v2-chunks" / "stream")
    stream = next((www / "v2" / "stream").iterdir())
    return root, www, stream


def install(unix, d, tag, bank, url, ca, root, v1, size, buffer):
    base = d / "dev-{}".format(tag)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    code = INSTALL.format(cfg=_config(bank, size, buffer), base=str(base), root=str(root),
                          v1=str(v1), ca=str(ca), url=url)
    r = _result(unix.run(code, path=[FIRMWARE], timeout=900))
    if r["outcome"] != "installed":
        raise RuntimeError(r)
    return r


def raw(unix, ca, host, port, path, buf=4096):
    code = RAW.format(ca=str(ca), host=host, port=port, path=path, buf=buf)
    return _result(unix.run(code, path=[FIRMWARE], timeout=900))


def loopback(unix, d, root, www, stream, size, buffer):
    print("== 1. loopback: {} bytes from nginx {} over TLS, unix port, buffer {} ==".format(
        stream.stat().st_size, _nginx_version(), buffer))
    rows = []
    with Nginx(www, d / "nginx") as web:
        ca = web.ca_der
        path = "/v2/stream/" + stream.name
        raws = [raw(unix, ca, "127.0.0.1", web.port, path) for _ in range(3)]
        best_raw = min(r["us"] for r in raws)
        print("raw TLS read (MicroPython, 4 KiB readinto): {:.3f} s ({:.1f} MB/s), best of 3".format(
            best_raw / 1e6, stream.stat().st_size / best_raw))
        for bank in ("dir", "flash"):
            for name in ("v2", "v2-chunks"):
                tries = 3 if name == "v2" else 1
                r = min((install(unix, d, bank + name, bank, web.url + name + "/", ca, root,
                                 www / "v1", size, buffer) for _ in range(tries)),
                        key=lambda x: x["us"])
                ratio = best_raw / r["us"]
                how = "runs" if name == "v2" else "chunk files"
                print("install, {} bank, {}: {:.3f} s{}, {} requests for {} chunks; speed {:.3f} of raw{}".format(
                    "dir" if bank == "dir" else "NOR flash model", how, r["us"] / 1e6,
                    ", best of 3" if tries > 1 else "",
                    r["requests"] if name == "v2" else r["fetched"] + 1, r["fetched"], ratio,
                    "  (goal >= 0.30: {})".format("met" if ratio >= 0.30 else "NOT met") if name == "v2" else ""))
                rows.append((bank, name, r["us"], ratio))
    return best_raw, rows


class _Pipe:
    """One direction of a shaped link: bytes read from src reach dst after
    the time they take at `rate` bytes/s plus half the RTT; each 1448-byte
    segment is lost with probability `loss`, which holds the link one RTT
    (the stall of a TCP retransmission)."""

    SEGMENT = 1448

    def __init__(self, src, dst, rtt, rate, loss, rng):
        self.src, self.dst = src, dst
        self.rtt, self.rate, self.loss, self.rng = rtt, rate, loss, rng
        self.items = []
        self.cv = threading.Condition()
        self.lost = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = self.src.recv(65536)
            except OSError:
                data = b""
            with self.cv:
                self.items.append((time.monotonic(), data))
                self.cv.notify()
            if not data:
                return

    def _write(self):
        free = 0.0  # when the link has sent everything so far
        while True:
            with self.cv:
                while not self.items:
                    self.cv.wait()
                t, data = self.items.pop(0)
            if not data:
                try:
                    self.dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            for i in range(0, len(data), self.SEGMENT):
                seg = data[i:i + self.SEGMENT]
                free = max(free, t) + len(seg) / self.rate
                if self.loss and self.rng.random() < self.loss:
                    free += self.rtt
                    self.lost += 1
                wait = free + self.rtt / 2 - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    self.dst.sendall(seg)
                except OSError:
                    return


class ShapedLink:
    """A userspace link on 127.0.0.1 to a port: each connection through
    it is shaped both ways (_Pipe)."""

    def __init__(self, port, rtt, rate, loss=0.0, seed=14):
        self.target = port
        self.rtt, self.rate, self.loss = rtt, rate, loss
        self.rng = random.Random(seed)
        self.pipes = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            for x in (c, s):
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.pipes.append(_Pipe(c, s, self.rtt, self.rate, self.loss, self.rng))
            self.pipes.append(_Pipe(s, c, self.rtt, self.rate, self.loss, self.rng))

    def lost(self):
        return sum(p.lost for p in self.pipes)

    def close(self):
        self.sock.close()


def _netem():
    """True if this kernel shapes with tc netem (checked in a scratch
    network namespace, removed after)."""
    ns = "mpota-bench-probe"
    try:
        if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode:
            return False
        try:
            r = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo",
                                "root", "netem", "delay", "1ms"], capture_output=True)
            return r.returncode == 0
        finally:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    except OSError:
        return False


LINKS = [("50 ms RTT, 1 MB/s", 0.050, 1_000_000, 0.0),
         ("150 ms RTT, 200 kB/s", 0.150, 200_000, 0.0),
         ("50 ms RTT, 1 MB/s, 1 % loss", 0.050, 1_000_000, 0.01)]


def shaped(unix, d, root, www, stream, size, buffer):
    print("== 2. shaped links ==")
    if _netem():
        print("tc netem is available here, but this benchmark shapes in userspace "
              "(the namespace set-up is not written yet)")
    else:
        print("tc netem: not in this kernel; a userspace proxy delays (RTT / 2 each way), "
              "paces, and stalls one RTT per lost 1448-byte segment")
    results = []
    with Nginx(www, d / "nginx-shaped") as web:
        for label, rtt, rate, loss in LINKS:
            # A link each, with the same seed: the same segments are lost.
            link0 = ShapedLink(web.port, rtt, rate, loss)
            try:
                r0 = raw(unix, web.ca_der, "127.0.0.1", link0.port, "/v2/stream/" + stream.name)
            finally:
                link0.close()
            link = ShapedLink(web.port, rtt, rate, loss)
            try:
                r = install(unix, d, "shaped", "dir", "https://127.0.0.1:{}/v2/".format(link.port),
                            web.ca_der, root, www / "v1", size, buffer)
            finally:
                link.close()
            ideal = stream.stat().st_size / rate
            goal = 1.3 * ideal + 3 * rtt
            t = r["us"] / 1e6
            print("{}: size/rate {:.2f} s; raw TLS read {:.2f} s; install {:.2f} s in {} requests "
                  "= {:.2f} x size/rate; goal <= {:.2f} s: {}{}".format(
                      label, ideal, r0["us"] / 1e6, t, r["requests"], t / ideal, goal,
                      "met" if t <= goal else "NOT met",
                      " ({} and {} segments lost)".format(link0.lost(), link.lost()) if loss else ""))
            results.append((label, ideal, r0["us"] / 1e6, t, goal))
    return results


# On the emulated board: the bundle's manifest, table and stream file are
# copied from the mount into spare RAM (the source), the flash is spare
# RAM too (flash/ram.py); then the install and SHA-256 alone are timed.
# Under -icount shift=0 one guest microsecond is 1000 instructions.
M3 = r'''
import gc, json, time, uctypes
SRC = 0x20200000
# The stream file is made here (the mount carries large files badly): the
# image is one 4 KiB pattern repeated, stored as is, so the stream file is
# the image; the manifest and table come over the mount.
files = {{}}
pattern = bytes(range(256)) * 16
for a in range(0, {size}, 4096):
    uctypes.bytearray_at(SRC + a, 4096)[:] = pattern
files[{names[2]!r}] = (SRC, {size})
at = SRC + {size}
for name in {names!r}[:2]:
    n = 0
    with open('/remote/v2/' + name, 'rb') as fh:
        while True:
            b = fh.read(512)
            if not b:
                break
            uctypes.bytearray_at(at + n, len(b))[:] = b
            n += len(b)
    files[name] = (at, n)
    at += (n + 4095) // 4096 * 4096
b = pattern = None
gc.collect()
from mpota import device as D
from mpota.provision import provision
from mpota.source import SourceError
from mpota.source.local import LocalSource
from mpota.update.install import Install
from mpota.sha256 import sha256
# What the install imports when it needs it, imported now: a board runs
# the agent frozen, compiled in advance, and the clock below is for the
# install, not for the compiler.
import mpota.update.plan, mpota.update.runs
class _R:
    def __init__(self, mv, pos, end):
        self.mv, self.pos, self.end = mv, pos, end
    def readinto(self, buf):
        n = min(len(buf), self.end - self.pos)
        if n <= 0:
            return 0
        buf[:n] = self.mv[self.pos:self.pos + n]
        self.pos += n
        return n
    def close(self):
        pass
class RamSource:
    ranges = True  # serves the stream file in runs, as HttpSource does
    def open(self, name, offset=0, end=0):
        if name not in files:
            raise SourceError('not-found')
        a, n = files[name]
        return _R(memoryview(uctypes.bytearray_at(a, n)), offset, end or n)
cfg = {cfg!r}
dev = D.Device(cfg, '/remote/dev')
dev.flash.erase_all()
D.use(dev)
with open('/remote/root', 'rb') as fh:
    root = fh.read()
provision(dev, root, LocalSource('/remote/v1'))
gc.collect()
t0 = time.ticks_us()
rep = Install(dev, RamSource()).run()
install_us = time.ticks_diff(time.ticks_us(), t0)
mv = memoryview(uctypes.bytearray_at(SRC, {size}))
gc.collect()
t0 = time.ticks_us()
h = sha256()
for a in range(0, {size}, 4096):
    h.update(mv[a:a + 4096])
h.digest()
sha_us = time.ticks_diff(time.ticks_us(), t0)
print('RESULT ' + json.dumps({{'install_us': install_us, 'sha_us': sha_us, 'outcome': rep.outcome,
                              'fetched': rep.fetched}}))
'''


def m3(d):
    print("== 3. emulated Cortex-M3 (qemu mps2-an385, -icount shift=0) ==")
    size = 512 * 1024
    work = d / "m3"
    (work / "dev").mkdir(parents=True)
    kit.root(work)
    kit.bundle(work, "v1", f.image(4096, seed=1), version=1, security_counter=1, sequence=1,
               device_class="bench", chunk_size=CHUNK)
    kit.bundle(work, "v2", bytes(range(256)) * (size // 256), version=2, security_counter=1,
               sequence=2, device_class="bench", chunk_size=CHUNK)
    table = next((work / "v2" / "table").iterdir()).name
    names = ["manifest", "table/" + table, "stream/" + table]
    cfg = {"device_class": "bench", "target": "firmware", "bank": "flash",
           "flash": {"ram": 0x20000000, "sector": 4096, "page": 256, "write": 1},
           "slot_size": size + 65536, "table_size": 16384, "chunk_area": 8192,
           "max_attempts": 3, "backoff_ms": 0, "retries": 1, "now": 1800000000, "buffer": 2048}
    board = targets.qemu_m3(icount=targets.ICOUNT_EXACT)
    with board:
        out = board.run(M3.format(names=names, cfg=cfg, size=size), path=[FIRMWARE, work],
                        timeout=1800)
    r = _result(out)
    kib = size / 1024
    per_install = r["install_us"] * 1000 / kib
    per_sha = r["sha_us"] * 1000 / kib
    ratio = per_install / per_sha
    print("install of {} KiB ({} chunks fetched): {:.0f} instructions per KiB".format(
        int(kib), r["fetched"], per_install))
    print("SHA-256 alone: {:.0f} instructions per KiB; install / SHA-256 = {:.2f} "
          "(goal <= 2: {})".format(per_sha, ratio, "met" if ratio <= 2 else "NOT met"))
    return per_install, per_sha


def _nginx_version():
    try:
        p = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
        return (p.stderr or p.stdout).strip().split("/")[-1]
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=4, help="update size, MiB (default 4)")
    ap.add_argument("--buffer", type=int, default=4096, help="device data buffer (default 4096)")
    ap.add_argument("--skip-shaped", action="store_true")
    ap.add_argument("--skip-m3", action="store_true")
    ap.add_argument("--only-m3", action="store_true")
    args = ap.parse_args()
    unix = targets.unix()
    unix.check()
    print("bench-transfer, {} UTC, {} ({}, {} cores)".format(
        time.strftime("%Y-%m-%d %H:%M", time.gmtime()), platform.node(), platform.machine(),
        os.cpu_count()))
    size = args.size * MIB
    with tempfile.TemporaryDirectory(prefix="mpota-bench-transfer-") as tmp:
        d = Path(tmp)
        if args.only_m3:
            m3(d)
            return
        root, www, stream = make_tree(d, size)
        loopback(unix, d, root, www, stream, size, args.buffer)
        if not args.skip_shaped:
            shaped(unix, d, root, www, stream, size, args.buffer)
        if not args.skip_m3:
            m3(d)


if __name__ == "__main__":
    main()
