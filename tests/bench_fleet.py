# SPDX-License-Identifier: MIT
"""`make bench-fleet`: figures of the fleet service, not tests.

For SQLite and then PostgreSQL (a throwaway cluster, as in the tests):
- enroll 100,000 devices (real secrets, `mpota fleet enroll`'s code);
- ingest: a load generator speaking the real report protocol (HMAC tags,
  increasing seq) sends reports from 30,000 of the devices (--reports)
  over HTTP on loopback to `mpota fleet serve`, 32 connections kept
  alive; requests are signed before the clock starts, so the figure is
  the service's;
- dashboard: with 1,000,000 stored reports (bulk-inserted) and a rollout
  over the 100,000 devices, each page is fetched 20 times; p95 over all;
- the service's resident memory (peak).

Prints `bench-fleet: NAME VALUE UNIT` lines."""

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fleetkit as K  # noqa: E402
from mpota_host.fleet import client as C  # noqa: E402
from mpota_host.fleet import db as D  # noqa: E402
from mpota_host.fleet import enroll, rollouts  # noqa: E402
from mpota_host.fleet import models as M  # noqa: E402
from mpota_host.fleet import protocol as P  # noqa: E402

CONNECTIONS = 32


def line(name, value, unit):
    print("bench-fleet: {} {} {}".format(name, value, unit), flush=True)


def requests_for(devs, port):
    """Raw HTTP/1.1 requests, one report per device, signed now."""
    out = []
    for i, d in enumerate(devs):
        d.log("boot", 1)
        d.log("install", 9)
        _, data, h = d.next_report()
        head = "POST {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n".format(
            P.PATH, port, len(data))
        head += "".join("{}: {}\r\n".format(k, v) for k, v in h.items())
        out.append(head.encode() + b"\r\n" + data)
    return out


async def _worker(port, queue, statuses):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while queue:
        req = queue.pop()
        writer.write(req)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        await reader.readexactly(n)
        statuses[status] = statuses.get(status, 0) + 1
    writer.close()


async def _load(port, reqs):
    """port: one service, or a list of them (connections spread evenly,
    as a load balancer in front of several processes would)."""
    ports = port if isinstance(port, list) else [port]
    queue = list(reversed(reqs))
    statuses = {}
    await asyncio.gather(*(_worker(ports[i % len(ports)], queue, statuses)
                           for i in range(CONNECTIONS)))
    return statuses


def start_service(args_db, state, port, repo, key, log):
    cmd = [sys.executable, "-m", "mpota_host.cli", "fleet", "serve", "--listen",
           "127.0.0.1:{}".format(port), "--monitor-interval", "0"] + args_db
    if repo:
        cmd += ["--repo", repo, "--control-key", key]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            urllib.request.urlopen("http://127.0.0.1:{}/healthz".format(port), timeout=2).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("bench-fleet: the service did not start (log: {})".format(log.name))
            time.sleep(0.1)
    raise SystemExit("bench-fleet: the service did not answer")


def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    with open("/proc/{}/stat".format(pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open("/proc/{}/status".format(pid)) as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    return 0


def bulk_reports(eng, n, devices, now):
    """n stored reports (and one event each) spread over the devices and
    the last 10 days, inserted directly."""
    body = C.body(1, events=[(1, "boot", 1, "")]).decode()
    kinds = ["boot"] * 6 + ["install", "installed", "trial", "confirmed"]
    rng = random.Random(1)
    batch = 50000
    for start in range(0, n, batch):
        rows, evs = [], []
        for i in range(start, min(n, start + batch)):
            dev = 1 + (i % devices)
            at = now - rng.random() * 10 * 86400
            rows.append((dev, at, 1000 + i // devices, body))
            evs.append((dev, 100 + i // devices, kinds[i % len(kinds)], 1, "", 0, at))
        if eng.dialect.name == "postgresql":
            raw = eng.raw_connection()
            try:
                cur = raw.driver_connection.cursor()
                with cur.copy("COPY reports (device, received, seq, body) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
                with cur.copy("COPY events (device, n, kind, version, reason, t, received) "
                              "FROM STDIN") as cp:
                    for r in evs:
                        cp.write_row(r)
                raw.commit()
            finally:
                raw.close()
        else:
            with eng.begin() as conn:
                conn.exec_driver_sql("INSERT INTO reports (device, received, seq, body) "
                                     "VALUES (?, ?, ?, ?)", rows)
                conn.exec_driver_sql("INSERT INTO events (device, n, kind, version, reason, t, "
                                     "received) VALUES (?, ?, ?, ?, ?, ?, ?)", evs)


def login(base):
    import http.cookiejar
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrftoken" value="([^"]+)"', page).group(1)
    form = "name=bench&password=bench-password&next=/&csrftoken={}".format(
        urllib.parse.quote(token)).encode()
    opener.open(base + "/login", data=form).read()
    return opener


def dashboard(base, sha, ids):
    opener = login(base)
    pages = ["/", "/devices", "/devices?q=dev-0999", "/devices?version=1&page=3",
             "/devices/" + ids[len(ids) // 2], "/rollouts/" + sha, "/audit", "/api/v1/overview",
             "/api/v1/rollouts/" + sha, "/api/v1/devices?q=77"]
    times = {}
    for p in pages:
        opener.open(base + p).read()  # warm
        for _ in range(20):
            t = time.perf_counter()
            opener.open(base + p).read()
            times.setdefault(p, []).append((time.perf_counter() - t) * 1000)
    every = sorted(x for v in times.values() for x in v)
    worst = max(times, key=lambda p: statistics.quantiles(times[p], n=20)[18])
    return every[int(len(every) * 0.95) - 1], worst, statistics.quantiles(times[worst], n=20)[18]


def run_backend(kind, work, devices, reports_total, pg, workers=1):
    print("bench-fleet: -- {} --".format(kind), flush=True)
    state = work / kind
    state.mkdir()
    if kind == "sqlite":
        db_args = ["--state", str(state)]
        url = D.url_for(None, str(state))
    else:
        dburl = pg.new_database()
        db_args = ["--db", dburl]
        url = D.url_for(dburl, None)
    eng = D.engine_for(url)
    D.migrate(eng)
    ids = ["dev-{:06d}".format(i) for i in range(devices)]
    t = time.perf_counter()
    enroll.enroll(eng, ids, str(state / "secrets"), "esp32")
    line("enroll {}".format(kind), round(devices / (time.perf_counter() - t)), "devices/s")
    from mpota_host.fleet import users
    users.add(eng, "bench", "bench-password")
    devs = [C.Device.from_file(str(state / "secrets" / (i + ".key"))) for i in ids]
    port = K._free_port()
    log = open(work / "serve-{}.log".format(kind), "w")
    proc = start_service(db_args, state, port, None, None, log)
    try:
        sample = random.Random(3).sample(devs, min(reports_total, len(devs)))
        reqs = requests_for(sample, port)
        cpu0 = cpu_s(proc.pid)
        t = time.perf_counter()
        statuses = asyncio.run(_load(port, reqs))
        dt = time.perf_counter() - t
        cpu = cpu_s(proc.pid) - cpu0
        if statuses != {200: len(reqs)}:
            raise SystemExit("bench-fleet: answers {}".format(statuses))
        line("ingest {}".format(kind), round(len(reqs) / dt), "reports/s")
        # The service's own CPU time per report: what a core of its own
        # would take, whatever else the machine runs meanwhile.
        line("ingest-cpu {}".format(kind), round(cpu * 1000 / len(reqs), 3), "ms/report")
        line("ingest-per-service-core {}".format(kind), round(len(reqs) / cpu), "reports/s")
    finally:
        proc.terminate()
        proc.wait()
    if workers > 1:
        # The stateless service scaled out: several processes on one
        # database, the connections spread over them (here on the same two
        # cores as the load generator and the database).
        ports = [K._free_port() for _ in range(workers)]
        procs = [start_service(db_args, state, p, None, None, log) for p in ports]
        try:
            reqs = []
            for i, d in enumerate(sample):
                reqs += requests_for([d], ports[i % workers])  # next sequence numbers
            t = time.perf_counter()
            statuses = asyncio.run(_load(ports, reqs))
            dt = time.perf_counter() - t
            if statuses != {200: len(reqs)}:
                raise SystemExit("bench-fleet: answers {}".format(statuses))
            line("ingest {} {}-processes".format(kind, workers), round(len(reqs) / dt),
                 "reports/s")
        finally:
            for pr in procs:
                pr.terminate()
                pr.wait()
    # The dashboard with a million stored reports and a rollout over all.
    t = time.perf_counter()
    bulk_reports(eng, 1000000 - reports_total, devices, time.time())
    line("bulk-insert {}".format(kind), round(time.perf_counter() - t, 1), "s")
    pub = K.Published(work / ("repo-" + kind), canary=ids[:20])
    rollouts.sync(eng, pub.path)
    with eng.begin() as conn:
        rng = random.Random(2)
        rows = [dict(device=i, version=2, started=time.time() - 3600,
                     confirmed=time.time() if rng.random() < 0.9 else None)
                for i in rng.sample(range(1, devices + 1), devices // 4)]
        for k in range(0, len(rows), 10000):
            conn.execute(M.progress.insert(), rows[k:k + 10000])
    if kind == "postgresql":
        with eng.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with eng.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    # One monitor pass, as `mpota fleet monitor` runs them beside the web
    # processes: it counts the rollout the page then shows.
    t = time.perf_counter()
    rollouts.run_once(eng, pub.path, rollouts.Publisher(pub.path, str(pub.control_key)))
    line("monitor-pass {}".format(kind), round((time.perf_counter() - t) * 1000), "ms")
    proc = start_service(db_args, state, port, pub.path, str(pub.control_key), log)
    try:
        p95, worst, worst_p95 = dashboard("http://127.0.0.1:{}".format(port), pub.sha, ids)
        line("dashboard p95 {}".format(kind), round(p95), "ms")
        line("dashboard slowest-page p95 {} {}".format(kind, worst.split("?")[0][:24]),
             round(worst_p95), "ms")
        line("rss {}".format(kind), round(rss_kb(proc.pid) / 1024), "MiB")
    finally:
        eng.dispose()
        proc.terminate()
        proc.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100000)
    ap.add_argument("--reports", type=int, default=30000,
                    help="reports sent in the ingest run, each from another device (default 30000)")
    ap.add_argument("--backend", choices=K.BACKENDS, action="append")
    ap.add_argument("--workers", type=int, default=2,
                    help="also measure ingest with this many service processes (default 2; "
                         "1: one process only)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mpota-bench-fleet-"))
    pg = K.Postgres()
    try:
        for kind in args.backend or K.BACKENDS:
            run_backend(kind, work, args.devices, args.reports, pg, args.workers)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    line("machine", "{}-cores-load-{:.1f}".format(os.cpu_count(), os.getloadavg()[0]),
         time.strftime("%Y-%m-%d"))


if __name__ == "__main__":
    main()
