# SPDX-License-Identifier: MIT
"""`mpota root`: create a threshold root, sign it offline key by key,
rotate it (revoking a key), publish the rotation in a bundle, and see
devices (here `mpota verify`) follow it."""

import json

import pytest

from bundles import factory as f


@pytest.fixture
def keys(tmp_path):
    # Key files as `mpota keygen` writes them (keygen has its own tests).
    for name in ("r1", "r2", "r3", "u1", "u2", "u3"):
        f.Key("cli-root-" + name).write(tmp_path, name)
    (tmp_path / "fw.bin").write_bytes(f.image(50000, seed=5))
    return tmp_path


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def init_root(d, *sign_with):
    args = ["root", "init", "-o", d / "root1"]
    for r in ("r1", "r2", "r3"):
        args += ["--root-key", d / (r + ".pub")]
    args += ["--root-threshold", 2, "--update-key", d / "u1.pub", "--update-key", d / "u2.pub",
             "--update-threshold", 1]
    for k in sign_with:
        args += ["-k", d / (k + ".key")]
    return f.cli(*args)


def test_root_is_signed_offline_one_key_at_a_time(keys):
    ok(init_root(keys))
    show = f.cli("root", "show", keys / "root1")
    assert f.refusal(show) == "below-threshold"
    ok(f.cli("root", "sign", keys / "root1", "-k", keys / "r1.key"))
    assert f.refusal(f.cli("root", "show", keys / "root1")) == "below-threshold"
    ok(f.cli("root", "sign", keys / "root1", "-k", keys / "r3.key"))
    info = json.loads(ok(f.cli("root", "show", keys / "root1", "--json")).stdout)
    assert info["version"] == 1 and info["root_threshold"] == 2 and len(info["signatures"]) == 2
    assert len(info["update_keys"]) == 2


def test_rotation_revokes_a_key_and_devices_follow_it(keys):
    ok(init_root(keys, "r1", "r2"))
    bundle = keys / "b"
    ok(f.cli("sign", keys / "fw.bin", "-k", keys / "u2.key", "--version", 1, "--security-counter", 1,
             "--device-class", "esp32", "-o", bundle))
    ok(f.cli("verify", bundle, "--trust", keys / "root1"))
    # Root 2: u2 is compromised and replaced by u3; r3 retires, so the
    # new root keys are r1, r2 (2 of 2). Signed by 2 old and both new.
    ok(f.cli("root", "rotate", keys / "root1", "-o", keys / "root2",
             "--root-key", keys / "r1.pub", "--root-key", keys / "r2.pub",
             "--update-key", keys / "u1.pub", "--update-key", keys / "u3.pub",
             "-k", keys / "r1.key", "-k", keys / "r2.key"))
    show = ok(f.cli("root", "show", keys / "root2", "--trust", keys / "root1"))
    assert "rotation from version 1" in show.stdout
    # Verifying with the rotation: u2's signature no longer counts.
    assert f.refusal(f.cli("verify", bundle, "--trust", keys / "root1", "--root", keys / "root2")) \
        == "unknown-key"
    # Published inside the bundle, devices provisioned with root 1 pick it up.
    ok(f.cli("sign", keys / "fw.bin", "-k", keys / "u2.key", "--version", 2, "--security-counter", 1,
             "--device-class", "esp32", "-o", bundle, "--force", "--root", keys / "root2"))
    assert (bundle / "roots" / "2").read_bytes() == (keys / "root2").read_bytes()
    assert f.refusal(f.cli("verify", bundle, "--trust", keys / "root1")) == "unknown-key"
    ok(f.cli("cosign", bundle, "-k", keys / "u3.key"))
    out = ok(f.cli("verify", bundle, "--trust", keys / "root1")).stdout
    assert "root version 2" in out


def test_rotation_signed_only_by_new_keys_is_refused(keys):
    ok(init_root(keys, "r1", "r2"))
    ok(f.cli("root", "rotate", keys / "root1", "-o", keys / "root2",
             "--root-key", keys / "u3.pub", "--root-threshold", 1, "-k", keys / "u3.key"))
    assert f.refusal(f.cli("root", "show", keys / "root2", "--trust", keys / "root1")) == "unknown-key"
    ok(f.cli("root", "sign", keys / "root2", "-k", keys / "r3.key"))
    assert f.refusal(f.cli("root", "show", keys / "root2", "--trust", keys / "root1")) \
        == "below-threshold"
    ok(f.cli("root", "sign", keys / "root2", "-k", keys / "r2.key"))
    ok(f.cli("root", "show", keys / "root2", "--trust", keys / "root1"))


def test_root_options_out_of_range_are_refused(keys):
    proc = f.cli("root", "init", "-o", keys / "r", "--root-key", keys / "r1.pub", "--root-threshold", 2,
                 "--update-key", keys / "u1.pub", "--update-threshold", 1)
    assert proc.returncode == 1 and "threshold 2" in proc.stderr
    proc = f.cli("root", "init", "-o", keys / "r", "--root-key", keys / "r1.pub",
                 "--root-key", keys / "r1.pub", "--root-threshold", 1,
                 "--update-key", keys / "u1.pub", "--update-threshold", 1)
    assert proc.returncode == 1 and "twice" in proc.stderr
    assert not (keys / "r").exists()


def test_root_expiry_is_enforced_at_verify_time(keys):
    ok(f.cli("root", "init", "-o", keys / "root1", "--root-key", keys / "r1.pub", "--root-threshold", 1,
             "--update-key", keys / "u1.pub", "--update-threshold", 1, "--expires", "2030-01-01",
             "-k", keys / "r1.key"))
    ok(f.cli("sign", keys / "fw.bin", "-k", keys / "u1.key", "--version", 1, "--security-counter", 1,
             "--device-class", "esp32", "-o", keys / "b"))
    ok(f.cli("verify", keys / "b", "--trust", keys / "root1", "--at", "2029-12-31T23:59:59Z"))
    assert f.refusal(f.cli("verify", keys / "b", "--trust", keys / "root1", "--at", "2030-01-01")) \
        == "root-expired"


def test_pub_key_trust_cannot_take_rotations(keys):
    ok(init_root(keys, "r1", "r2"))
    proc = f.cli("verify", keys, "--trust", keys / "u1.pub", "--root", keys / "root1")
    assert proc.returncode == 1 and "root document" in proc.stderr


def test_unsigned_root_is_still_shown_before_it_is_refused(keys):
    ok(init_root(keys))
    show = f.cli("root", "show", keys / "root1")
    assert f.refusal(show) == "below-threshold"
    assert "root version 1" in show.stdout and "signatures: none" in show.stdout
    assert "accepted: no" in show.stdout
    info = json.loads(f.cli("root", "show", keys / "root1", "--json").stdout)
    assert info["accepted"] is None and info["refused"] == "below-threshold"


def test_root_signed_with_a_key_it_does_not_list_is_refused_before_writing(keys):
    proc = init_root(keys, "u1")  # an update key cannot sign the root
    assert proc.returncode == 1 and "is not a root key" in proc.stderr
    assert not (keys / "root1").exists()


def test_existing_root_document_is_not_overwritten_without_force(keys):
    ok(init_root(keys, "r1", "r2"))
    before = (keys / "root1").read_bytes()
    proc = init_root(keys, "r1", "r2")
    assert proc.returncode == 1 and "--force" in proc.stderr
    assert (keys / "root1").read_bytes() == before


@pytest.mark.parametrize("option", ["--root-threshold", "--update-threshold"])
def test_rotation_with_a_zero_threshold_is_refused_not_ignored(keys, option):
    ok(init_root(keys, "r1", "r2"))
    proc = f.cli("root", "rotate", keys / "root1", "-o", keys / "root2", option, 0)
    assert proc.returncode == 1 and "threshold 0 is not between 1 and" in proc.stderr
    assert not (keys / "root2").exists()


def test_rotation_says_which_signatures_it_still_needs(keys):
    ok(init_root(keys, "r1", "r2"))
    out = ok(f.cli("root", "rotate", keys / "root1", "-o", keys / "root2",
                   "--root-key", keys / "u3.pub", "--root-threshold", 1, "-k", keys / "u3.key")).stdout
    assert "still needs 2 more signatures of the root keys of version 1" in out
    out = ok(f.cli("root", "rotate", keys / "root1", "-o", keys / "root3",
                   "--root-key", keys / "u3.pub", "--root-threshold", 1,
                   "-k", keys / "r1.key", "-k", keys / "r2.key")).stdout
    assert "still needs 1 more signature of its own root keys" in out


def test_root_key_given_as_an_encrypted_private_key_uses_the_passphrase(keys):
    env = {"KEYPASS": "correct horse"}
    ok(f.cli("keygen", keys / "enc", "--passphrase-env", "KEYPASS", env=env))
    ok(f.cli("root", "init", "-o", keys / "root1", "--root-key", keys / "enc.key",
             "--root-threshold", 1, "--update-key", keys / "u1.pub", "--update-threshold", 1,
             "-k", keys / "enc.key", "--passphrase-env", "KEYPASS", env=env))
    ok(f.cli("root", "show", keys / "root1"))


def test_garbage_given_as_a_root_names_the_file(keys):
    (keys / "junk").write_bytes(b"\x00" * 40)
    proc = f.cli("root", "show", keys / "junk")
    assert proc.returncode == 1
    assert proc.stderr == "mpota: {} is not a root document: unknown-format\n".format(keys / "junk")
    ok(init_root(keys, "r1", "r2"))
    ok(f.cli("sign", keys / "fw.bin", "-k", keys / "u1.key", "--version", 1, "--security-counter", 1,
             "--device-class", "esp32", "-o", keys / "b"))
    proc = f.cli("verify", keys / "b", "--trust", keys / "root1", "--root", keys / "junk")
    assert f.refusal(proc) == "unknown-format"
    assert proc.stderr.rstrip().endswith("{} as a rotation of root version 1".format(keys / "junk"))
