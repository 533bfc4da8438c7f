# SPDX-License-Identifier: MIT
"""The fleet service's logic, called directly (reports, rollouts, the
monitor), on SQLite and on PostgreSQL alike (docs/FLEET.md)."""

import hashlib
import json
import time

import pytest
from sqlalchemy import func, select, text

import fleetkit as K
from mpota.bundle import format as F
from mpota.rollout.cohort import bucket
from mpota_host.fleet import client as C
from mpota_host.fleet import db as D
from mpota_host.fleet import models as M
from mpota_host.fleet import queries, rollouts
from mpota_host.rollout import repo as Repo


@pytest.fixture(params=K.BACKENDS)
def eng(request, tmp_path):
    e = K.database(request.param, tmp_path)
    yield e
    e.dispose()


def control_state(path, sha):
    _, ctl = Repo.read_control(path)
    (e,) = [e for e in ctl.entries if bytes(e.plan_sha).hex() == sha]
    return e.state, e.cap_bp, ctl.version


def test_report_updates_current_state_and_progress(eng, tmp_path):
    devs = K.devices(eng, tmp_path, 2)
    d = devs["dev-00000"]
    assert K.report(eng, d, ("boot", 1, ""), ("install", 2, ""), ("installed", 2, "")) == 3
    assert K.report(eng, d, ("trial", 2, ""), version=1) == 4
    d.trial = 0
    assert K.report(eng, d, ("confirmed", 2, ""), version=2) == 5
    info = queries.device(eng, "dev-00000")
    assert (info["version"], info["last_kind"], info["report_count"]) == (2, "confirmed", 3)
    (p,) = info["progress"]
    assert p["version"] == 2 and None not in (p["started"], p["downloaded"], p["trial"],
                                              p["confirmed"])
    assert [e["kind"] for e in info["events"]] == ["confirmed", "trial", "installed", "install",
                                                   "boot"]
    # Raw reports are kept as received.
    assert [json.loads(r["body"])["run"]["version"] for r in info["reports"]] == [2, 1, 1]


def test_events_sent_again_after_a_lost_answer_are_stored_once(eng, tmp_path):
    d = K.devices(eng, tmp_path, 1)["dev-00000"]
    d.log("install", 2)
    d.log("installed", 2)
    from mpota_host.fleet import reports
    seq, data, h = d.next_report()
    reports.ingest(eng, d.device_id, str(seq), h["X-Mpota-Tag"], data)
    # The answer was lost: the device sends the same events under a new seq.
    assert K.report(eng, d, ("trial", 2, "")) == 3
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(M.events)).scalar() == 3
        assert conn.execute(select(func.count()).select_from(M.reports)).scalar() == 2


def test_two_service_processes_share_one_database(eng, tmp_path):
    # Stateless processes: a report taken by one is a replay for the other.
    from mpota_host.fleet import reports
    other = D.engine_for(str(eng.url.render_as_string(hide_password=False)))
    d = K.devices(eng, tmp_path, 1)["dev-00000"]
    seq, data, h = d.next_report()
    reports.ingest(eng, d.device_id, str(seq), h["X-Mpota-Tag"], data)
    with pytest.raises(reports.Refused) as e:
        reports.ingest(other, d.device_id, str(seq), h["X-Mpota-Tag"], data)
    assert e.value.status == 409
    other.dispose()


def test_waves_are_counted_from_the_device_buckets(eng, tmp_path):
    devs = K.devices(eng, tmp_path, 300)
    pub = K.Published(tmp_path, waves=((500, 0), (2500, 0), (10000, int(time.time()) + 86400)),
                      canary=["dev-00007", "dev-00008"])
    rollouts.sync(eng, pub.path)
    f = rollouts.figures(eng, pub.sha)
    names = [w["name"] for w in f["waves"]]
    assert names == ["canary", "5%", "25%", "100%"]
    b = {i: bucket("fw-2", i) for i in devs if i not in ("dev-00007", "dev-00008")}
    want = [2, sum(v < 500 for v in b.values()), sum(500 <= v < 2500 for v in b.values()),
            sum(v >= 2500 for v in b.values())]
    assert [w["selected"] for w in f["waves"]] == want
    # The last wave has not opened: nobody in it is in yet.
    assert [w["inside"] for w in f["waves"]] == want[:3] + [0]
    assert f["allowed_bp"] == 2500


def _canary_rollouts(eng, tmp_path, n=20):
    devs = K.devices(eng, tmp_path, n)
    pub = K.Published(tmp_path, version=3, plan_id="fw-3", canary=["dev-00001", "dev-00002",
                                                                   "dev-00003"])
    rollouts.sync(eng, pub.path)
    return devs, pub


def test_two_canary_rollbacks_halt_the_rollout_and_sign_a_halt(eng, tmp_path):
    devs, pub = _canary_rollouts(eng, tmp_path)
    publisher = rollouts.Publisher(pub.path, str(pub.control_key))
    for i in ("dev-00001", "dev-00002"):
        K.report(eng, devs[i], ("install", 3, ""), ("installed", 3, ""), ("trial", 3, ""))
    assert rollouts.run_once(eng, pub.path, publisher) == []
    K.report(eng, devs["dev-00001"], ("rolled-back", 3, "health"))
    assert rollouts.run_once(eng, pub.path, publisher) == []
    K.report(eng, devs["dev-00002"], ("rolled-back", 3, "health"))
    (halt,) = rollouts.run_once(eng, pub.path, publisher)
    assert halt[0] == pub.sha and "canary" in halt[1]
    # The pass kept the figures it judged by, for the dashboard.
    snap = rollouts.snapshot(eng, pub.sha)
    assert (snap["state"], snap["waves"][0]["rolled_back"]) == ("halt", 2)
    assert control_state(pub.path, pub.sha)[0] == F.STATE_HALT
    trail = queries.audit(eng)
    assert trail[0]["actor"] == "monitor" and trail[0]["action"] == "halt"
    # Halted once: the next pass leaves it alone.
    assert rollouts.run_once(eng, pub.path, publisher) == []
    assert control_state(pub.path, pub.sha)[2] == 2


def test_automatic_halt_is_recorded_in_the_release_ledger(eng, tmp_path):
    # The service signs control documents by itself: each one goes into the
    # ledger with who did it, and the chain audits against the control key.
    from mpota_host import ledger
    devs, pub = _canary_rollouts(eng, tmp_path)
    path = str(tmp_path / "ledger")
    publisher = rollouts.Publisher(pub.path, str(pub.control_key), path)
    K.report(eng, devs["dev-00005"], ("refused", 3, "bad-signature"))
    (halt,) = rollouts.run_once(eng, pub.path, publisher)
    with open(path, "rb") as f:
        (rec,) = ledger.check(f.read().split(b"\n")[:-1])
    assert (rec["action"], rec["who"], rec["subject"]["for_plan"]) == \
        ("control-halt", "monitor (mpota fleet)", pub.sha)
    with open(str(pub.path) + "/control", "rb") as f:
        assert rec["subject"]["control"] == hashlib.sha256(f.read()).hexdigest()


def test_one_security_refusal_halts_at_once(eng, tmp_path):
    devs, pub = _canary_rollouts(eng, tmp_path)
    publisher = rollouts.Publisher(pub.path, str(pub.control_key))
    K.report(eng, devs["dev-00005"], ("refused", 3, "bad-signature"))
    (halt,) = rollouts.run_once(eng, pub.path, publisher)
    assert "bad-signature" in halt[1]
    assert control_state(pub.path, pub.sha)[0] == F.STATE_HALT
    assert rollouts.figures(eng, pub.sha)["reasons"] == {"bad-signature": 1}


def test_more_than_one_percent_failures_halt_a_wave_once_fifty_ran(eng, tmp_path):
    devs = K.devices(eng, tmp_path, 120)
    pub = K.Published(tmp_path, waves=((10000, 0),))
    publisher = rollouts.Publisher(pub.path, str(pub.control_key))
    rollouts.sync(eng, pub.path)
    ids = sorted(devs)
    # No canary list: the first wave is the canary wave; allow 5 failures there.
    rollouts.set_rules(eng, "ops", {"canary_failures": 5})
    for i in ids[:48]:
        K.report(eng, devs[i], ("install", 2, ""), ("confirmed", 2, ""))
    K.report(eng, devs[ids[48]], ("install", 2, ""), ("rolled-back", 2, "health"))
    assert rollouts.run_once(eng, pub.path, publisher) == []  # 1 of 49: not judged yet
    K.report(eng, devs[ids[49]], ("install", 2, ""), ("confirmed", 2, ""))
    (halt,) = rollouts.run_once(eng, pub.path, publisher)  # 1 of 50 > 1 %
    assert "1 of 50" in halt[1]


def test_halt_without_a_control_key_is_reported_once_not_at_every_pass(eng, tmp_path):
    devs, pub = _canary_rollouts(eng, tmp_path)
    keyless = rollouts.Publisher(pub.path, None)
    K.report(eng, devs["dev-00005"], ("refused", 3, "bad-signature"))
    for _ in range(3):
        assert rollouts.run_once(eng, pub.path, keyless) == []
    failed = [a for a in queries.audit(eng) if a["action"] == "halt-failed"]
    assert len(failed) == 1 and "no control key" in failed[0]["detail"]
    assert control_state(pub.path, pub.sha)[0] == F.STATE_RUN
    # With the key, the next pass halts.
    (halt,) = rollouts.run_once(eng, pub.path, rollouts.Publisher(pub.path, str(pub.control_key)))
    assert control_state(pub.path, pub.sha)[0] == F.STATE_HALT


def test_silent_devices_count_as_failures(eng, tmp_path):
    devs, pub = _canary_rollouts(eng, tmp_path)
    publisher = rollouts.Publisher(pub.path, str(pub.control_key))
    for i in ("dev-00001", "dev-00002"):
        K.report(eng, devs[i], ("install", 3, ""))
    now = time.time()
    assert rollouts.run_once(eng, pub.path, publisher, now=now + 23 * 3600) == []
    f = rollouts.figures(eng, pub.sha, now=now + 25 * 3600)
    assert f["waves"][0]["silent"] == 2
    (halt,) = rollouts.run_once(eng, pub.path, publisher, now=now + 25 * 3600)
    assert "canary" in halt[1]


def test_operator_pause_cap_resume_halt_are_signed_and_audited(eng, tmp_path):
    K.devices(eng, tmp_path, 5)
    pub = K.Published(tmp_path)
    publisher = rollouts.Publisher(pub.path, str(pub.control_key))
    rollouts.sync(eng, pub.path)
    rollouts.act(eng, publisher, pub.sha, "pause", "alice")
    assert control_state(pub.path, pub.sha)[0] == F.STATE_PAUSE
    rollouts.act(eng, publisher, pub.sha, "cap", "alice", cap_bp=1000)
    assert control_state(pub.path, pub.sha)[:2] == (F.STATE_PAUSE, 1000)
    rollouts.act(eng, publisher, pub.sha, "resume", "bob")
    rollouts.act(eng, publisher, pub.sha, "halt", "bob")
    assert control_state(pub.path, pub.sha) == (F.STATE_HALT, 1000, 5)
    trail = [(a["actor"], a["action"]) for a in reversed(queries.audit(eng)) if a["plan_sha"]]
    assert trail == [("repository", "found"), ("alice", "pause"), ("alice", "cap"),
                     ("bob", "resume"), ("bob", "halt")]
    # A halt is final: the control tools refuse to resume it.
    from mpota_host.errors import CommandError
    with pytest.raises(CommandError):
        rollouts.act(eng, publisher, pub.sha, "resume", "bob")
    rollouts.sync(eng, pub.path)
    assert rollouts.figures(eng, pub.sha)["state"] == "halt"


def test_devices_enrolled_after_a_rollout_began_join_it(eng, tmp_path):
    K.devices(eng, tmp_path, 10)
    pub = K.Published(tmp_path)
    rollouts.sync(eng, pub.path)
    K.devices(eng, tmp_path, 5, prefix="late-")
    K.devices(eng, tmp_path, 5, prefix="other-", device_class="rp2040")
    f = rollouts.figures(eng, pub.sha)
    assert sum(w["selected"] for w in f["waves"]) + f["beyond"] == 15


def test_migrations_are_applied_once(eng):
    assert D.migrate(eng) == D.head() == "0003"
    with eng.connect() as conn:
        assert D.get_setting(conn, "session_key")


def test_stored_report_cannot_be_rewritten_or_deleted(eng, tmp_path):
    from sqlalchemy.exc import DatabaseError
    d = K.devices(eng, tmp_path, 1)["dev-00000"]
    K.report(eng, d, ("boot", 1, ""))
    for stmt in (M.reports.update().values(body="{}"), M.reports.delete()):
        with pytest.raises(DatabaseError, match="append-only"):
            with eng.begin() as conn:
                conn.execute(stmt)
    assert len(queries.device(eng, "dev-00000")["reports"]) == 1


@pytest.mark.parametrize("kind", K.BACKENDS)
def test_upgrade_from_the_first_schema_keeps_devices_and_reports(kind, tmp_path):
    from alembic import command
    from alembic.config import Config

    url = (D.url_for(None, str(tmp_path / "old")) if kind == "sqlite"
           else D.url_for(K.PG.new_database(), None))
    eng = D.engine_for(url)
    cfg = Config()
    cfg.set_main_option("script_location", D.MIGRATIONS)
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO devices (device_id, secret, enrolled) "
                          "VALUES ('old-1', :s, 1)"), {"s": b"0123456789abcdef0123456789abcdef"})
    assert D.migrate(eng) == D.head()
    d = C.Device("old-1", b"0123456789abcdef0123456789abcdef")
    assert K.report(eng, d, ("boot", 1, "")) == 1
    with eng.connect() as conn:
        assert conn.execute(select(M.rollouts.c.figures)).all() == []
    eng.dispose()


def test_stale_control_document_refusals_do_not_halt_every_rollout(eng, tmp_path):
    # A missed `mpota control renew` (or one device whose clock runs far
    # ahead) makes devices refuse the control document: that is the control
    # channel's failure, not the release's, and halting is final.
    devs, pub = _canary_rollouts(eng, tmp_path)
    publisher = rollouts.Publisher(pub.path, str(pub.control_key))
    for i in ("dev-00001", "dev-00005"):
        K.report(eng, devs[i], ("refused", 0, "control-expired"), ("refused", 0, "control-replay"))
    assert rollouts.run_once(eng, pub.path, publisher) == []
    assert control_state(pub.path, pub.sha)[0] != F.STATE_HALT
    assert rollouts.figures(eng, pub.sha)["reasons"] == {"control-expired": 2, "control-replay": 2}
