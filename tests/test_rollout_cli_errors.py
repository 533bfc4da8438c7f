# SPDX-License-Identifier: MIT
"""Every refusal of the rollout commands is one line on stderr, `mpota: `
first, exit 1, nothing written; and every command has a complete --help."""

import json

import pytest

from bundles.cliworld import World, ok, one_line_error, released, run


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A repository with plan fw-2 running (read-only for the tests below)."""
    w = released(tmp_path_factory.mktemp("errors"))
    (w.d / "empty.txt").write_text("# nobody\n")
    (w.d / "exists").write_bytes(b"x")
    return w


def create(w, *extra, waves=("1@now",), max_percent="100"):
    args = ["rollout", "create", w.b, "--id", "fw-9", "--max-percent", max_percent,
            "-k", w.key("u1"), "-o", w.d / "never"]
    for wave in waves:
        args += ["--wave", wave]
    return run(*args, *extra)


CREATE = [
    (dict(waves=("5",)), "PERCENT@WHEN"),
    (dict(waves=("abc@now",)), "a percentage"),
    (dict(waves=("0.125@now",)), "at most two decimals"),
    (dict(waves=("101@now",)), "0 to 100"),
    (dict(waves=("50@now", "10@+1d")), "must be in order"),
    (dict(waves=("50@+1d", "60@now")), "must be in order"),
    (dict(waves=("60@now",), max_percent="50"), "above --max-percent"),
    (dict(max_percent="0"), "--max-percent must be above 0"),
    (dict(waves=("5@tomorrow",)), "bad time"),
    (dict(waves=tuple("{}@now".format(i) for i in range(1, 10))), "1 to 8 waves"),
]


@pytest.mark.parametrize("kw,words", CREATE, ids=[w for _, w in CREATE])
def test_rollout_create_refuses_bad_waves_in_one_line(world, kw, words):
    assert words in one_line_error(create(world, **kw))
    assert not (world.d / "never").exists()


@pytest.mark.parametrize("extra,words", [
    (["--device-class", "rp2040"], "the bundle is for esp32"),
    (["--id", "has space"], "printable ASCII"),
    (["--canary-file", "{d}/empty.txt"], "no device ids"),
    (["--canary-file", "{d}/absent.txt"], "cannot read"),
    (["-o", "{d}/exists"], "exists (use --force"),
    (["--trust", "{d}/exists"], "refused: malformed"),
])
def test_rollout_create_refuses_bad_options_in_one_line(world, extra, words):
    extra = [e.format(d=world.d) for e in extra]
    assert words in one_line_error(create(world, *extra))
    assert not (world.d / "never").exists()


def test_rollout_create_needs_a_bundle(world):
    proc = run("rollout", "create", world.d / "nobundle", "--id", "x", "--wave", "1@now",
               "--max-percent", "1", "-k", world.key("u1"), "-o", world.d / "never")
    assert "cannot read" in one_line_error(proc)


@pytest.mark.parametrize("args,words", [
    (("pause", "no-such-plan"), "no plan 'no-such-plan'"),
    (("run", "fw-2"), "already in the control document"),
    (("cap", "fw-2", "--percent", "x"), "a percentage"),
    (("resume", "fw-2", "--expires", "2001-01-01"), "is not after now"),
])
def test_control_refuses_in_one_line(world, args, words):
    before = (world.repo / "control").read_bytes()
    assert words in one_line_error(world.control(*args))
    assert (world.repo / "control").read_bytes() == before


def test_control_refuses_a_key_that_is_not_a_control_key(world):
    assert "not a control key of root version 1" in one_line_error(world.control("pause", "fw-2", key="u2"))


def test_control_show_without_a_control_document(world, tmp_path):
    (tmp_path / "plans").mkdir()
    assert "has no control document" in one_line_error(run("control", "show", tmp_path))


def test_control_without_a_control_role_says_so(tmp_path):
    w = World(tmp_path)
    ok(w.mpota("root", "init", "-o", tmp_path / "plain", "--root-key", w.pub("root"),
               "--root-threshold", 1, "--update-key", w.pub("u1"), "--update-threshold", 1,
               "-k", w.key("root")))
    b = w.bundle()
    p = w.plan(b)
    ok(w.mpota("publish", w.repo, "--root", tmp_path / "plain", "--bundle", b, "--plan", p))
    assert "no-control-role" in one_line_error(w.control("run", "fw-2"))


def test_revoke_refuses_in_one_line(world):
    assert "neither a bundle directory nor an image SHA-256" in one_line_error(
        run("revoke", "xyz", "--repo", world.repo, "-k", world.key("u1")))
    assert "neither a bundle directory" in one_line_error(
        run("revoke", "ab" * 8, "--repo", world.repo, "-k", world.key("u1")))


def test_publish_refuses_in_one_line(world, tmp_path):
    other = World(tmp_path, tag="other")
    b = other.bundle()
    p = other.plan(b)
    repo = tmp_path / "r"
    assert "neither given (--bundle) nor published" in one_line_error(
        run("publish", repo, "--root", other.root, "--plan", p))
    ok(run("root", "rotate", other.root, "-o", tmp_path / "root2", "-k", other.key("root")))
    ok(run("root", "rotate", tmp_path / "root2", "-o", tmp_path / "root3", "-k", other.key("root")))
    assert "root version 2 is missing" in one_line_error(
        run("publish", repo, "--root", other.root, "--root", tmp_path / "root3"))
    pc = other.plan(b, out="planc", canary=["dev-a"])
    for shard in (tmp_path / "canary").iterdir():
        shard.unlink()
    assert "is neither in" in one_line_error(
        run("publish", repo, "--root", other.root, "--bundle", b, "--plan", pc))
    assert not (repo / "plans").exists()


def test_verify_repo_refuses_bundle_options_and_reports_json(world, tmp_path):
    assert "is a repository" in one_line_error(
        run("verify", world.repo, "--trust", world.root, "--device-class", "esp32"))
    proc = run("verify", world.repo, "--trust", world.root, "--at", "+3d", "--json")
    assert proc.returncode == 1 and proc.stderr == ""
    verdict = json.loads(proc.stdout)
    assert verdict["valid"] is False and verdict["reason"] == "control-expired"
    assert verdict["where"] == "control" and "expired" in verdict["meaning"]


@pytest.mark.parametrize("extra,words", [
    (["--control-key", "{d}/ctl.pub"], "needs --control-threshold"),
    (["--control-key", "{d}/ctl.pub", "--control-threshold", "2"], "control threshold 2 is not between 1 and 1"),
    (["--control-threshold", "1"], "needs --control-key"),
])
def test_root_init_refuses_a_bad_control_role(world, extra, words):
    args = ["root", "init", "-o", world.d / "never-root", "--root-key", world.pub("root"),
            "--root-threshold", 1, "--update-key", world.pub("u1"), "--update-threshold", 1]
    assert words in one_line_error(run(*args, *[e.format(d=world.d) for e in extra]))


def test_root_rotate_refuses_contradicting_control_options(world):
    assert "contradict" in one_line_error(run(
        "root", "rotate", world.root, "-o", world.d / "never-root", "--no-control",
        "--control-key", world.pub("ctl")))


HELP = {
    ("rollout",): ["create", "cosign", "show", "list"],
    ("rollout", "create"): ["BUNDLE_DIR", "--id", "--device-class", "--hw-rev", "--canary-file",
                            "--canary-dir", "--wave", "--max-percent", "--trust", "--output",
                            "--force", "-k", "--pin-env", "--json"],
    ("rollout", "cosign"): ["PLAN", "-k"],
    ("rollout", "show"): ["PLAN", "--trust", "--json"],
    ("rollout", "list"): ["REPO", "--at", "--json"],
    ("control",): ["run", "pause", "resume", "halt", "cap", "drop", "renew", "show"],
    ("control", "run"): ["PLAN", "--repo", "--percent", "--poll", "--expires", "--trust", "-k",
                         "pkcs11:", "--json"],
    ("control", "cap"): ["PLAN", "--repo", "--percent", "-k"],
    ("control", "halt"): ["PLAN", "--repo", "new plan", "-k"],
    ("control", "drop"): ["--force"],
    ("control", "renew"): ["--repo", "--expires"],
    ("control", "show"): ["REPO", "--trust", "--json"],
    ("revoke",): ["BUNDLE_OR_IMAGE_SHA", "--repo", "--trust", "-k", "security counter", "--json"],
    ("publish",): ["REPO", "--root", "--bundle", "--plan", "--revoked", "--control", "--json"],
    ("verify",): ["--revoked-before", "repository"],
    ("root", "init"): ["--control-key", "--control-threshold"],
    ("root", "rotate"): ["--control-key", "--control-threshold", "--no-control"],
}


@pytest.mark.parametrize("command", sorted(HELP), ids=" ".join)
def test_help_names_every_rollout_option(command):
    proc = run(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    for word in HELP[command]:
        assert word in text, word
