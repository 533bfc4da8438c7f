# SPDX-License-Identifier: MIT
"""A staged rollout through the real `mpota` command: a root with a
control role, a plan with waves and a canary list, a published repository
that verifies as a device would check it, control and revocation, and the
library API the fleet service calls."""

import json
import time

from bundles import factory as f
from bundles.cliworld import World, ok, released, sha

from mpota.bundle import format as F
from mpota.bundle import rollout as R
from mpota.rollout import cohort
from mpota_host.rollout import control, revoke


def test_root_carries_its_control_role_and_issue_time(tmp_path):
    before = int(time.time())
    w = World(tmp_path)
    info = json.loads(ok(w.mpota("root", "show", w.root, "--json")).stdout)
    assert info["control_keys"] == [F.key_id(f.Key("cli-rollout-w-ctl").public).hex()]
    assert info["control_threshold"] == 1 and info["issued"] >= before
    # Rotation keeps the role unless told; --control-key replaces it.
    ok(w.mpota("root", "rotate", w.root, "-o", tmp_path / "root2", "-k", w.key("root")))
    r2 = json.loads(ok(w.mpota("root", "show", tmp_path / "root2", "--trust", w.root, "--json")).stdout)
    assert r2["control_keys"] == info["control_keys"] and r2["accepted"]
    ok(w.mpota("root", "rotate", tmp_path / "root2", "-o", tmp_path / "root3", "-k", w.key("root"),
               "--control-key", w.pub("ctl2"), "--control-key", w.pub("ctl"), "--control-threshold", 2))
    r3 = json.loads(ok(w.mpota("root", "show", tmp_path / "root3", "--json")).stdout)
    assert len(r3["control_keys"]) == 2 and r3["control_threshold"] == 2
    ok(w.mpota("root", "rotate", tmp_path / "root3", "-o", tmp_path / "root4", "-k", w.key("root"),
               "--no-control"))
    r4 = json.loads(ok(w.mpota("root", "show", tmp_path / "root4", "--json")).stdout)
    assert r4["control_keys"] == [] and r4["control_threshold"] == 0


def test_sign_writes_the_issue_time_in_the_manifest(tmp_path):
    before = int(time.time())
    w = World(tmp_path)
    doc = (w.bundle() / "manifest").read_bytes()
    m = F.manifest(doc, F.frame(doc, F.DOC_MANIFEST))
    assert before <= m.issued <= int(time.time())


def test_published_rollout_verifies_lists_and_shows(tmp_path):
    w = released(tmp_path)
    # The installed command, as a user runs it (the other calls run its
    # main() in this process).
    out = ok(f.cli("verify", w.repo, "--trust", w.root)).stdout
    assert out.startswith("OK ") and out.count("\n") == 1
    assert "1 plan" in out and "1 canary shard" in out
    report = w.verify_json()
    assert report["valid"] and report["plans"][0]["state"] == "run"
    assert report["plans"][0]["open_percent"] == "1"
    files = w.published()
    plan_name = "plans/" + sha(w.p)
    assert files[plan_name] == w.p.read_bytes()
    assert files["bundles/{}/manifest".format(sha(w.b / "manifest"))] == (w.b / "manifest").read_bytes()
    assert "roots/1" in files and "control" in files
    listed = json.loads(ok(w.mpota("rollout", "list", w.repo, "--json")).stdout)
    assert [(p["id"], p["state"], p["open_percent"]) for p in listed] == [("fw-2", "run", "1")]
    later = json.loads(ok(w.mpota("rollout", "list", w.repo, "--json", "--at", "+36h")).stdout)
    assert later[0]["open_percent"] == "50"
    shown = json.loads(ok(w.mpota("rollout", "show", w.p, "--trust", w.root, "--json")).stdout)
    assert shown["accepted"] and [x["basis_points"] for x in shown["waves"]] == [100, 5000, 10000]
    ctl = json.loads(ok(w.mpota("control", "show", w.repo, "--trust", w.root, "--json")).stdout)
    assert ctl["version"] == 1 and ctl["accepted"] and ctl["entries"][0]["id"] == "fw-2"


def test_publishing_again_changes_nothing(tmp_path):
    w = released(tmp_path)
    before = w.published()
    out = w.publish("--bundle", w.b, "--plan", w.p).stdout
    assert "0 files written" in out
    assert w.published() == before


def test_waves_are_stored_in_basis_points(tmp_path):
    w = World(tmp_path)
    p = w.plan(w.bundle(), waves=("0.5@now", "12.25@+1d", "40@2040-01-01"), max_percent="40")
    doc = p.read_bytes()
    plan = R.plan(doc, F.frame(doc, F.DOC_PLAN))
    assert [bp for bp, _ in plan.waves] == [50, 1225, 4000] and plan.max_bp == 4000
    assert plan.waves[2][1] == 2208988800


def test_long_canary_list_is_split_into_shards_each_device_finds_itself_in(tmp_path):
    w = World(tmp_path)
    ids = ["board-{:05d}-abcdefghij".format(i) for i in range(300)]  # 7,200 bytes
    bundle = w.bundle()
    p = w.plan(bundle, plan_id="canary-run", canary=ids)
    doc = p.read_bytes()
    plan = R.plan(doc, F.frame(doc, F.DOC_PLAN))
    assert 4 <= len(plan.canary) <= F.MAX_CANARY_SHARDS
    seen = []
    for i, h in enumerate(plan.canary):
        data = (tmp_path / "canary" / h.hex()).read_bytes()
        assert len(data) <= F.MAX_SHARD
        for line in data.decode().splitlines():
            assert cohort.shard("canary-run", line, len(plan.canary)) == i
            seen.append(line)
    assert sorted(seen) == sorted(ids)
    w.publish("--bundle", bundle, "--plan", p)
    ok(w.control("run", "canary-run"))
    assert w.verify_json()["canary_shards"] == len(plan.canary)


def test_cosign_adds_a_second_update_signature(tmp_path):
    w = World(tmp_path)
    p = w.plan(w.bundle())
    out = ok(w.mpota("rollout", "cosign", p, "-k", w.key("u2"))).stdout
    assert "2 signatures" in out and sha(p) in out
    assert len(json.loads(ok(w.mpota("rollout", "show", p, "--json")).stdout)["signatures"]) == 2


def test_control_library_api_is_what_the_fleet_service_calls(tmp_path):
    w = released(tmp_path)
    signer = control.load_signer(str(w.key("ctl")))
    t = int(time.time())
    written = control.update(str(w.repo), "fw-2", "cap", signer, cap_bp=300, now=t)
    assert written.version == 2 and written.expires == t + control.DAY
    assert written.entries[0][1:] == (F.STATE_RUN, 300, control.POLL_DEFAULT)
    assert (w.repo / "control").read_bytes() == written.doc
    renewed = control.update(str(w.repo), None, "renew", [signer], now=t + 60, lifetime=3600)
    assert renewed.version == 3 and renewed.entries == written.entries
    assert renewed.expires == t + 3660
    ok(w.verify())


def test_revoked_image_stops_verify_until_its_plan_is_halted(tmp_path):
    w = released(tmp_path)
    out = ok(w.mpota("revoke", w.b, "--repo", w.repo, "-k", w.key("u1"), "--json")).stdout
    info = json.loads(out)
    assert info["version"] == 1 and len(info["images"]) == 1
    assert f.refusal(w.verify()) == "revoked"
    ok(w.control("halt", "fw-2"))
    assert w.verify_json()["revoked"] == {"version": 1, "images": 1}
    # The library call gives the same list back.
    signer = control.load_signer(str(w.key("u2")))
    _, rev = revoke.revoke(str(w.repo), "ab" * 32, [signer])
    assert rev.version == 2 and rev.images[1] == bytes.fromhex("ab" * 16)


def test_publish_writes_what_a_file_names_before_the_file_and_control_last(tmp_path, monkeypatch):
    from mpota_host.rollout import publish, repo as Repo

    w = World(tmp_path)
    b = w.bundle()
    p = w.plan(b, canary=["dev-a", "dev-b"])
    # A control document and a revocation list signed elsewhere.
    other = released(tmp_path / "elsewhere")
    ok(other.mpota("revoke", "ef" * 32, "--repo", other.repo, "-k", other.key("u1")))
    order = []
    real_put, real_copy = Repo.put, publish._copy_bundle
    monkeypatch.setattr(Repo, "put", lambda path, data: (order.append(str(path)), real_put(path, data)))
    monkeypatch.setattr(publish, "_copy_bundle", lambda src, dst: (order.append(dst), real_copy(src, dst)))
    publish.publish(str(w.repo), roots=[str(w.root)], bundles=[str(b)], plans=[str(p)],
                    revoked=str(other.repo / "revoked"), control=str(other.repo / "control"))
    kinds = [o[len(str(w.repo)) + 1:].split("/")[0] for o in order]
    assert kinds == ["roots", "bundles", "canary", "plans", "revoked", "control"], kinds
