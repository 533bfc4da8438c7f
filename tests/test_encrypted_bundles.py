# SPDX-License-Identifier: MIT
"""Encrypted bundles (docs/FORMAT.md, "Encryption"): the key derivations
against RFC 5869, RFC 7748 and the cryptography package; the writer's
output; and the device on the unix port: it installs what was encrypted
for it (delta, resume, deflate, heap locked) and refuses, before writing
anything, a bundle for another device, a replaced or damaged key file,
and a chunk whose ciphertext was altered."""

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import crypto_cases as cc
from agent import kit
from bundles import factory as f
from mpota.bundle import format as F
from mpota.bundle.table import _problem
from mpota.crypto import hkdf as device_hkdf
from mpota.crypto import x25519 as device_x25519
from mpota_host import seal

RFC = json.loads((cc.VECTORS / "rfc7748_x25519.json").read_text())
IMG1 = kit.image(40 * kit.CHUNK, seed=21)
IMG2 = kit.changed(IMG1, [3, 17])  # two chunks differ from v1
IMG_ODD = kit.image(40 * kit.CHUNK - 333, seed=22)  # a last chunk of 691 bytes


def _private(seed):
    return hashlib.sha256(b"mpota test x25519 " + seed).digest()


DEVICE = _private(b"device")
OTHER = _private(b"other")
CLASS = _private(b"class")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("sealed")
    for name, key in (("device.key", DEVICE), ("other.key", OTHER), ("class.key", CLASS)):
        (d / name).write_bytes(key)
    me, other, cls = (seal.public_of(k) for k in (DEVICE, OTHER, CLASS))
    b = {"dir": d, "root": kit.root(d),
         "v1": kit.bundle(d, "v1", IMG1, version=1, security_counter=2, sequence=5),
         "v2e": kit.bundle(d, "v2e", IMG2, version=2, security_counter=3, sequence=6,
                           encrypt_for=[other, me]),
         "v2ez": kit.bundle(d, "v2ez", IMG2, version=2, security_counter=3, sequence=6,
                            encrypt_for=[me], compress="deflate", window_bits=10),
         "odd": kit.bundle(d, "odd", IMG_ODD, version=3, security_counter=3, sequence=7,
                           encrypt_for=[cls]),
         "other": kit.bundle(d, "other", IMG2, version=2, security_counter=3, sequence=6,
                             encrypt_for=[other]),
         # The same image for the device again: another content secret.
         "again": kit.bundle(d, "again", IMG2, version=2, security_counter=3, sequence=6,
                             encrypt_for=[me])}
    return b


# Derivations -----------------------------------------------------------------


def test_device_hkdf_gives_rfc5869_test_case_1_and_agrees_with_cryptography():
    okm = device_hkdf.hkdf(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")
    for i in range(20):
        ikm, salt, info = os.urandom(32), os.urandom(i * 5), os.urandom(i)
        n = 16 + 7 * i
        want = HKDF(hashes.SHA256(), n, salt or None, info).derive(ikm)
        assert device_hkdf.hkdf(ikm, salt, info, n) == want


def test_fallback_x25519_gives_rfc7748_vectors_and_agrees_with_cryptography():
    ladder = device_x25519._ladder
    for v in RFC["vectors"]:
        assert ladder(bytes.fromhex(v["scalar"]), bytes.fromhex(v["u"])).hex() == v["output"]
    k = u = bytes.fromhex(RFC["iterated"]["start"])
    k, u = ladder(k, u), k
    assert k.hex() == RFC["iterated"]["after_1"]
    for _ in range(20):
        a, b = X25519PrivateKey.generate(), X25519PrivateKey.generate()
        a_raw = a.private_bytes_raw()
        b_pub = b.public_key().public_bytes_raw()
        assert ladder(a_raw, b_pub) == a.exchange(b.public_key())
        assert ladder(a_raw, device_x25519.BASE) == a.public_key().public_bytes_raw()
    # A small-order point agrees on nothing: the device refuses all zeros.
    assert ladder(a_raw, bytes(32)) == bytes(32)


# What the writer writes ----------------------------------------------------------


def _files(bundle):
    return [p for p in Path(bundle).rglob("*") if p.is_file()]


def test_no_file_of_an_encrypted_bundle_holds_the_image_in_the_clear(bundles):
    windows = {IMG2[i:i + 32] for i in range(0, len(IMG2) - 32, 32)}
    for name in ("v2e", "v2ez"):
        for p in _files(bundles[name]):
            data = p.read_bytes()
            assert not any(data[i:i + 32] in windows for i in range(len(data) - 31)), p
    # The control: the clear bundle's chunk files do hold it.
    clear = [p.read_bytes() for p in (bundles["v1"] / "chunks").iterdir()]
    assert any(IMG1[:32] in d for d in clear)


def test_each_recipient_gets_one_key_file_named_by_its_recipient_id(bundles):
    names = sorted(p.name for p in (bundles["v2e"] / "keys").iterdir())
    assert names == sorted(seal.recipient_id(seal.public_of(k)) for k in (DEVICE, OTHER))
    assert all(p.stat().st_size == F.WRAP_SIZE for p in (bundles["v2e"] / "keys").iterdir())


def test_table_entries_of_an_encrypted_bundle_are_held_to_whole_blocks(bundles):
    from mpota.bundle import directory

    m = directory.verify(str(bundles["odd"]), f.load_root(bundles["root"].read_bytes()))
    assert m.suite == F.SUITE_X25519_AES128
    last = m.chunk_count() - 1
    assert m.chunk_len(last) == 691

    def problem(i, codec, stored):
        e = bytes((codec, 0, 0, 0)) + stored.to_bytes(4, "big") + bytes(64)
        return _problem(m, i, e, 0)

    assert problem(last, F.CODEC_NONE, 704) is None  # 691 rounded up to 16
    assert problem(last, F.CODEC_NONE, 691) == "malformed"
    assert problem(last, F.CODEC_NONE, 720) == "malformed"
    assert problem(0, F.CODEC_NONE, 1024) is None
    assert problem(0, F.CODEC_NONE, 1040) == "malformed"
    # Deflated, without T_WINDOW_BITS in this manifest: refused.
    assert problem(0, F.CODEC_DEFLATE, 512) == "malformed"
    assert problem(0, 7, 1024) == "unknown-codec"
    # With a window: whole blocks, from one block up to the raw length's.
    m = directory.verify(str(bundles["v2ez"]), f.load_root(bundles["root"].read_bytes()))
    for stored, verdict in ((16, None), (512, None), (1024, None), (1040, "malformed"),
                            (0, "malformed"), (8, "malformed"), (520, "malformed")):
        e = bytes((F.CODEC_DEFLATE, 0, 0, 0)) + stored.to_bytes(4, "big") + bytes(64)
        assert _problem(m, 0, e, 0) == verdict, stored


def test_verify_checks_ciphertext_without_the_key_and_the_image_with_it(bundles, tmp_path):
    root = bundles["root"]
    out = f.cli("verify", str(bundles["v2e"]), "--trust", str(root), "--at", "2027-01-01")
    assert out.returncode == 0 and "image was not decrypted" in out.stdout
    out = f.cli("verify", str(bundles["v2e"]), "--trust", str(root), "--at", "2027-01-01",
                "--decrypt-key", str(bundles["dir"] / "device.key"))
    assert out.returncode == 0 and "image checked" in out.stdout
    out = f.cli("verify", str(bundles["v2e"]), "--trust", str(root), "--at", "2027-01-01",
                "--decrypt-key", str(bundles["dir"] / "class.key"))
    assert out.returncode == 1 and "not encrypted for key" in out.stderr


def test_a_signing_key_is_refused_as_an_encryption_recipient(bundles, tmp_path):
    img = tmp_path / "img.bin"
    img.write_bytes(IMG1[:5000])
    out = f.cli("sign", str(img), "-k", str(f.keys("seal-signer")[0].write(tmp_path)[0]),
                "-o", str(tmp_path / "b"), "--version", "1", "--security-counter", "1",
                "--device-class", "c", "--encrypt-for", str(tmp_path / "seal-signer.pub"))
    assert out.returncode == 1 and "not an X25519 public key" in out.stderr
    assert not (tmp_path / "b").exists()


# The device --------------------------------------------------------------------

_START = """
from mpota import trial
from mpota.errors import AgentError
from mpota.bundle.error import BundleError
from mpota.update.install import Install
dev = device({base!r}, decrypt_keys={keys!r})
provision(dev, {root!r}, {v1!r})

def attempt(bundle):
    try:
        return report(Install(dev, LocalSource(bundle)).run())
    except (AgentError, BundleError) as e:
        return e.reason

def progress():
    st = dev.load()
    return [st.p_units, st.p_fetched, st.p_copied, st.p_slot]
"""


def _start(tmp_path, bundles, keys=("device.key",)):
    return _START.format(base=str(tmp_path / "dev"), root=str(bundles["root"]),
                         v1=str(bundles["v1"]),
                         keys=[str(bundles["dir"] / k) for k in keys])


@pytest.mark.parametrize("which", ["v2e", "v2ez"])
def test_encrypted_update_installs_fetching_only_the_changed_chunks(unix_target, tmp_path, bundles, which):
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
emit("install", attempt({b!r}))
emit("slot1", slot_sha(dev, 1, {n}))
b = trial.boot(dev)
emit("boot", [b.slot, b.version, b.trial])
""".format(b=str(bundles[which]), n=len(IMG2)))
    rep = r["install"]
    assert rep["outcome"] == "installed"
    # Delta works through encryption: the 38 unchanged chunks are copied
    # from the running slot, compared by their plaintext hash.
    assert rep["fetched"] == 2 and rep["copied"] == 38
    assert r["slot1"] == hashlib.sha256(IMG2).hexdigest()
    assert r["boot"] == [1, 2, True]


def test_a_class_key_decrypts_an_image_whose_last_chunk_is_not_whole_blocks(unix_target, tmp_path, bundles):
    r = kit.run(unix_target, _start(tmp_path, bundles, keys=("device.key", "class.key")) + """
emit("install", attempt({b!r}))
emit("slot1", slot_sha(dev, 1, {n}))
""".format(b=str(bundles["odd"]), n=len(IMG_ODD)))
    assert r["install"]["outcome"] == "installed" and r["install"]["fetched"] == 40
    assert r["slot1"] == hashlib.sha256(IMG_ODD).hexdigest()


_REFUSED = """
before = [slot_sha(dev, 1, 65536), progress()]
emit("result", attempt({b!r}))
emit("unchanged", [slot_sha(dev, 1, 65536), progress()] == before)
emit("last", dev.load().last())
"""


def _refused(unix_target, tmp_path, bundles, bundle, keys=("device.key",)):
    r = kit.run(unix_target, _start(tmp_path, bundles, keys) + _REFUSED.format(b=str(bundle)))
    return r["result"], r["unchanged"], r["last"]


def test_bundle_encrypted_for_another_device_is_refused_before_anything_is_written(
        unix_target, tmp_path, bundles):
    from mpota.state import log as L

    reason, unchanged, last = _refused(unix_target, tmp_path, bundles, bundles["other"])
    assert reason == "not-for-device" and unchanged
    assert last[0] == L.VERIFY_FAIL and L.REASONS[last[1]] == "not-for-device"


def test_device_without_a_decryption_key_refuses_an_encrypted_bundle(unix_target, tmp_path, bundles):
    reason, unchanged, _ = _refused(unix_target, tmp_path, bundles, bundles["v2e"], keys=())
    assert reason == "not-for-device" and unchanged


def _tampered_keys(bundles, tmp_path, name, data):
    b = tmp_path / name
    shutil.copytree(bundles["v2e"], b)
    me = seal.recipient_id(seal.public_of(DEVICE))
    (b / "keys" / me).write_bytes(data(b / "keys" / me))
    return b


@pytest.mark.parametrize("how", ["from-another-bundle", "truncated", "flipped", "small-order"])
def test_a_replaced_or_damaged_key_file_is_refused_as_bad_key_wrap(unix_target, tmp_path, bundles, how):
    me = seal.recipient_id(seal.public_of(DEVICE))
    change = {
        # The device's own key file, but for another content secret: the
        # signed key check tells them apart.
        "from-another-bundle": lambda p: (bundles["again"] / "keys" / me).read_bytes(),
        "truncated": lambda p: p.read_bytes()[:63],
        "flipped": lambda p: p.read_bytes()[:40] + bytes([p.read_bytes()[40] ^ 1]) + p.read_bytes()[41:],
        # An ephemeral key of small order (zero): no shared secret at all.
        "small-order": lambda p: bytes(32) + p.read_bytes()[32:],
    }[how]
    b = _tampered_keys(bundles, tmp_path, "tampered", change)
    reason, unchanged, _ = _refused(unix_target, tmp_path, bundles, b)
    assert reason == "bad-key-wrap" and unchanged


def test_altered_ciphertext_is_refused_before_it_is_decrypted(unix_target, tmp_path, bundles):
    b = tmp_path / "flipped-chunk"
    shutil.copytree(bundles["v2e"], b)
    stream = next((b / "stream").iterdir())
    stream.unlink()  # so the chunk files are what the device reads
    table = next((b / "table").iterdir()).read_bytes()
    e = 17 * F.ENTRY_SIZE  # a chunk that differs from v1, so is fetched
    victim = b / "chunks" / table[e + F.E_STORED_SHA:e + F.E_STORED_SHA + 32].hex()
    data = bytearray(victim.read_bytes())
    data[100] ^= 0x01  # a CBC bit flip would change the plaintext as wished
    victim.write_bytes(bytes(data))
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
from mpota.update import sealed
calls = [0]
Real = sealed.SealedStream
class Counting(Real):
    def __init__(self, *a):
        calls[0] += 1
        Real.__init__(self, *a)
sealed.SealedStream = Counting
emit("result", attempt({b!r}))
emit("decrypted", calls[0])
""".format(b=str(b)))
    assert r["result"] == "hash-mismatch"
    # Chunk 3 was decrypted (and checked); chunk 17 never reached the cipher.
    assert r["decrypted"] == 1


def test_encrypted_install_resumes_after_a_dropped_transfer(unix_target, tmp_path, bundles):
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
src = FlakySource({b!r}, fail_at=1500, times=100, then=0)
try:
    Install(dev, src).run()
    emit("first", "no error")
except Exception as e:
    emit("first", getattr(e, "reason", repr(e)))
emit("second", report(Install(dev, LocalSource({b!r})).run()))
emit("slot1", slot_sha(dev, 1, {n}))
""".format(b=str(bundles["v2ez"]), n=len(IMG2)))
    assert r["first"] in ("closed", "truncated-chunk")
    assert r["second"]["outcome"] == "installed"
    assert r["slot1"] == hashlib.sha256(IMG2).hexdigest()


@pytest.mark.parametrize("which", ["v2e", "v2ez"])
def test_decrypting_chunk_loop_allocates_nothing_with_the_heap_locked(unix_target, tmp_path, bundles, which):
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
import micropython
inst = Install(dev, LocalSource({b!r}))
inst.hold = (micropython.heap_lock, micropython.heap_unlock)
emit("install", report(inst.run()))
""".format(b=str(bundles[which])))
    assert r["install"]["outcome"] == "installed" and r["install"]["fetched"] == 2


def test_status_shows_the_recipient_id_and_never_the_private_key(unix_target, tmp_path, bundles):
    me = seal.public_of(DEVICE)
    v1 = kit.app_bundle(tmp_path, "app1", 1)
    v2 = kit.app_bundle(tmp_path, "app2", 2, encrypt_for=[me])
    dev = tmp_path / "simdev"
    out = kit.sim(dev, "provision", "--root", bundles["root"], "--bundle", v1,
                  "--device-class", "esp32", "--now", "1800000000",
                  "--decrypt-key", bundles["dir"] / "device.key")
    assert out.returncode == 0, out.stderr
    out = kit.sim(dev, "install", "--source", v2)
    assert out.returncode == 0, out.stderr
    status = kit.sim(dev, "status").stdout
    assert "decrypt keys: {}".format(seal.recipient_id(me)) in status
    assert "trial: slot 1 version 2" in status
    everything = status + out.stdout + out.stderr + kit.sim(dev, "log").stdout + \
        (dev / "mpota.json").read_text()
    assert DEVICE.hex()[:16] not in everything and DEVICE.hex()[-16:] not in everything


def test_encrypted_deflated_app_installs_on_circuitpython_through_aesio(cpy, tmp_path, bundles):
    import targets

    v1 = kit.app_bundle(tmp_path, "cpy1", 1)
    v2 = kit.app_bundle(tmp_path, "cpy2", 2, compress="deflate", encrypt_for=[seal.public_of(DEVICE)])
    r = kit.run(cpy, """
from mpota import trial
from mpota.crypto import aes, x25519
from mpota.source.local import LocalSource
from mpota.update.install import Install
emit("runtime", [aes.kind(), x25519.IMPLEMENTATION])
dev = device({base!r}, bank="dir", target="app", slot_size=131072, decrypt_keys=[{key!r}])
provision(dev, {root!r}, {v1!r})
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
b = trial.boot(dev)
emit("boot", [b.version, b.trial])
""".format(base=str(tmp_path / "dev"), key=str(bundles["dir"] / "device.key"),
           root=str(bundles["root"]), v1=str(v1), v2=str(v2)),
        extra_path=list(targets.CPY_PATH), timeout=300)
    # CircuitPython has no cryptolib and no C module: aesio, and X25519
    # on Python integers.
    assert r["runtime"] == ["aesio", "python"]
    assert r["install"]["outcome"] == "installed" and r["install"]["fetched"] > 0
    assert r["boot"] == [2, True]
