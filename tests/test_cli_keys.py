# SPDX-License-Identifier: MIT
"""`mpota keygen` and key files: PKCS#8 PEM, private file not readable by
others, optional passphrase, never silently overwritten."""

import stat

from cryptography.hazmat.primitives import serialization

from bundles import factory as f


def test_keygen_writes_a_private_pkcs8_key_and_its_public_key(tmp_path):
    proc = f.cli("keygen", tmp_path / "rel")
    assert proc.returncode == 0, proc.stderr
    key, pub = tmp_path / "rel.key", tmp_path / "rel.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    public = serialization.load_pem_public_key(pub.read_bytes())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw
    from mpota.bundle import format as F
    assert F.key_id(raw).hex() in proc.stdout


def test_keygen_json_names_the_files_and_the_key_id_for_scripts(tmp_path):
    import json

    from mpota.bundle import format as F

    proc = f.cli("keygen", tmp_path / "rel", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    pub = serialization.load_pem_public_key((tmp_path / "rel.pub").read_bytes())
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert out == {"key": str(tmp_path / "rel.key"), "pub": str(tmp_path / "rel.pub"),
                   "key_id": F.key_id(raw).hex(), "encrypted": False}


def test_keygen_refuses_to_overwrite_a_key(tmp_path):
    assert f.cli("keygen", tmp_path / "k").returncode == 0
    before = (tmp_path / "k.key").read_bytes()
    proc = f.cli("keygen", tmp_path / "k")
    assert proc.returncode == 1 and "--force" in proc.stderr
    assert (tmp_path / "k.key").read_bytes() == before
    assert f.cli("keygen", tmp_path / "k", "--force").returncode == 0
    assert (tmp_path / "k.key").read_bytes() != before


def test_encrypted_key_needs_its_passphrase_to_sign(tmp_path):
    env = {"KEYPASS": "correct horse"}
    assert f.cli("keygen", tmp_path / "enc", "--passphrase-env", "KEYPASS", env=env).returncode == 0
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "enc.key").read_bytes()
    (tmp_path / "img").write_bytes(b"firmware" * 100)
    sign = ["sign", tmp_path / "img", "-k", tmp_path / "enc.key", "--version", 1,
            "--security-counter", 1, "--device-class", "esp32", "-o", tmp_path / "b"]
    proc = f.cli(*sign)  # no terminal, no passphrase
    assert proc.returncode == 1 and "encrypted" in proc.stderr
    proc = f.cli(*sign, "--passphrase-env", "KEYPASS", env={"KEYPASS": "wrong"})
    assert proc.returncode == 1 and "passphrase" in proc.stderr
    proc = f.cli(*sign, "--passphrase-env", "KEYPASS", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f.cli("verify", tmp_path / "b", "--trust", tmp_path / "enc.pub").returncode == 0


def test_non_ed25519_key_is_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "img").write_bytes(b"x")
    proc = f.cli("sign", tmp_path / "img", "-k", tmp_path / "ec.key", "--version", 1,
                 "--security-counter", 1, "--device-class", "esp32", "-o", tmp_path / "b")
    assert proc.returncode == 1 and "not an Ed25519 key" in proc.stderr
    assert not (tmp_path / "b" / "manifest").exists()


def test_empty_passphrase_is_refused_rather_than_leaving_the_key_in_clear(tmp_path):
    proc = f.cli("keygen", tmp_path / "k", "--passphrase-env", "EMPTY", env={"EMPTY": ""})
    assert proc.returncode == 1 and "EMPTY is empty" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_asking_for_a_passphrase_without_a_terminal_is_one_line(tmp_path):
    import subprocess

    # A new session has no controlling terminal to ask on.
    proc = subprocess.run([str(f.MPOTA), "keygen", str(tmp_path / "k"), "--ask-passphrase"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          start_new_session=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == "mpota: no terminal to ask for the passphrase: give --passphrase-env VAR\n"
    assert list(tmp_path.iterdir()) == []


def test_wrong_passphrase_says_where_it_came_from(tmp_path):
    env = {"KEYPASS": "correct horse"}
    assert f.cli("keygen", tmp_path / "enc", "--passphrase-env", "KEYPASS", env=env).returncode == 0
    proc = f.cli("pubkey", "-k", tmp_path / "enc.key", "--passphrase-env", "KEYPASS",
                 env={"KEYPASS": "wrong"})
    assert proc.stderr == "mpota: {}: wrong passphrase (from $KEYPASS)\n".format(tmp_path / "enc.key")


def test_public_key_given_where_the_private_key_is_needed_says_so(tmp_path):
    assert f.cli("keygen", tmp_path / "k").returncode == 0
    proc = f.cli("pubkey", "-k", tmp_path / "k.pub")
    assert proc.returncode == 1 and "is a public key: give the private key" in proc.stderr


def test_pubkey_takes_exactly_one_key(tmp_path):
    assert f.cli("keygen", tmp_path / "a").returncode == 0
    proc = f.cli("pubkey", "-k", tmp_path / "a.key", "-k", tmp_path / "a.key", "-o", tmp_path / "x.pub")
    # The last -k wins, as for any single-valued option; no traceback.
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "x.pub").read_bytes() == (tmp_path / "a.pub").read_bytes()
    assert "repeat" not in f.cli("pubkey", "--help").stdout


def test_keygen_where_the_pub_would_be_a_directory_writes_nothing(tmp_path):
    (tmp_path / "d.pub").mkdir()
    proc = f.cli("keygen", tmp_path / "d", "--force")
    assert proc.returncode == 1 and "d.pub is a directory" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.pub"]


def test_offset_with_non_ascii_digits_is_a_bad_time(tmp_path):
    assert f.cli("keygen", tmp_path / "k").returncode == 0
    (tmp_path / "img").write_bytes(b"x" * 100)
    proc = f.cli("sign", tmp_path / "img", "-k", tmp_path / "k.key", "--version", 1,
                 "--security-counter", 1, "--device-class", "esp32", "--expires", "+\u00b2d",
                 "-o", tmp_path / "b")
    assert proc.returncode == 1 and proc.stderr.startswith("mpota: bad time")
