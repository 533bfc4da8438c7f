# SPDX-License-Identifier: MIT
"""What the dashboard and the operator API show: plain functions of the
database that return dicts and lists (no secret is ever selected)."""

import json

from sqlalchemy import func, select

from . import db as D
from . import models as M

DAY = 86400
OUTCOMES = ("confirmed", "rolled-back", "refused")
# The device columns anyone may see: never the secret.
_d = M.devices.c
PUBLIC = (_d.device_id, _d.device_class, _d.hw_rev, _d.enrolled, _d.last_seen, _d.version,
          _d.sha, _d.trial, _d.reset, _d.dropped, _d.last_kind, _d.last_reason, _d.reports)


def overview(eng, now=None):
    now = D.now() if now is None else now
    d, ev = M.devices.c, M.events.c
    with eng.connect() as conn:
        total = conn.execute(select(func.count()).select_from(M.devices)).scalar()
        seen = conn.execute(select(func.count()).where(d.last_seen >= now - DAY)).scalar()
        trial = conn.execute(select(func.count()).where(d.trial.is_not(None))).scalar()
        versions = [{"version": v, "devices": n} for v, n in conn.execute(
            select(d.version, func.count()).group_by(d.version).order_by(d.version))]
        hour = func.floor(ev.received / 3600)
        trend = {}
        for kind in OUTCOMES:
            for h, n in conn.execute(select(hour, func.count())
                                     .where(ev.kind == kind).where(ev.received >= now - DAY)
                                     .group_by(hour)):
                trend.setdefault(int(h), {})[kind] = n
        rollouts = rollout_list(conn)
    start = int((now - DAY) // 3600) + 1
    series = [{"hour": h * 3600, **{k: trend.get(h, {}).get(k, 0) for k in OUTCOMES}}
              for h in range(start, start + 24)]
    return {"devices": total, "seen_24h": seen, "on_trial": trial, "versions": versions,
            "trend": series, "rollouts": rollouts}


def store_overview(eng, now=None):
    """Count the overview and draw its charts once, for every page view
    until the next monitor pass (kept in settings, shared by processes)."""
    from . import charts

    now = D.now() if now is None else now
    o = overview(eng, now)
    snap = {"o": o, "versions_svg": charts.versions(o["versions"]),
            "trend_svg": charts.trend(o["trend"]), "at": now}
    with eng.begin() as conn:
        D.set_setting(eng, conn, "overview", json.dumps(snap))


def stored_overview(eng, max_age, now=None):
    """The overview the last monitor pass kept, if younger than max_age
    seconds, with the rollouts as they are now; else None."""
    now = D.now() if now is None else now
    with eng.connect() as conn:
        text = D.get_setting(conn, "overview")
        if text is None:
            return None
        snap = json.loads(text)
        if now - snap["at"] > max_age:
            return None
        snap["o"]["rollouts"] = rollout_list(conn)
    return snap


def rollout_list(conn):
    r = M.rollouts.c
    return [{"plan": x.plan_sha, "id": x.plan_id, "version": x.version, "state": x.state,
             "cap_bp": x.cap_bp, "max_bp": x.max_bp, "waves": json.loads(x.waves),
             "halt_reason": x.halt_reason, "first_seen": x.first_seen}
            for x in conn.execute(select(M.rollouts).order_by(r.first_seen.desc()))]


def rollouts(eng):
    with eng.connect() as conn:
        return rollout_list(conn)


def _device(row):
    return dict(row._mapping)


def devices(eng, q="", version=None, offset=0, limit=50):
    """Devices whose id contains q (and that run `version`), by id; one
    more than limit is fetched to tell whether a next page exists."""
    d = M.devices.c
    stmt = select(*PUBLIC).order_by(d.device_id)
    if q:
        stmt = stmt.where(func.instr(d.device_id, q) > 0) if eng.dialect.name == "sqlite" \
            else stmt.where(func.strpos(d.device_id, q) > 0)
    if version is not None:
        stmt = stmt.where(d.version == version)
    with eng.connect() as conn:
        rows = [_device(r) for r in conn.execute(stmt.offset(offset).limit(limit + 1))]
    return rows[:limit], len(rows) > limit


def iter_devices(eng, batch=5000):
    """Every device (public columns), in id order, a batch at a time."""
    d = M.devices.c
    last = ""
    while True:
        with eng.connect() as conn:
            rows = [_device(r) for r in conn.execute(
                select(*PUBLIC).where(d.device_id > last).order_by(d.device_id).limit(batch))]
        if not rows:
            return
        yield from rows
        last = rows[-1]["device_id"]


def device(eng, device_id, limit=50):
    """One device's state, its latest events and reports, or None."""
    d, ev, rp, pr = M.devices.c, M.events.c, M.reports.c, M.progress.c
    with eng.connect() as conn:
        row = conn.execute(select(d.id, *PUBLIC).where(d.device_id == device_id)).first()
        if row is None:
            return None
        info = _device(row)
        pk = info.pop("id")
        info["report_count"] = info.pop("reports")
        info["events"] = [dict(r._mapping) for r in conn.execute(
            select(ev.n, ev.kind, ev.version, ev.reason, ev.t, ev.received)
            .where(ev.device == pk).order_by(ev.id.desc()).limit(limit))]
        info["reports"] = [dict(r._mapping) for r in conn.execute(
            select(rp.seq, rp.received, rp.body).where(rp.device == pk)
            .order_by(rp.id.desc()).limit(limit))]
        info["progress"] = [dict(r._mapping) for r in conn.execute(
            select(pr.version, pr.started, pr.downloaded, pr.trial, pr.confirmed, pr.rolled_back,
                   pr.refused).where(pr.device == pk).order_by(pr.version.desc()))]
    return info


def audit(eng, limit=200, plan_sha=None):
    a = M.audit.c
    stmt = select(a.at, a.actor, a.action, a.plan_sha, a.detail).order_by(a.id.desc()).limit(limit)
    if plan_sha:
        stmt = stmt.where(a.plan_sha == plan_sha)
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def rollbacks(eng, version, limit=50):
    """The latest rollbacks away from `version`: device and when."""
    ev, d = M.events.c, M.devices.c
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(d.device_id, ev.received, ev.reason).select_from(
                M.events.join(M.devices, d.id == ev.device))
            .where(ev.kind == "rolled-back").where(ev.version == version)
            # By time, along the (kind, received) index: ordered by id,
            # a rollout without rollbacks would scan every event.
            .order_by(ev.received.desc()).limit(limit))]
