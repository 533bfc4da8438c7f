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
_PROGRESS_COLUMNS = ("started", "downloaded", "trial", "confirmed", "rolled_back")
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

    def _args(self, params):
        return tuple(params[k] for k in self.order) if self.order else params

    def run(self, cur, params):
        cur.execute(self.sql, self._args(params))
        return cur

    def run_many(self, cur, params_list):
        if params_list:
            cur.executemany(self.sql, [self._args(p) for p in params_list])

    def first_rows(self, raw, params_list):
        """The first row (or None) of the statement run once per params.
        On PostgreSQL they go out together, one round trip for all."""
        conn = raw.driver_connection
        pipeline = getattr(conn, "pipeline", None)  # psycopg 3: PostgreSQL
        if pipeline is None:
            cur = raw.cursor()
            return [self.run(cur, p).fetchone() for p in params_list]
        with pipeline():
            cursors = [self.run(conn.cursor(), p) for p in params_list]
        return [c.fetchone() for c in cursors]


_compiled = {}


def _statements(eng):
    name = eng.dialect.name
    if name not in _compiled:
        s = {"select": _Compiled(eng, _SELECT), "claim": _Compiled(eng, _CLAIM),
             "update": _Compiled(eng, _UPDATE), "update_last": _Compiled(eng, _UPDATE_LAST),
             "report": _Compiled(eng, M.reports.insert(), ["device", "received", "seq", "body"]),
             "event": _Compiled(eng, M.events.insert(), ["device", "n", "kind", "version", "reason",
                                                         "t", "received"])}
        for col in _PROGRESS_COLUMNS:
            s[col] = _Compiled(eng, _progress_stmt(eng, col), ["device", "version", col])
        s["refused"] = _Compiled(eng, _progress_stmt(eng, "refused"),
                                 ["device", "version", "refused", "refused_at"])
        _compiled[name] = s
    return _compiled[name]


def ingest(eng, device_id, seq, tag_hex, body, now=None):
    """Take one report; return the ack (the highest event number stored)
    or raise Refused with the HTTP status the protocol names."""
    got = ingest_many(eng, [(device_id, seq, tag_hex, body)], now)[0]
    if isinstance(got, Refused):
        raise got
    return got


def ingest_many(eng, items, now=None):
    """Take several reports [(device id, seq, tag hex, body)] together and
    return, for each, its ack or the Refused that answers it. Each report
    is judged exactly as if it came alone; together they cost one
    transaction and a few round trips instead of a few each (the service
    batches the reports that arrive while the previous batch is written)."""
    now = D.now() if now is None else now
    out = [None] * len(items)
    checked = []
    for i, (device_id, seq, tag_hex, body) in enumerate(items):
        try:
            if len(body) > P.MAX_BODY:
                raise Refused(413, "too large")
            checked.append((i,) + parse_headers(device_id, seq, tag_hex) + (body,))
        except Refused as e:
            out[i] = e
    st = _statements(eng)
    while checked:
        # One report per device in a transaction: a second one is judged
        # against the seq the first leaves behind, in the next round.
        this, later, ids = [], [], set()
        for c in checked:
            (later if c[1] in ids else this).append(c)
            ids.add(c[1])
        _round(eng, st, this, out, now)
        checked = later
    return out


def _round(eng, st, items, out, now):
    raw = eng.raw_connection()
    try:
        rows = st["select"].first_rows(raw, [{"b_id": c[1]} for c in items])
        accepted = []
        for (i, device_id, seq, tag, body), row in zip(items, rows):
            try:
                judged = _judge(device_id, seq, tag, body, row)
                accepted.append((row[0], i, seq, judged))
            except Refused as e:
                out[i] = e
        # Rows locked in one order by every process: two batches never
        # wait for each other in a circle.
        accepted.sort(key=lambda a: a[0])
        claims = st["claim"].first_rows(raw, [{"b_pk": a[0], "b_seq": a[2]} for a in accepted])
        writes = _Writes(now)
        for (dev, i, seq, (body, report)), got in zip(accepted, claims):
            if got is None:
                # Another process took this seq since the lookup.
                out[i] = Refused(409, "replayed seq")
            else:
                out[i] = writes.add(dev, seq, body, report, got[0])
        writes.run(st, raw)
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


def _judge(device_id, seq, tag, body, row):
    """(body, parsed report) of a report its device sent, or Refused."""
    secret = _DUMMY_SECRET if row is None else bytes(row[1])
    # Computed for an unknown device too, and compared in constant time,
    # so neither the answer's timing nor its content tells a tag apart.
    good = hmac.compare_digest(P.tag(secret, device_id, seq, body), tag)
    if row is None or not good:
        raise Refused(401, "unknown device or bad tag")
    if seq <= row[2]:
        raise Refused(409, "replayed seq")
    return body, parse_body(body)


class _Writes:
    """The rows a round of reports adds, gathered per statement so each
    statement runs once for all of them."""

    def __init__(self, now):
        self.now = now
        self.rows = {}

    def _put(self, name, params):
        self.rows.setdefault(name, []).append(params)

    def add(self, dev, seq, body, report, ack):
        """Gather one claimed report; return its ack."""
        now = self.now
        self._put("report", {"device": dev, "received": now, "seq": seq,
                             "body": body.decode("utf-8")})
        last = None
        for e in report.get("events", []):
            if ack is not None and e["n"] <= ack:
                continue  # sent again after a lost answer: stored already
            self._event(dev, e)
            ack = e["n"] if ack is None else max(ack, e["n"])
            last = e
        run = report["run"]
        values = {"b_pk": dev, "b_seen": now, "b_version": run["version"], "b_sha": run["sha"],
                  "b_trial": run["trial"] or None, "b_reset": run["reset"],
                  "b_dropped": report.get("dropped", 0), "b_ack": ack}
        if last is None:
            self._put("update", values)
        else:
            values.update(b_kind=last["k"], b_reason=last.get("reason", ""))
            self._put("update_last", values)
        return 0 if ack is None else ack

    def _event(self, dev, e):
        reason = e.get("reason", "")
        self._put("event", {"device": dev, "n": e["n"], "kind": e["k"], "version": e["version"],
                            "reason": reason, "t": e.get("t", 0), "received": self.now})
        col = _PROGRESS.get(e["k"])
        if col is None and e["k"] != "refused":
            return
        params = {"device": dev, "version": e["version"]}
        if col is None:
            params.update(refused=reason or "refused", refused_at=self.now)
            col = "refused"
        else:
            params[col] = self.now
        self._put(col, params)

    def run(self, st, raw):
        cur = raw.cursor()
        # Progress columns in a fixed order; "refused" last, so a later
        # refusal in a report replaces an earlier one as it would alone.
        for name in ("report", "event") + _PROGRESS_COLUMNS + ("refused", "update", "update_last"):
            st[name].run_many(cur, self.rows.get(name, []))
