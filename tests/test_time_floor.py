# SPDX-License-Identifier: MIT
"""A clock the agent does not take on faith (issue 16; docs/SECURITY.md,
"Time"): the time floor is the newest offline-signed issue time the device
accepted, and the agent's release time. A clock below it is unknown and
the floor is used, so an expired manifest is refused even on a board whose
clock reads 1970 or 2000 or that has none."""

import pytest

from agent import kit
from mpota import clock
from mpota.update import offer
from mpota.update.install import Install
from mpota.source.local import LocalSource
from rollouts import device as rd
from rollouts import docs
from rollouts.docs import DAY, NOW

Y1970, Y2000, FAR = 0, 946684800, NOW + 20 * 365 * DAY


def test_judge_is_a_table_of_clock_against_floor():
    floor = 1_800_000_000
    assert clock.judge(None, floor) == floor  # no clock
    assert clock.judge(Y1970, floor) == floor  # reset RTC
    assert clock.judge(Y2000, floor) == floor  # ports counting from 2000
    assert clock.judge(floor + 5, floor) == floor + 5  # a clock at or above: believed
    assert clock.judge(FAR, floor) == FAR  # far future: believed (fails closed)
    assert clock.control_now(None, floor, floor + 99) == floor + 99
    assert clock.control_now(floor + 200, floor, floor + 99) == floor + 200
    assert clock.raised(10, 5) == 10 and clock.raised(10, 20) == 20
    assert clock.raised(0, 1 << 40) == 0xFFFFFFFF


def test_agent_release_time_is_not_in_the_future():
    # A floor above the real time would make every expiry look passed.
    assert clock.AGENT_TIME <= NOW


def _device(tmp, name, **cfg):
    repo = docs.Repo(tmp / (name + "-repo"))
    v1 = rd.app_bundle(tmp, name + "-v1", 1)
    return rd.make(tmp, name, repo, v1, **cfg)


def _bundle(tmp, name, version, expires=None, issued=None):
    return kit.app_bundle(tmp, name, version, signers=(docs.A,), device_class="esp32",
                          expires=expires, issued=issued)


@pytest.mark.parametrize("reading", [Y1970, Y2000, None], ids=["1970", "2000", "no-clock"])
def test_manifest_that_expired_before_the_agent_release_is_refused_whatever_the_clock(
        tmp_path, reading):
    cfg = {"clock": False} if reading is None else {"now": reading}
    dev = _device(tmp_path, "d", **cfg)
    stale = _bundle(tmp_path, "stale", 2, expires=clock.AGENT_TIME - DAY)
    with pytest.raises(Exception) as e:
        offer.check(dev, LocalSource(str(stale)))
    assert e.value.reason == "expired"


@pytest.mark.parametrize("reading", [Y1970, Y2000, None], ids=["1970", "2000", "no-clock"])
def test_manifest_that_expired_before_one_already_installed_is_refused(tmp_path, reading):
    # The simulator case of issue 16: after installing a manifest issued
    # at T, a manifest that expired before T must not pass on a 2000 clock.
    cfg = {"clock": False} if reading is None else {"now": reading}
    dev = _device(tmp_path, "d", **cfg)
    fresh = _bundle(tmp_path, "fresh", 2, issued=NOW)
    assert Install(dev, LocalSource(str(fresh))).run().outcome == "installed"
    assert dev.load().time_floor == NOW
    rd.boot_and_confirm(dev)
    stale = _bundle(tmp_path, "stale", 3, expires=NOW - DAY)
    with pytest.raises(Exception) as e:
        offer.check(dev, LocalSource(str(stale)))
    assert e.value.reason == "expired"


def test_clock_now_accepts_a_manifest_that_has_not_expired(tmp_path):
    dev = _device(tmp_path, "d", now=NOW)
    good = _bundle(tmp_path, "good", 2, expires=NOW + DAY)
    m, what = offer.check(dev, LocalSource(str(good)))
    assert (m.version, what) == (2, "update")


def test_clock_far_in_the_future_refuses_a_manifest_that_expires_before_it(tmp_path):
    dev = _device(tmp_path, "d", now=FAR)
    good = _bundle(tmp_path, "good", 2, expires=NOW + DAY)
    with pytest.raises(Exception) as e:
        offer.check(dev, LocalSource(str(good)))
    assert e.value.reason == "expired"


def test_root_issue_time_raises_the_floor_before_any_manifest(tmp_path):
    repo = docs.Repo(tmp_path / "repo")
    v1 = rd.app_bundle(tmp_path, "v1", 1)
    dev = rd.make(tmp_path, "d", repo, v1, root_doc=docs.root(issued=NOW), now=Y2000)
    stale = _bundle(tmp_path, "stale", 2, expires=NOW - DAY)
    with pytest.raises(Exception) as e:
        offer.check(dev, LocalSource(str(stale)))
    assert e.value.reason == "expired"


def test_simulated_device_on_micropython_with_a_2000_clock_refuses_the_stale_manifest(
        unix_target, tmp_path):
    root = tmp_path / "root.bin"
    root.write_bytes(docs.root())
    v1 = rd.app_bundle(tmp_path, "v1", 1)
    v2 = _bundle(tmp_path, "v2", 2, issued=NOW)
    stale = _bundle(tmp_path, "stale", 3, expires=NOW - DAY)
    dev = tmp_path / "dev"
    assert kit.sim(dev, "provision", "--root", root, "--bundle", v1, "--device-class",
                   "esp32", "--now", Y2000).returncode == 0
    assert kit.sim(dev, "install", "--source", v2).returncode == 0
    # v2's app confirms itself once its health check passes.
    assert "health check passed True" in kit.sim(dev, "reboot").stdout
    out = kit.sim(dev, "check", "--source", stale)
    assert out.returncode == 1 and "refused: expired" in out.stderr, out.stdout + out.stderr


@pytest.mark.parametrize("env,args,line", [
    ({}, ["--issued", "2099-01-01"], "--issued 2099-01-01 is in the future"),
    ({"SOURCE_DATE_EPOCH": "soon"}, [], "SOURCE_DATE_EPOCH is not a number of seconds: soon"),
])
def test_sign_refuses_an_issue_time_that_would_push_device_floors_ahead(tmp_path, env, args,
                                                                         line):
    # A floor in the future would make every device's clock look slow and
    # every document expire early: the signer never writes one.
    import os
    import subprocess

    from bundles import factory as f

    key, _ = docs.A.write(tmp_path)
    (tmp_path / "image").write_bytes(b"x" * 100)
    out = subprocess.run([str(f.MPOTA), "sign", str(tmp_path / "image"), "-k", str(key),
                          "--version", "1", "--security-counter", "1", "--device-class", "esp32",
                          "-o", str(tmp_path / "b")] + args, capture_output=True, text=True,
                         env=dict(os.environ, **env), timeout=120)
    assert out.returncode == 1 and out.stderr.strip() == "mpota: " + line
    assert not (tmp_path / "b").exists()


def test_sign_takes_source_date_epoch_for_reproducible_manifests(tmp_path):
    import os
    import subprocess

    from bundles import factory as f
    from mpota.bundle import format as F

    key, _ = docs.A.write(tmp_path)
    (tmp_path / "image").write_bytes(b"x" * 100)
    docs_out = []
    for n in (1, 2):
        out = subprocess.run([str(f.MPOTA), "sign", str(tmp_path / "image"), "-k", str(key),
                              "--version", "1", "--security-counter", "1", "--sequence", "1",
                              "--device-class", "esp32", "-o", str(tmp_path / "b{}".format(n))],
                             capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, SOURCE_DATE_EPOCH="1790000000"))
        assert out.returncode == 0, out.stderr
        docs_out.append((tmp_path / "b{}".format(n) / "manifest").read_bytes())
    assert docs_out[0] == docs_out[1]
    signed = F.frame(docs_out[0], F.DOC_MANIFEST)
    assert F.manifest(docs_out[0], signed).issued == 1790000000
