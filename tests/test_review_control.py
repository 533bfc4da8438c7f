# SPDX-License-Identifier: MIT
"""Found in the security review of the host's control tools (issue 11):
the tools sign with the online control key what they read from the
repository directory, so what they read must be what that key signed."""

from bundles import factory as f
from bundles.cliworld import one_line_error, ok, released, sha

from mpota.bundle import format as F
from mpota.bundle import rollout as R
from mpota_host import document as D
from mpota_host.rollout import control


def test_control_tool_does_not_re_sign_a_control_document_someone_else_wrote(tmp_path):
    # fw-2 is halted. Someone who can write the repository directory but
    # holds no control key puts a document there that runs fw-2 again; the
    # next renew (cron) or the fleet service's next action must not sign
    # its entries with the real key.
    w = released(tmp_path)
    ok(w.control("halt", "fw-2"))
    plan_sha = bytes.fromhex(sha(w.p))
    signed = control.unsigned(100, 1, 2 ** 40, [(plan_sha, F.STATE_RUN, 10000, 60)])
    forged = D.assemble(signed, D.sign(signed, [], [f.Key("cli-review-stranger")]))
    (w.repo / "control").write_bytes(forged)
    msg = one_line_error(w.control("renew"))
    assert "control" in msg
    doc = (w.repo / "control").read_bytes()
    assert doc == forged
    ctl = R.control(doc, F.frame(doc, F.DOC_CONTROL))
    assert ctl.version == 100  # nothing new was signed


def test_control_cap_of_infinity_is_a_one_line_refusal(tmp_path):
    w = released(tmp_path)
    before = (w.repo / "control").read_bytes()
    for text in ("inf", "Infinity", "-inf", "nan"):
        assert "percentage" in one_line_error(w.control("cap", "fw-2", "--percent=" + text))
    assert (w.repo / "control").read_bytes() == before


def test_revoke_does_not_re_sign_a_revocation_list_someone_else_shrank(tmp_path):
    # v2 is revoked. Someone who can write the repository directory but
    # holds no update key replaces the list with one that lost the entry
    # (and a higher version); the next `mpota revoke` must not sign it.
    from mpota_host.rollout import revoke

    w = released(tmp_path)
    ok(w.mpota("revoke", w.b, "--repo", w.repo, "-k", w.key("u1")))
    signed = revoke.unsigned(50, 1, [])
    forged = D.assemble(signed, D.sign(signed, [], [f.Key("cli-review-stranger")]))
    (w.repo / "revoked").write_bytes(forged)
    other = w.bundle("bundle3", version=3, seed=3)
    msg = one_line_error(w.mpota("revoke", other, "--repo", w.repo, "-k", w.key("u1")))
    assert "revocation list" in msg
    assert (w.repo / "revoked").read_bytes() == forged


def test_time_floor_of_a_repository_whose_root_has_no_issue_time(tmp_path):
    # A root signed before issue times existed (0) beside a root or plan
    # of time 0 must not crash the tools comparing their names.
    from mpota_host.rollout import repo as R
    from rollouts import docs

    (tmp_path / "roots").mkdir()
    (tmp_path / "roots" / "1").write_bytes(docs.root())
    (tmp_path / "roots" / "2").write_bytes(docs.root(version=2))
    assert R.time_floor(str(tmp_path)) == (0, None)
    (tmp_path / "roots" / "3").write_bytes(docs.root(version=3, issued=1_790_000_000))
    assert R.time_floor(str(tmp_path)) == (1_790_000_000, "roots/3")
