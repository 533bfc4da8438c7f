# SPDX-License-Identifier: MIT
"""Signing with a key that never leaves a PKCS#11 token: a SoftHSM2 token
made in a temporary directory, an Ed25519 key generated inside it with
OpenSC's pkcs11-tool, then `mpota sign -k pkcs11:...` and `mpota verify`."""

import os
import shutil
import subprocess

import pytest

from bundles import factory as f

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "246810"


def _tool(name):
    path = shutil.which(name)
    if not path or not os.path.exists(MODULE):
        pytest.fail("{} or {} missing: run make setup (Debian softhsm2, opensc)".format(name, MODULE),
                    pytrace=False)
    return path


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    """SOFTHSM2_CONF for a fresh token 'mpota-test' holding Ed25519 key 'release'."""
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n"
                    .format(d / "tokens"))
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    subprocess.run([_tool("softhsm2-util"), "--init-token", "--free", "--label", "mpota-test",
                    "--pin", PIN, "--so-pin", "13579"], env=env, check=True, capture_output=True)
    subprocess.run([_tool("pkcs11-tool"), "--module", MODULE, "--token-label", "mpota-test",
                    "--login", "--pin", PIN, "--keypairgen", "--key-type", "EC:edwards25519",
                    "--label", "release", "--id", "a1"], env=env, check=True, capture_output=True)
    (d / "fw.bin").write_bytes(f.image(300000, seed=9))
    return d, {"SOFTHSM2_CONF": str(conf), "HSM_PIN": PIN}


def test_bundle_signed_in_the_hsm_verifies(token):
    d, env = token
    uri = "pkcs11:token=mpota-test;object=release"
    pub = f.cli("pubkey", "-k", uri, "--pin-env", "HSM_PIN", "-o", d / "hsm.pub", env=env)
    assert pub.returncode == 0, pub.stderr
    proc = f.cli("sign", d / "fw.bin", "-k", uri, "--pin-env", "HSM_PIN", "--version", 4,
                 "--security-counter", 2, "--device-class", "rp2040", "-o", d / "b",
                 "--compress", "deflate", "--force", env=env)
    assert proc.returncode == 0, proc.stderr
    ok = f.cli("verify", d / "b", "--trust", d / "hsm.pub", "--device-class", "rp2040")
    assert ok.returncode == 0, ok.stderr
    assert "rp2040 firmware version 4" in ok.stdout


def test_uri_with_id_pin_value_and_module_path(token):
    d, env = token
    uri = "pkcs11:token=mpota-test;id=%a1?pin-value={}&module-path={}".format(PIN, MODULE)
    proc = f.cli("sign", d / "fw.bin", "-k", uri, "--version", 5, "--security-counter", 2,
                 "--device-class", "rp2040", "-o", d / "b2", "--force",
                 env={"SOFTHSM2_CONF": env["SOFTHSM2_CONF"], "MPOTA_PKCS11_MODULE": "/nonexistent.so"})
    assert proc.returncode == 0, proc.stderr
    pub = f.cli("pubkey", "-k", uri, env=env)
    (d / "by-id.pub").write_text(pub.stdout)
    assert f.cli("verify", d / "b2", "--trust", d / "by-id.pub").returncode == 0


def test_hsm_key_co_signs_with_a_file_key(token):
    d, env = token
    f.Key("pkcs11-file").write(d, "file")
    uri = "pkcs11:token=mpota-test;object=release"
    assert f.cli("pubkey", "-k", uri, "--pin-env", "HSM_PIN", "-o", d / "hsm.pub", env=env).returncode == 0
    root = d / "root"
    assert f.cli("root", "init", "-o", root, "--root-key", d / "file.pub", "--root-threshold", 1,
                 "--update-key", d / "file.pub", "--update-key", d / "hsm.pub",
                 "--update-threshold", 2, "-k", d / "file.key").returncode == 0
    proc = f.cli("sign", d / "fw.bin", "-k", d / "file.key", "-k", uri, "--pin-env", "HSM_PIN",
                 "--version", 6, "--security-counter", 2, "--device-class", "rp2040",
                 "-o", d / "b3", "--force", env=env)
    assert proc.returncode == 0, proc.stderr
    ok = f.cli("verify", d / "b3", "--trust", root)
    assert ok.returncode == 0 and "signed by 2 of 2" in ok.stdout


@pytest.mark.parametrize("uri,pin,message", [
    ("pkcs11:token=mpota-test;object=release", "000000", "login failed"),
    ("pkcs11:token=mpota-test;object=nosuchkey", PIN, "no Ed25519 key"),
    ("pkcs11:token=other-token;object=release", PIN, "matches 0 tokens"),
    ("pkcs11:token=mpota-test", PIN, "names no key"),
    ("pkcs11:token=mpota-test;colour=blue", PIN, "unknown PKCS#11 URI attribute"),
])
def test_hsm_errors_are_one_line_and_write_nothing(token, uri, pin, message):
    d, env = token
    proc = f.cli("sign", d / "fw.bin", "-k", uri, "--pin-env", "HSM_PIN", "--version", 1,
                 "--security-counter", 1, "--device-class", "x", "-o", d / "never",
                 env=dict(env, HSM_PIN=pin))
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert not (d / "never" / "manifest").exists()


def test_missing_module_is_reported(token):
    d, env = token
    proc = f.cli("pubkey", "-k", "pkcs11:token=mpota-test;object=release", "--pin-env", "HSM_PIN",
                 "--pkcs11-module", d / "missing.so", env=env)
    assert proc.returncode == 1 and "cannot load PKCS#11 module" in proc.stderr
