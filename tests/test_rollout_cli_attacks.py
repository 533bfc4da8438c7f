# SPDX-License-Identifier: MIT
"""What the host tools refuse to write, and what `mpota verify REPO`
catches in a published repository someone has tampered with: each test
named after the attack it proves harmless."""

import shutil

from bundles import factory as f
from bundles.cliworld import World, ok, one_line_error, released, sha

from mpota.bundle import format as F
from mpota_host import document as D
from mpota_host.rollout import control, plan as P, revoke


def test_control_cannot_cap_a_rollout_above_the_plan_ceiling(tmp_path):
    w = World(tmp_path)
    b = w.bundle()
    p = w.plan(b, waves=("5@now", "20@+1d"), max_percent="20")
    w.publish("--bundle", b, "--plan", p)
    assert "above the ceiling" in one_line_error(w.control("run", "fw-2", "--percent", "20.01"))
    ok(w.control("run", "fw-2", "--cap", "5"))
    before = (w.repo / "control").read_bytes()
    assert "above the ceiling" in one_line_error(w.control("cap", "fw-2", "--percent", "21"))
    assert "above the ceiling" in one_line_error(w.control("cap", "fw-2", "--percent", "100"))
    assert (w.repo / "control").read_bytes() == before
    ok(w.control("cap", "fw-2", "--percent", "20"))
    assert w.verify_json()["plans"][0]["open_percent"] == "5"


def test_halted_plan_cannot_be_resumed_by_the_cli(tmp_path):
    w = released(tmp_path)
    ok(w.control("halt", "fw-2"))
    before = (w.repo / "control").read_bytes()
    for args in (("resume", "fw-2"), ("run", "fw-2"), ("pause", "fw-2"),
                 ("cap", "fw-2", "--percent", "1"), ("drop", "fw-2")):
        msg = one_line_error(w.control(*args))
        assert "halted" in msg, (args, msg)
    assert "new plan" in one_line_error(w.control("resume", "fw-2"))
    assert (w.repo / "control").read_bytes() == before


def test_new_plan_reusing_a_halted_plans_id_is_refused(tmp_path):
    w = released(tmp_path)
    ok(w.control("halt", "fw-2"))
    b3 = w.bundle("bundle3", version=3, seed=3)
    p3 = w.plan(b3, plan_id="fw-2", out="plan3")
    w.publish("--bundle", b3, "--plan", p3)
    assert "new id" in one_line_error(w.control("run", sha(p3)))
    p4 = w.plan(b3, plan_id="fw-3", out="plan4")
    w.publish("--plan", p4)
    ok(w.control("run", "fw-3"))


def test_stolen_control_key_cannot_release_an_image(tmp_path):
    w = released(tmp_path)
    # A plan signed by the control key, not the update keys.
    b3 = w.bundle("bundle3", version=3, seed=3)
    p3 = w.plan(b3, plan_id="evil", out="plan3")
    ok(w.mpota("rollout", "cosign", p3, "-k", w.key("ctl")))
    doc = p3.read_bytes()
    signed, sigs = D.split(doc, F.DOC_PLAN)
    p3.write_bytes(D.assemble(signed, [s for s in sigs if s[0] == F.key_id(f.Key("cli-rollout-w-ctl").public)]))
    assert f.refusal(w.mpota("publish", w.repo, "--root", w.root, "--bundle", b3, "--plan", p3)) \
        == "unknown-key"
    # Laid out by hand and put under control: verify refuses it.
    shutil.copy(p3, w.repo / "plans" / sha(p3))
    shutil.copytree(b3, w.repo / "bundles" / sha(b3 / "manifest"))
    ok(w.control("run", "evil"))
    assert f.refusal(w.verify()) == "unknown-key"


def test_control_key_cannot_sign_a_revocation_nor_an_update_key_control(tmp_path):
    w = released(tmp_path)
    assert "not an update key" in one_line_error(
        w.mpota("revoke", w.b, "--repo", w.repo, "-k", w.key("ctl")))
    assert "not a control key" in one_line_error(w.control("pause", "fw-2", key="u1"))
    # A control document signed by an update key, written into the repository.
    signed = control.unsigned(9, 1, 2**40, [])
    (w.repo / "control").write_bytes(D.assemble(signed, D.sign(signed, [], [f.Key("cli-rollout-w-u1")])))
    assert f.refusal(w.verify()) == "unknown-key"


def test_expired_control_document_is_refused_by_verify(tmp_path):
    w = released(tmp_path)
    ok(w.verify("--at", "+23h"))
    assert f.refusal(w.verify("--at", "+25h")) == "control-expired"
    ok(w.control("renew", "--expires", "+3d"))
    ok(w.verify("--at", "+2d"))


def test_verify_repo_detects_a_tampered_plan(tmp_path):
    w = released(tmp_path)
    path = w.repo / "plans" / sha(w.p)
    doc = bytearray(path.read_bytes())
    doc[20] ^= 1
    path.write_bytes(bytes(doc))
    assert f.refusal(w.verify()) == "hash-mismatch"
    # Renamed to its new hash: the signature no longer covers it.
    path.rename(w.repo / "plans" / sha(path))
    assert f.refusal(w.verify()) == "bad-signature"


def test_verify_repo_detects_a_forged_canary_shard(tmp_path):
    w = released(tmp_path)
    (shard,) = list((w.repo / "canary").iterdir())
    shard.write_bytes(shard.read_bytes() + b"attacker-board\n")
    assert f.refusal(w.verify()) == "hash-mismatch"
    shard.unlink()
    assert f.refusal(w.verify()) == "missing-canary"


def test_verify_repo_detects_a_bundle_swapped_under_a_plan(tmp_path):
    w = released(tmp_path)
    # Another bundle, validly signed by the update key, in the plan's place.
    other = w.bundle("other", version=9, seed=9)
    target = w.repo / "bundles" / sha(w.b / "manifest")
    shutil.rmtree(target)
    shutil.copytree(other, target)
    assert f.refusal(w.verify()) == "hash-mismatch"
    # publish puts the right one back.
    w.publish("--bundle", w.b)
    ok(w.verify())


def test_verify_repo_detects_a_changed_chunk(tmp_path):
    w = released(tmp_path)
    chunk = sorted((w.repo / "bundles" / sha(w.b / "manifest") / "chunks").iterdir())[0]
    data = chunk.read_bytes()
    chunk.write_bytes(bytes((data[0] ^ 1,)) + data[1:])
    assert f.refusal(w.verify()) == "hash-mismatch"
    # publish replaces the damaged copy.
    w.publish("--bundle", w.b)
    ok(w.verify())


def test_plan_of_a_revoked_image_is_not_resumed_nor_run(tmp_path):
    w = released(tmp_path)
    ok(w.control("pause", "fw-2"))
    ok(w.mpota("revoke", w.b, "--repo", w.repo, "-k", w.key("u1")))
    assert "is revoked" in one_line_error(w.control("resume", "fw-2"))
    ok(w.control("drop", "fw-2"))
    assert "is revoked" in one_line_error(w.control("run", "fw-2"))


def test_plan_not_published_is_not_put_under_control(tmp_path):
    w = released(tmp_path)
    p3 = w.plan(w.b, plan_id="fw-3", out="plan3")
    assert "not published" in one_line_error(w.control("run", p3))


def test_revocation_list_is_append_only(tmp_path):
    w = released(tmp_path)
    ok(w.control("halt", "fw-2"))
    ok(w.mpota("revoke", w.b, "--repo", w.repo, "-k", w.key("u1")))
    first = tmp_path / "revoked-v1"
    shutil.copy(w.repo / "revoked", first)
    ok(w.mpota("revoke", "cd" * 32, "--repo", w.repo, "-k", w.key("u1")))
    rev = (w.repo / "revoked").read_bytes()
    from mpota.bundle import rollout as R
    r2 = R.revoked(rev, F.frame(rev, F.DOC_REVOKED))
    assert r2.version == 2 and len(r2.images) == 2
    ok(w.verify("--revoked-before", first))
    # An older list is not published over a newer one.
    assert f.refusal(w.mpota("publish", w.repo, "--root", w.root, "--revoked", first)) \
        == "revocation-replay"
    # A newer list that lost an entry, signed by a real update key:
    shrunk_doc = D.assemble(revoke.unsigned(3, 5, [bytes.fromhex("cd" * 16)]), [])
    signed, _ = D.split(shrunk_doc, F.DOC_REVOKED)
    shrunk_doc = D.assemble(signed, D.sign(signed, [], [f.Key("cli-rollout-w-u1")]))
    (tmp_path / "shrunk").write_bytes(shrunk_doc)
    assert f.refusal(w.mpota("publish", w.repo, "--root", w.root, "--revoked", tmp_path / "shrunk")) \
        == "revocation-shrunk"
    (w.repo / "revoked").write_bytes(shrunk_doc)
    assert f.refusal(w.verify("--revoked-before", first)) == "revocation-shrunk"


def test_full_revocation_list_says_to_raise_the_security_counter(tmp_path):
    w = released(tmp_path)
    signer = control.load_signer(str(w.key("u1")))
    for i in range(F.MAX_REVOKED):
        revoke.revoke(str(w.repo), "{:032x}".format(i + 1) * 2, [signer])
    msg = one_line_error(w.mpota("revoke", w.b, "--repo", w.repo, "-k", w.key("u1")))
    assert "full" in msg and "security counter" in msg


def test_canary_shard_of_a_plan_is_checked_before_publishing(tmp_path):
    w = World(tmp_path)
    b = w.bundle()
    p = w.plan(b, canary=["dev-a"])
    (shard,) = list((tmp_path / "canary").iterdir())
    shard.write_bytes(b"dev-a\nintruder\n")
    assert f.refusal(w.mpota("publish", w.repo, "--root", w.root, "--bundle", b, "--plan", p)) \
        == "hash-mismatch"
    assert not (w.repo / "plans").exists()


def test_plan_of_a_bundle_signed_again_after_it_is_refused_by_publish(tmp_path):
    w = World(tmp_path)
    b = w.bundle()
    p = w.plan(b)
    ok(w.mpota("cosign", b, "-k", w.key("u2")))  # the manifest's bytes change
    msg = one_line_error(w.mpota("publish", w.repo, "--root", w.root, "--bundle", b, "--plan", p))
    assert "signed again after the plan" in msg
    assert P.canary_folder(p)  # no shards: nothing written beside the plan


def test_older_control_document_is_not_published_over_a_newer_one(tmp_path):
    w = released(tmp_path)
    old = tmp_path / "control-v1"
    shutil.copy(w.repo / "control", old)
    ok(w.control("pause", "fw-2"))
    newer = tmp_path / "control-v2"
    shutil.copy(w.repo / "control", newer)
    assert f.refusal(w.mpota("publish", w.repo, "--root", w.root, "--control", old)) == "control-replay"
    ok(w.control("resume", "fw-2"))
    assert f.refusal(w.mpota("publish", w.repo, "--root", w.root, "--control", newer)) == "control-replay"
    # The same document again is no change.
    shutil.copy(w.repo / "control", tmp_path / "control-v3")
    assert "0 files written" in w.publish("--control", tmp_path / "control-v3").stdout


def test_plan_signed_on_a_clock_days_ahead_is_caught_before_devices_freeze(tmp_path, monkeypatch):
    # The plan's issue time raises every device's time floor; a control
    # document that expires before it would reach them already expired.
    import time as clock

    w = World(tmp_path)
    b = w.bundle()
    real = clock.time
    monkeypatch.setattr(clock, "time", lambda: real() + 3 * 86400)
    p = w.plan(b, waves=("1@now",))
    monkeypatch.setattr(clock, "time", real)
    w.publish("--bundle", b, "--plan", p)
    msg = one_line_error(w.control("run", "fw-2"))
    assert "plan fw-2 was issued at" in msg and "clock" in msg
    ok(w.control("run", "fw-2", "--expires", "+4d"))
    ok(w.verify())
    # A control document published from elsewhere with the usual 24 h:
    from mpota_host.rollout import control as C
    signed = C.unsigned(7, int(real()), int(real()) + 86400, [])
    doc = D.assemble(signed, D.sign(signed, [], [f.Key("cli-rollout-w-ctl")]))
    (w.repo / "control").write_bytes(doc)
    assert f.refusal(w.verify()) == "control-expired"
