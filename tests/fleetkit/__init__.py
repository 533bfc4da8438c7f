# SPDX-License-Identifier: MIT
"""Shared parts of the fleet service tests: a throwaway PostgreSQL
cluster (Debian's server, run as the postgres user on a loopback port in
a temporary directory), migrated databases on it or on SQLite, a
published repository with a plan and its control document, and enrolled
devices with their secrets."""

import atexit
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from bundles import factory
from mpota_host.fleet import client as C
from mpota_host.fleet import db as D
from mpota_host.fleet import enroll
from rollouts import docs

BACKENDS = ("sqlite", "postgresql")
_names = itertools.count(1)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """One cluster for the whole test session, stopped at exit."""

    def __init__(self):
        self.url = None
        self.dir = None

    def _as_postgres(self, *cmd):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120)

    def start(self):
        if self.url:
            return self.url
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed: `make setup` installs Debian's "
                               "postgresql")
        bindir = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="mpota-pg-")
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: the cluster belongs to postgres.
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = os.path.join(self.dir, "data")
        got = self._as_postgres(os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres",
                                "-A", "trust", "--no-sync", "-E", "UTF8")
        if got.returncode:
            raise RuntimeError("initdb failed: " + got.stderr[-2000:])
        port = _free_port()
        got = self._as_postgres(
            os.path.join(bindir, "pg_ctl"), "-D", data, "-l", os.path.join(self.dir, "log"), "-w",
            "-o", "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off".format(port, self.dir),
            "start")
        if got.returncode:
            raise RuntimeError("pg_ctl start failed: " + got.stderr[-2000:] +
                               Path(self.dir, "log").read_text()[-2000:])
        self.bindir, self.data = bindir, data
        self.url = "postgresql://postgres@127.0.0.1:{}/".format(port)
        atexit.register(self.stop)
        return self.url

    def new_database(self, template=None):
        import psycopg
        name = "fleet_test_{}_{}".format(os.getpid(), next(_names))
        with psycopg.connect(self.start() + "postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE {}{}".format(
                name, " TEMPLATE {}".format(template) if template else ""))
        return self.url + name

    def stop(self):
        if self.url:
            self._as_postgres(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m",
                              "immediate", "-w", "stop")
            self.url = None
            shutil.rmtree(self.dir, ignore_errors=True)


PG = Postgres()


_templates = {}


def _template(kind):
    """A database migrated once per session, copied for each test (a
    migration run per test would cost more than the test)."""
    if kind not in _templates:
        if kind == "sqlite":
            state = tempfile.mkdtemp(prefix="mpota-fleet-template-")
            atexit.register(shutil.rmtree, state, True)
            eng = D.engine_for(D.url_for(None, state))
            D.migrate(eng)
            with eng.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            eng.dispose()
            _templates[kind] = os.path.join(state, "fleet.db")
        else:
            url = PG.new_database()
            eng = D.engine_for(D.url_for(url, None))
            D.migrate(eng)
            eng.dispose()
            _templates[kind] = url.rsplit("/", 1)[1]
    return _templates[kind]


def database(kind, tmp):
    """A migrated engine, on a fresh database of the given kind."""
    template = _template(kind)
    if kind == "sqlite":
        state = Path(tmp) / "fleet-state"
        state.mkdir(exist_ok=True)
        shutil.copyfile(template, state / "fleet.db")
        eng = D.engine_for(D.url_for(None, str(state)))
    else:
        # One migrated database, emptied for each test: quicker than a new
        # database per test on a busy machine.
        eng = D.engine_for(D.url_for(PG.url + template, None))
        from mpota_host.fleet import models as M
        names = ", ".join(t.name for t in M.metadata.sorted_tables if t.name != "settings")
        with eng.begin() as conn:
            # Past the append-only trigger on reports (migration 0003).
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql("TRUNCATE {} RESTART IDENTITY CASCADE".format(names))
            conn.exec_driver_sql("DELETE FROM settings WHERE key <> 'session_key'")
    D.migrate(eng)
    return eng


def cheap_passwords():
    """Argon2 at its smallest cost, for tests that log in many times (the
    service's own default stays argon2-cffi's)."""
    from argon2 import PasswordHasher
    from mpota_host.fleet import users
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def devices(eng, tmp, n, prefix="dev-", device_class="esp32", hw_rev=""):
    """Enroll n devices; return {id: client Device}."""
    ids = ["{}{:05d}".format(prefix, i) for i in range(n)]
    out = Path(tmp) / ("secrets-" + prefix)
    enroll.enroll(eng, ids, str(out), device_class, hw_rev)
    return {i: C.Device.from_file(str(out / (i + ".key"))) for i in ids}


class Published:
    """A published repository with one bundle of `version` under a plan."""

    def __init__(self, tmp, version=2, plan_id="fw-2", waves=((500, 0), (2500, 0), (10000, 0)),
                 canary=(), cap=None, poll=3600, state=1):
        tmp = Path(tmp)
        self.repo = docs.Repo(tmp / "repo")
        self.repo.root(1, docs.root(issued=docs.NOW - docs.DAY))
        b = factory.bundle(tmp / "b{}".format(version), factory.image(3000, version),
                           [docs.A], version=version, security_counter=version, sequence=version)
        msha = self.repo.bundle(b)
        shards = [self.repo.shard(docs.shard(sorted(canary)))] if canary else []
        self.plan = self.repo.plan(docs.plan(msha, plan_id, waves=waves, canary=shards))
        self.sha = docs.sha(self.plan).hex()
        self.repo.control(docs.control([(self.plan, state, 10000 if cap is None else cap, poll)]))
        self.control_key, _ = docs.C.write(tmp, "control")
        self.path = str(self.repo.path)


def report(eng, dev, *events, version=None):
    """Log events [(kind, version, reason)] on dev and send one report
    through the service's own function; return the ack."""
    from mpota_host.fleet import reports
    for e in events:
        dev.log(*e)
    if version is not None:
        dev.version = version
    seq, data, h = dev.next_report()
    ack = reports.ingest(eng, h["X-Mpota-Device"], h["X-Mpota-Seq"], h["X-Mpota-Tag"], data)
    dev.acked(ack)
    return ack
