# SPDX-License-Identifier: MIT
"""The simulated device, driven from the shell exactly as docs/AGENT.md
shows: provision, update, trial boot, confirm, a failed trial rolled back,
a replayed old release refused, and the audit log that tells it."""

import pytest

from agent import kit


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    return {"dir": d, "root": kit.root(d),
            "v1": kit.app_bundle(d, "v1", 1, device_class="sim"),
            "v2": kit.app_bundle(d, "v2", 2, device_class="sim", compress="deflate"),
            "v3": kit.app_bundle(d, "v3", 3, healthy=False, device_class="sim")}


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _refused(proc):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def test_simulated_device_updates_rolls_back_and_refuses_a_replay(tmp_path, release):
    dev = tmp_path / "dev"
    r = release
    out = _ok(kit.sim(dev, "provision", "--root", r["root"], "--bundle", r["v1"],
                      "--device-class", "sim", "--backoff-ms", "0"))
    assert "provisioned with version 1" in out
    assert "app version 1" in _ok(kit.sim(dev, "reboot"))

    assert "version 2" in _ok(kit.sim(dev, "check", "--source", r["v2"]))
    out = _ok(kit.sim(dev, "install", "--source", r["v2"]))
    assert "installed version 2" in out and "chunks (" in out  # progress shown
    assert "trial: slot 1 version 2 attempts 0/3" in _ok(kit.sim(dev, "status"))
    out = _ok(kit.sim(dev, "reboot"))
    assert "trial of version 2, attempt 1 of 3" in out
    assert "app version 2" in out and "health check passed True" in out
    status = _ok(kit.sim(dev, "status"))
    assert "active: slot 1 version 2" in status and "min security counter: 2" in status

    _ok(kit.sim(dev, "set", "source", r["v3"]))
    _ok(kit.sim(dev, "install"))
    for attempt in (1, 2, 3):
        out = _ok(kit.sim(dev, "reboot"))
        assert "attempt {} of 3".format(attempt) in out and "health check failed" in out
    out = _ok(kit.sim(dev, "reboot"))
    assert "trial given up, back to version 2" in out and "app version 2" in out
    assert _refused(kit.sim(dev, "install")) == "sim: not done: reverted"
    # v1 is validly signed, but its security counter is below the stored one.
    assert _refused(kit.sim(dev, "install", "--source", r["v1"])) == "sim: refused: rollback"

    log = _ok(kit.sim(dev, "log")).splitlines()
    events = [line.split()[1] for line in log]
    assert events[-9:] == ["confirm", "install", "installed", "trial-boot", "trial-boot",
                           "trial-boot", "revert", "verify-failure", "verify-failure"]
    assert log[-1].endswith("rollback")


def test_reprovisioning_needs_force_and_then_the_old_root_and_counters_do_not_come_back(
        tmp_path, release):
    r = release
    dev = tmp_path / "dev"
    provision = ("provision", "--device-class", "sim", "--backoff-ms", "0")
    _ok(kit.sim(dev, *provision, "--root", r["root"], "--bundle", r["v1"]))
    _ok(kit.sim(dev, "reboot"))
    _ok(kit.sim(dev, "install", "--source", r["v2"]))
    assert "health check passed True" in _ok(kit.sim(dev, "reboot"))
    for _ in range(3):  # the newest state record now far outnumbers the first
        _ok(kit.sim(dev, "status"))
        _ok(kit.sim(dev, "reboot"))
    assert "min security counter: 2" in _ok(kit.sim(dev, "status"))

    # A factory starting the device over, with a new root whose only update
    # key is X, and a v1 that X signed.
    new = tmp_path / "new"
    new.mkdir()
    new_root = new / "root"
    new_root.write_bytes(kit.f.root_doc([kit.X], 1, [kit.X], 1))
    v1_x = kit.app_bundle(new, "v1x", 1, device_class="sim", signers=(kit.X,))

    err = _refused(kit.sim(dev, *provision, "--root", new_root, "--bundle", v1_x))
    assert "already provisioned" in err and "--force" in err
    assert "active: slot 1 version 2" in _ok(kit.sim(dev, "status"))

    _ok(kit.sim(dev, *provision, "--root", new_root, "--bundle", v1_x, "--force"))
    status = _ok(kit.sim(dev, "status"))
    assert "active: slot 0 version 1" in status and "min security counter: 1" in status
    # The new root is the one in force: a bundle signed by the old update
    # key A alone is no longer trusted.
    assert _refused(kit.sim(dev, "install", "--source", r["v2"])) == "sim: refused: unknown-key"


def test_a_refused_provision_leaves_nothing_half_made_and_can_be_run_again(tmp_path, release):
    r = release
    dev = tmp_path / "dev"
    provision = ("provision", "--root", r["root"], "--bundle", r["v1"], "--backoff-ms", "0")
    assert _refused(kit.sim(dev, *provision, "--device-class", "other")) == \
        "sim: refused: wrong-device-class"
    assert sorted(p.name for p in dev.iterdir()) == []
    assert _refused(kit.sim(dev, "status")) == "sim: not done: not-provisioned"
    assert "provisioned with version 1" in _ok(kit.sim(dev, *provision, "--device-class", "sim"))


@pytest.mark.parametrize("args, line", [
    (("status",), "sim: not done: not-provisioned"),
    (("log",), "sim: not done: not-provisioned"),
    (("check",), "sim: not done: not-provisioned"),
    (("set", "source", "x"), "sim: not done: not-provisioned"),
    (("provision", "--root", "nope.doc", "--bundle", "b", "--device-class", "c"),
     "sim: cannot read nope.doc"),
    (("provision", "--root", "ROOT", "--bundle", "b", "--device-class", "c", "--slot-size", "abc"),
     "sim: usage: --slot-size needs a number"),
    (("provision", "--root", "ROOT", "--bundle", "b", "--device-class", "c", "--bogus", "1"),
     "sim: usage: unknown option --bogus"),
    (("install", "--sorce", "b"), "sim: usage: unknown option --sorce"),
])
def test_bad_input_to_the_simulator_is_one_line_not_a_traceback(tmp_path, release, args, line):
    args = [release["root"] if a == "ROOT" else a for a in args]
    proc = kit.sim(tmp_path / "nodev", *args)
    assert (proc.returncode, proc.stderr) == (1, line + "\n")


def test_the_simulator_without_a_command_prints_its_usage(tmp_path):
    for args in ((), ("frob",)):
        proc = kit.sim(tmp_path / "dev", *args)
        assert proc.returncode == 1 and proc.stdout.startswith("usage: ") and not proc.stderr
        assert "provision --root FILE" in proc.stdout


def test_set_refuses_a_key_the_device_does_not_read(tmp_path, release):
    r = release
    dev = tmp_path / "dev"
    _ok(kit.sim(dev, "provision", "--root", r["root"], "--bundle", r["v1"], "--device-class", "sim"))
    err = _refused(kit.sim(dev, "set", "allow_htp", "true"))
    assert err.startswith("sim: usage: set: unknown key allow_htp (one of ") and "allow_http" in err
    assert _refused(kit.sim(dev, "set", "buffer", "abc")) == "sim: usage: set: buffer needs a number"
    assert _refused(kit.sim(dev, "set", "clock", "no")) == "sim: usage: set: clock is true or false"
    _ok(kit.sim(dev, "status"))  # nothing was written


def test_boot_of_a_board_never_provisioned_is_refused_by_name(unix_target, tmp_path):
    r = kit.run(unix_target, """
import os
os.chdir({d!r})
import mpota
emit("boot", outcome(lambda: mpota.boot()))
""".format(d=str(tmp_path)))
    assert r["boot"] == {"refused": "not-provisioned"}


def test_a_plain_http_source_not_allowed_says_how_to_allow_it(tmp_path, release):
    r = release
    dev = tmp_path / "dev"
    _ok(kit.sim(dev, "provision", "--root", r["root"], "--bundle", r["v1"], "--device-class", "sim",
                "--backoff-ms", "0"))
    _ok(kit.sim(dev, "set", "source", "http://127.0.0.1:9/v2/"))
    assert _refused(kit.sim(dev, "install")) == (
        "sim: transfer failed: tls (plain http:// needs allow_http: provision --allow-http, "
        "or set allow_http true)")
