# SPDX-License-Identifier: MIT
"""Rollouts as the fleet sees them: read the published repository (the
control document, plans/, canary/, bundles/), know who is in which wave,
count each wave's progress from the reports, halt by the rules
(monitor.decide) and act on an operator's command. Every action goes into
the audit table."""

import json
import os
import subprocess
import sys
import time

from sqlalchemy import and_, case, func, select

from mpota.bundle import format as F
from mpota.bundle.error import BundleError

from ..errors import CommandError
from . import db as D
from . import models as M
from . import monitor
from . import protocol as P

from mpota.rollout.cohort import bucket  # the devices' own (ROLLOUT.md, "Cohorts")

STATES = {F.STATE_RUN: "run", F.STATE_PAUSE: "pause", F.STATE_HALT: "halt"}
ACTIONS = ("pause", "resume", "halt", "cap")


# Reading the repository ----------------------------------------------------

def _read(path, limit=F.MAX_DOC + 1):
    with open(path, "rb") as f:
        return f.read(limit)


def read_repo(repo):
    """(control or None, {plan sha: (plan, manifest version, canary ids)})
    of the published repository; the service reads what devices read, and
    the device's parsers parse it."""
    from mpota.bundle import rollout as R

    ctl = None
    path = os.path.join(repo, "control")
    if os.path.exists(path):
        doc = _read(path)
        ctl = R.control(doc, F.frame(doc, F.DOC_CONTROL))
    plans = {}
    for e in (ctl.entries if ctl else ()):
        sha = bytes(e.plan_sha).hex()
        try:
            doc = _read(os.path.join(repo, "plans", sha))
            p = R.plan(doc, F.frame(doc, F.DOC_PLAN))
            mdoc = _read(os.path.join(repo, "bundles", bytes(p.manifest_sha).hex(), "manifest"))
            version = F.manifest(mdoc, F.frame(mdoc, F.DOC_MANIFEST)).version
            ids = []
            for h in p.canary:
                ids += _read(os.path.join(repo, "canary", bytes(h).hex()),
                             F.MAX_SHARD).decode("ascii").split()
        except (OSError, BundleError, UnicodeDecodeError):
            continue  # not (yet) published whole: devices cannot follow it either
        plans[sha] = (p, version, ids)
    return ctl, plans


def sync(eng, repo, now=None):
    """Bring the rollouts table in line with the repository; new rollouts
    get their members. Returns the plan shas in the control document."""
    now = D.now() if now is None else now
    ctl, plans = read_repo(repo)
    r = M.rollouts.c
    entries = {bytes(e.plan_sha).hex(): e for e in (ctl.entries if ctl else ())}
    with eng.begin() as conn:
        known = {row.plan_sha: row for row in conn.execute(select(M.rollouts))}
        for sha, (p, version, canary) in plans.items():
            e = entries[sha]
            values = dict(state=STATES[e.state], cap_bp=e.cap_bp, poll_s=e.poll_s,
                          control_version=ctl.version)
            if sha in known:
                old = known[sha]
                if (old.state, old.cap_bp, old.poll_s, old.control_version) != tuple(values.values()):
                    conn.execute(M.rollouts.update().where(r.plan_sha == sha).values(**values))
                continue
            conn.execute(M.rollouts.insert().values(
                plan_sha=sha, plan_id=p.id, version=version,
                manifest_sha=bytes(p.manifest_sha).hex(), device_class=p.device_class,
                hw_revs=json.dumps(list(p.hw_revs)), waves=json.dumps([list(w) for w in p.waves]),
                max_bp=p.max_bp, canary=json.dumps(canary), first_seen=now, **values))
            audit(conn, "repository", "found", sha, "plan {} (version {}) in the control document, "
                  "state {}".format(p.id, version, values["state"]), now)
        for sha, old in known.items():
            if sha not in entries and old.state != "absent":
                conn.execute(M.rollouts.update().where(r.plan_sha == sha).values(state="absent"))
    refresh_members(eng)
    return list(entries)


def refresh_members(eng):
    """Give every rollout the selected devices it does not list yet."""
    d = M.devices.c
    with eng.begin() as conn:
        for ro in conn.execute(select(M.rollouts)).all():
            have = select(M.members.c.device).where(M.members.c.plan_sha == ro.plan_sha)
            q = select(d.id, d.device_id).where(d.device_class == ro.device_class) \
                .where(d.id.not_in(have))
            hw = json.loads(ro.hw_revs)
            if hw:
                q = q.where(d.hw_rev.in_(hw))
            canary = set(json.loads(ro.canary))
            rows = [dict(plan_sha=ro.plan_sha, device=i, bucket=bucket(ro.plan_id, did),
                         canary=did in canary) for i, did in conn.execute(q)]
            for i in range(0, len(rows), 2000):
                conn.execute(M.members.insert(), rows[i:i + 2000])


# Counting ------------------------------------------------------------------

def rules_for(conn, ro):
    base = json.loads(D.get_setting(conn, "rules", "{}"))
    base.update(json.loads(ro.rules or "{}"))
    return monitor.check_rules(base)


def open_share(waves, now):
    share = -1
    for bp, at in waves:
        if at <= now:
            share = bp
    return share


def figures(eng, plan_sha, now=None):
    """Everything the dashboard and the halt rules know of one rollout."""
    now = D.now() if now is None else now
    with eng.connect() as conn:
        ro = conn.execute(select(M.rollouts).where(M.rollouts.c.plan_sha == plan_sha)).first()
        if ro is None:
            return None
        rules = rules_for(conn, ro)
        waves = [tuple(w) for w in json.loads(ro.waves)]
        share = open_share(waves, now)
        allowed = min(share, ro.max_bp, ro.cap_bp)
        m, p = M.members.c, M.progress.c
        whens = [(m.canary == True, -1)]  # noqa: E712 (SQL expression)
        last = 0
        for i, (bp, _) in enumerate(waves):
            if bp > last:
                whens.append((m.bucket < bp, i))
            last = max(last, bp)
        wave = case(*whens, else_=len(waves))
        silent_at = now - monitor.silent_after(rules, ro.poll_s)
        open_ = and_(p.confirmed.is_(None), p.rolled_back.is_(None), p.refused.is_(None))
        first_open = waves[0][1] <= now and ro.cap_bp > 0

        def n(cond):
            return func.sum(case((cond, 1), else_=0))

        q = select(wave.label("wave"), func.count().label("selected"),
                   n(m.bucket < allowed).label("inside"),
                   func.count(p.started).label("started"),
                   func.count(p.downloaded).label("downloaded"),
                   n(and_(p.trial.is_not(None), open_)).label("on_trial"),
                   func.count(p.confirmed).label("confirmed"),
                   func.count(p.rolled_back).label("rolled_back"),
                   n(and_(p.refused.is_not(None), p.confirmed.is_(None))).label("refused"),
                   n(and_(p.started.is_not(None), open_, p.started < silent_at)).label("silent")) \
            .select_from(M.members.outerjoin(M.progress, and_(p.device == m.device,
                                                               p.version == ro.version))) \
            .where(m.plan_sha == plan_sha).group_by(wave)
        rows = {r.wave: r for r in conn.execute(q)}
        ev = M.events.c
        reasons = dict(conn.execute(
            select(ev.reason, func.count(func.distinct(ev.device)))
            .select_from(M.events.join(M.members, and_(m.device == ev.device,
                                                       m.plan_sha == plan_sha)))
            .where(ev.kind == "refused").where(ev.received >= ro.first_seen)
            .where(ev.version.in_((ro.version, 0))).group_by(ev.reason)).all())
    out = []
    names = [("canary", -1)] + [("{:g}%".format(bp / 100.0), i) for i, (bp, _) in enumerate(waves)]
    for name, i in names:
        r = rows.get(i)
        if r is None and i == -1:
            continue
        opened = first_open if i == -1 else waves[i][1] <= now
        w = {"name": name, "canary": i == -1 or (i == 0 and -1 not in rows),
             "share_bp": None if i == -1 else waves[i][0],
             "opens": None if i == -1 else waves[i][1], "open": opened}
        for k in ("selected", "inside", "started", "downloaded", "on_trial", "confirmed",
                  "rolled_back", "refused", "silent"):
            w[k] = int(getattr(r, k) or 0) if r is not None else 0
        if i == -1:
            w["inside"] = w["selected"] if first_open else 0
        elif not opened:
            w["inside"] = 0
        w["failures"] = w["rolled_back"] + w["refused"] + w["silent"]
        w["ran"] = w["confirmed"] + w["failures"]
        out.append(w)
    security = {k: v for k, v in reasons.items() if k in P.SECURITY_REASONS}
    return {"plan": plan_sha, "id": ro.plan_id, "version": ro.version, "state": ro.state,
            "cap_bp": ro.cap_bp, "max_bp": ro.max_bp, "allowed_bp": max(allowed, 0),
            "poll_s": ro.poll_s, "halt_reason": ro.halt_reason, "rules": rules,
            "waves": out, "reasons": reasons, "security": security,
            "beyond": int(getattr(rows.get(len(waves)), "selected", 0) or 0)}


# Acting --------------------------------------------------------------------

def audit(conn, actor, action, plan_sha, detail, now=None):
    conn.execute(M.audit.insert().values(at=D.now() if now is None else now, actor=actor,
                                         action=action, plan_sha=plan_sha, detail=detail))


class Publisher:
    """Signs and publishes a new control document into REPO with the
    control key, through the rollout tools' library (`mpota control`)."""

    def __init__(self, repo, control_key, ledger=None):
        self.repo = repo
        self.control_key = control_key
        self.ledger = ledger  # the release ledger (docs/LEDGER.md), or None

    def apply(self, plan_sha, action, cap_bp=None, actor="service"):
        if not self.control_key:
            raise CommandError("the service has no control key (--control-key): it cannot "
                               "sign a control document")
        try:
            from ..rollout import control
        except ImportError:
            return self._cli(plan_sha, action, cap_bp)
        signer = control.load_signer(self.control_key)
        written = control.update(self.repo, plan_sha, action, [signer], cap_bp=cap_bp)
        if self.ledger:
            from .. import auditcmd, keys, ledger
            with open(written.path, "rb") as f:
                sha = auditcmd.sha256_hex(f.read())
            ledger.append(self.ledger, time.time(), "{} (mpota fleet)".format(actor),
                          "control-" + action, {"control": sha, "version": written.version,
                                                "for_plan": plan_sha},
                          [keys.key_id_hex(signer.public)], signer)

    def _cli(self, plan_sha, action, cap_bp):
        cmd = [sys.executable, "-m", "mpota_host.cli", "control", action, plan_sha,
               "--repo", self.repo, "-k", self.control_key]
        if cap_bp is not None:
            cmd += ["--percent", "{:g}".format(cap_bp / 100.0)]
        got = subprocess.run(cmd, capture_output=True, text=True)
        if got.returncode:
            raise CommandError(got.stderr.strip().replace("mpota: ", "", 1) or "mpota control failed")


def act(eng, publisher, plan_sha, action, actor, cap_bp=None, reason="", now=None):
    """An operator's (or the monitor's) action on a rollout: publish the
    control document, then record it. Raises CommandError if refused."""
    if action not in ACTIONS:
        raise CommandError("unknown action {!r}".format(action))
    if action == "cap" and (not isinstance(cap_bp, int) or isinstance(cap_bp, bool)
                            or not 0 <= cap_bp <= F.BASIS):
        raise CommandError("cap: a share from 0 to 100 %")
    with eng.connect() as conn:
        ro = conn.execute(select(M.rollouts).where(M.rollouts.c.plan_sha == plan_sha)).first()
    if ro is None:
        raise CommandError("no rollout {}".format(plan_sha[:16]))
    publisher.apply(plan_sha, action, cap_bp, actor)
    state = {"pause": "pause", "resume": "run", "halt": "halt"}.get(action, ro.state)
    detail = reason or (action if action != "cap" else "cap {:g}%".format(cap_bp / 100.0))
    with eng.begin() as conn:
        values = {"state": state}
        if action == "cap":
            values["cap_bp"] = cap_bp
        if action == "halt":
            values["halt_reason"] = detail
        conn.execute(M.rollouts.update().where(M.rollouts.c.plan_sha == plan_sha).values(**values))
        audit(conn, actor, action, plan_sha, detail, now)


def set_rules(eng, actor, rules, plan_sha=None):
    """Change the halt rules, service-wide or for one rollout."""
    checked = monitor.check_rules(rules)
    changed = {k: checked[k] for k in rules}
    with eng.begin() as conn:
        if plan_sha is None:
            D.set_setting(eng, conn, "rules", json.dumps(changed))
        else:
            conn.execute(M.rollouts.update().where(M.rollouts.c.plan_sha == plan_sha)
                         .values(rules=json.dumps(changed)))
        audit(conn, actor, "rules", plan_sha, json.dumps(changed, sort_keys=True))
    return checked


def snapshot(eng, plan_sha):
    """The rollout's figures as the last monitor pass counted them (with
    its state, cap and halt reason as they are now), or counted now if no
    pass has yet. None if there is no such rollout."""
    with eng.connect() as conn:
        ro = conn.execute(select(M.rollouts).where(M.rollouts.c.plan_sha == plan_sha)).first()
    if ro is None:
        return None
    if ro.figures is None:
        f = figures(eng, plan_sha)
        f["as_of"] = D.now()
        return f
    f = json.loads(ro.figures)
    f.update(state=ro.state, cap_bp=ro.cap_bp, halt_reason=ro.halt_reason, as_of=ro.figures_at)
    return f


def run_once(eng, repo, publisher, now=None):
    """One pass of the monitor: read the repository, count every rollout
    (kept for the dashboard), judge each running or paused one, halt those
    the rules say to. Returns [(sha, reason)]."""
    now = D.now() if now is None else now
    sync(eng, repo, now)
    with eng.connect() as conn:
        rows = conn.execute(select(M.rollouts.c.plan_sha, M.rollouts.c.state)
                            .where(M.rollouts.c.state != "absent")).all()
    halted = []
    for sha, state in rows:
        f = figures(eng, sha, now)
        with eng.begin() as conn:
            conn.execute(M.rollouts.update().where(M.rollouts.c.plan_sha == sha)
                         .values(figures=json.dumps(f), figures_at=now))
        if state not in ("run", "pause"):
            continue
        reason = monitor.decide(f, f["rules"])
        if reason is None:
            continue
        try:
            act(eng, publisher, sha, "halt", "monitor", reason=reason, now=now)
        except CommandError as e:
            detail = "{}: {}".format(reason, e)
            a = M.audit.c
            with eng.begin() as conn:
                last = conn.execute(select(a.action, a.detail).where(a.plan_sha == sha)
                                    .order_by(a.id.desc()).limit(1)).first()
                # Once per cause, not once per pass: the trail stays readable.
                if tuple(last or ()) != ("halt-failed", detail):
                    audit(conn, "monitor", "halt-failed", sha, detail, now)
            continue
        halted.append((sha, reason))
    from . import queries
    queries.store_overview(eng, now)
    return halted
