# SPDX-License-Identifier: MIT
"""Taking one device report (docs/FLEET.md, "Device reports"): check who
sent it and that it is fresh, store it as received, and update the
device's current state and its progress per image version. Plain
functions of (engine, request parts); app.py only passes them through."""

import hmac
import json

from sqlalchemy import bindparam, func, literal_column, select

from . import db as D
from . import models as M
from . import protocol as P

# What the progress table records for each event kind.
_PROGRESS = {"install": "started", "installed": "downloaded", "trial": "trial",
             "confirmed": "confirmed", "rolled-back": "rolled_back"}
_DUMMY_SECRET = bytes(P.SECRET_SIZE)


class Refused(Exception):
    """The report is refused: HTTP status and a short reason."""

    def __init__(self, status, reason):
        Exception.__init__(self, reason)
        self.status = status
        self.reason = reason


def _u32(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= P.MAX_U32


def _short_text(v, n):
    return isinstance(v, str) and len(v) <= n and all(0x20 <= ord(c) <= 0x7E for c in v)


def parse_headers(device_id, seq, tag_hex):
    """(device id, seq, tag bytes) or Refused(400)."""
    if device_id is None or not P.valid_id(device_id):
        raise Refused(400, "device id")
    if seq is None or not (1 <= len(seq) <= 10 and seq.isascii() and seq.isdigit()) \
            or int(seq) > P.MAX_U32 or str(int(seq)) != seq:
        raise Refused(400, "seq")
    if tag_hex is None or len(tag_hex) != 64:
        raise Refused(400, "tag")
    try:
        tag = bytes.fromhex(tag_hex)
    except ValueError:
        raise Refused(400, "tag")
    return device_id, int(seq), tag


def parse_body(body):
    """The report as a dict, every field checked, or Refused(400)."""
    try:
        r = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: nesting past the parser's depth (4 KB of "[").
        raise Refused(400, "json")
    if not isinstance(r, dict) or r.get("v") != 1:
        raise Refused(400, "version")
    run = r.get("run")
    if not isinstance(run, dict) or not _u32(run.get("version")) or not _u32(run.get("trial")) \
            or not _short_text(run.get("sha"), 16) or not _short_text(run.get("reset"), 64):
        raise Refused(400, "run")
    if not _u32(r.get("dropped", 0)):
        raise Refused(400, "dropped")
    events = r.get("events", [])
    if not isinstance(events, list) or len(events) > P.MAX_EVENTS:
        raise Refused(400, "events")
    for e in events:
        if not isinstance(e, dict) or not _u32(e.get("n")) or e.get("k") not in P.KINDS \
                or not _u32(e.get("version")) or not _short_text(e.get("reason", ""), 32) \
                or not _u32(e.get("t", 0)):
            raise Refused(400, "event")
    return r


# Statements built once: a report is a handful of small statements, and
# building them per request would cost more than running them.
_d = M.devices.c
_SELECT = select(_d.id, _d.secret, _d.last_seq).where(_d.device_id == bindparam("b_id"))
# The conditional update is the replay check that holds across processes:
# only one report with this seq can raise last_seq.
_CLAIM = (M.devices.update().where(_d.id == bindparam("b_pk")).where(_d.last_seq < bindparam("b_seq"))
          .values(last_seq=bindparam("b_seq")).returning(_d.last_ack))
_STATE = dict(last_seen=bindparam("b_seen"), version=bindparam("b_version"), sha=bindparam("b_sha"),
              trial=bindparam("b_trial"), reset=bindparam("b_reset"), dropped=bindparam("b_dropped"),
              last_ack=bindparam("b_ack"), reports=_d.reports + literal_column("1"))
_UPDATE = M.devices.update().where(_d.id == bindparam("b_pk")).values(**_STATE)
_UPDATE_LAST = M.devices.update().where(_d.id == bindparam("b_pk")).values(
    last_kind=bindparam("b_kind"), last_reason=bindparam("b_reason"), **_STATE)
_progress = {}


def _progress_stmt(eng, col):
    key = (eng.dialect.name, col)
    if key not in _progress:
        p = M.progress
        stmt = D.upsert(eng, p)
        if col == "refused":
            # A later refusal replaces an earlier reason.
            keep = {"refused": stmt.excluded.refused, "refused_at": stmt.excluded.refused_at}
        else:
            # The first time each step was seen is kept.
            keep = {col: func.coalesce(p.c[col], stmt.excluded[col])}
        _progress[key] = stmt.on_conflict_do_update(index_elements=["device", "version"], set_=keep)
    return _progress[key]


class _Compiled:
    """A statement compiled once for the engine's dialect and run on the
    driver's own cursor: the report path is a handful of small statements,
    and SQLAlchemy's per-execution work would cost more than running them."""

    def __init__(self, eng, stmt, keys=None):
        c = stmt.compile(dialect=eng.dialect, column_keys=keys)
        self.sql = c.string
        self.order = tuple(c.positiontup) if c.positional else None

    def run(self, cur, params):
        cur.execute(self.sql, tuple(params[k] for k in self.order) if self.order else params)
        return cur


_compiled = {}


def _statements(eng):
    name = eng.dialect.name
    if name not in _compiled:
        s = {"select": _Compiled(eng, _SELECT), "claim": _Compiled(eng, _CLAIM),
             "update": _Compiled(eng, _UPDATE), "update_last": _Compiled(eng, _UPDATE_LAST),
             "report": _Compiled(eng, M.reports.insert(), ["device", "received", "seq", "body"]),
             "event": _Compiled(eng, M.events.insert(), ["device", "n", "kind", "version", "reason",
                                                         "t", "received"])}
        for col in ("started", "downloaded", "trial", "confirmed", "rolled_back"):
            s[col] = _Compiled(eng, _progress_stmt(eng, col), ["device", "version", col])
        s["refused"] = _Compiled(eng, _progress_stmt(eng, "refused"),
                                 ["device", "version", "refused", "refused_at"])
        _compiled[name] = s
    return _compiled[name]


def ingest(eng, device_id, seq, tag_hex, body, now=None):
    """Take one report; return the ack (the highest event number stored)
    or raise Refused with the HTTP status the protocol names."""
    if len(body) > P.MAX_BODY:
        raise Refused(413, "too large")
    device_id, seq, tag = parse_headers(device_id, seq, tag_hex)
    now = D.now() if now is None else now
    st = _statements(eng)
    # One connection for the lookup and the writes (a SELECT opens no
    # transaction in SQLite's driver, so the writes start a fresh one).
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        row = st["select"].run(cur, {"b_id": device_id}).fetchone()
        secret = _DUMMY_SECRET if row is None else bytes(row[1])
        # Computed for an unknown device too, and compared in constant time,
        # so neither the answer's timing nor its content tells a tag apart.
        good = hmac.compare_digest(P.tag(secret, device_id, seq, body), tag)
        if row is None or not good:
            raise Refused(401, "unknown device or bad tag")
        if seq <= row[2]:
            raise Refused(409, "replayed seq")
        report = parse_body(body)
        ack = _store(st, cur, row[0], seq, body, report, now)
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return ack


def _store(st, cur, dev, seq, body, report, now):
    got = st["claim"].run(cur, {"b_pk": dev, "b_seq": seq}).fetchone()
    if got is None:
        raise Refused(409, "replayed seq")
    ack = got[0]
    pipeline = getattr(cur.connection, "pipeline", None)  # psycopg 3: PostgreSQL
    if pipeline is None:
        return _write(st, cur, dev, seq, body, report, now, ack)
    # The writes need no answer: sent together, one round trip instead of
    # one per statement.
    with pipeline():
        return _write(st, cur, dev, seq, body, report, now, ack)


def _write(st, cur, dev, seq, body, report, now, ack):
    st["report"].run(cur, {"device": dev, "received": now, "seq": seq,
                           "body": body.decode("utf-8")})
    last = None
    for e in report.get("events", []):
        if ack is not None and e["n"] <= ack:
            continue  # sent again after a lost answer: stored already
        _event(st, cur, dev, e, now)
        ack = e["n"] if ack is None else max(ack, e["n"])
        last = e
    run = report["run"]
    values = {"b_pk": dev, "b_seen": now, "b_version": run["version"], "b_sha": run["sha"],
              "b_trial": run["trial"] or None, "b_reset": run["reset"],
              "b_dropped": report.get("dropped", 0), "b_ack": ack}
    if last is None:
        st["update"].run(cur, values)
    else:
        values.update(b_kind=last["k"], b_reason=last.get("reason", ""))
        st["update_last"].run(cur, values)
    return 0 if ack is None else ack


def _event(st, cur, dev, e, now):
    reason = e.get("reason", "")
    st["event"].run(cur, {"device": dev, "n": e["n"], "kind": e["k"], "version": e["version"],
                          "reason": reason, "t": e.get("t", 0), "received": now})
    col = _PROGRESS.get(e["k"])
    if col is None and e["k"] != "refused":
        return
    params = {"device": dev, "version": e["version"]}
    if col is None:
        params.update(refused=reason or "refused", refused_at=now)
        col = "refused"
    else:
        params[col] = now
    st[col].run(cur, params)
