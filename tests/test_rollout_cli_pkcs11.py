# SPDX-License-Identifier: MIT
"""The control key in a PKCS#11 token (SoftHSM2, key made inside it by
OpenSC's pkcs11-tool): `mpota control -k pkcs11:...` and the fleet
service's load_signer() sign control documents that verify."""

import json
import os
import shutil
import subprocess

import pytest

from bundles import factory as f
from bundles.cliworld import World, ok
from mpota_host.rollout import control

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "135246"
URI = "pkcs11:token=mpota-ctl;object=control"


def _tool(name):
    path = shutil.which(name)
    if not path or not os.path.exists(MODULE):
        pytest.fail("{} or {} missing: run make setup (Debian softhsm2, opensc)".format(name, MODULE),
                    pytrace=False)
    return path


@pytest.fixture
def hsm(tmp_path, monkeypatch):
    d = tmp_path / "softhsm"
    (d / "tokens").mkdir(parents=True)
    conf = d / "softhsm2.conf"
    conf.write_text("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n"
                    .format(d / "tokens"))
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    subprocess.run([_tool("softhsm2-util"), "--init-token", "--free", "--label", "mpota-ctl",
                    "--pin", PIN, "--so-pin", "97531"], env=env, check=True, capture_output=True)
    subprocess.run([_tool("pkcs11-tool"), "--module", MODULE, "--token-label", "mpota-ctl",
                    "--login", "--pin", PIN, "--keypairgen", "--key-type", "EC:edwards25519",
                    "--label", "control", "--id", "c1"], env=env, check=True, capture_output=True)
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    monkeypatch.setenv("HSM_PIN", PIN)
    return {"SOFTHSM2_CONF": str(conf), "HSM_PIN": PIN}


def test_control_key_held_in_a_token_pauses_a_rollout(tmp_path, hsm):
    w = World(tmp_path / "w")
    ok(f.cli("pubkey", "-k", URI, "--pin-env", "HSM_PIN", "-o", tmp_path / "hsm.pub", env=hsm))
    ok(w.mpota("root", "rotate", w.root, "-o", tmp_path / "root2", "-k", w.key("root"),
               "--control-key", tmp_path / "hsm.pub", "--control-threshold", 1))
    b = w.bundle()
    p = w.plan(b)
    ok(w.mpota("publish", w.repo, "--root", w.root, "--root", tmp_path / "root2", "--bundle", b,
               "--plan", p))
    # The file control key of root 1 is retired by root 2.
    assert "not a control key of root version 2" in w.control("run", "fw-2").stderr
    ok(f.cli("control", "run", "fw-2", "--repo", w.repo, "-k", URI, "--pin-env", "HSM_PIN", env=hsm))
    ok(w.verify())
    signer = control.load_signer(URI, pin_env="HSM_PIN")
    written = control.update(str(w.repo), "fw-2", "pause", signer)
    assert written.version == 2 and written.entries[0][1] == 2
    report = w.verify_json()
    assert report["root_version"] == 2 and report["plans"][0]["state"] == "pause"


def test_ledger_record_of_a_token_held_key_is_signed_in_the_token(tmp_path, hsm):
    # The release ledger signs each record with the action's own key: a
    # key that never leaves the token signs its record there too.
    w = World(tmp_path / "w")
    ok(f.cli("pubkey", "-k", URI, "--pin-env", "HSM_PIN", "-o", tmp_path / "hsm.pub", env=hsm))
    ok(w.mpota("root", "rotate", w.root, "-o", tmp_path / "root2", "-k", w.key("root"),
               "--control-key", tmp_path / "hsm.pub", "--control-threshold", 1))
    b = w.bundle()
    ok(w.mpota("publish", w.repo, "--root", w.root, "--root", tmp_path / "root2", "--bundle", b,
               "--plan", w.plan(b)))
    ledger = tmp_path / "ledger"
    ok(f.cli("control", "run", "fw-2", "--repo", w.repo, "-k", URI, "--pin-env", "HSM_PIN",
             "--ledger", ledger, env=hsm))
    ok(w.mpota("audit", ledger, "--trust", tmp_path / "hsm.pub"))
    (rec,) = json.loads(ok(w.mpota("audit", ledger, "--json")).stdout)["records"]
    assert rec["action"] == "control-run"
    # Another key: the record is not accepted as the token's.
    assert w.mpota("audit", ledger, "--trust", w.pub("ctl")).returncode == 1
