# SPDX-License-Identifier: MIT
"""Tampered bundles are refused by the device verifier, each with the
reason that names what was done to it (docs/FORMAT.md, "Reason codes").

Setup: root keys R; update keys A, B, C with threshold 2; the bundle is
signed by A and B, deflate on, 1 KB chunks; every test runs on the bundle
in the clear and encrypted (docs/FORMAT.md, "Encryption": the same
tampering is refused for the same reason, on the ciphertext).
"""
import hashlib


import shutil

import pytest

from bundles import factory as f
from mpota.bundle import format as F
from mpota_host import document as D

R, A, B, C, K = f.keys("tam-r", "tam-a", "tam-b", "tam-c", "tam-outsider")
ROOT_DOC = f.root_doc([R], 1, [A, B, C], 2)
ROOT = f.load_root(ROOT_DOC)
DATA = f.image(20000, seed=11)


@pytest.fixture(scope="module", params=["clear", "sealed"])
def pristine(tmp_path_factory, request):
    from mpota_host import seal

    sealed = {}
    if request.param == "sealed":
        sealed["encrypt_for"] = [seal.public_of(hashlib.sha256(b"tamper device").digest())]
    base = tmp_path_factory.mktemp("tamper")
    path = f.bundle(base / "good", DATA, [A, B], chunk_size=1024, compress="deflate",
                    hw_revs=["rev2", "rev3"], label="v1.0", expires=2_000_000_000,
                    min_agent=3, security_counter=5, sequence=40, **sealed)
    assert f.verdict(path, ROOT) == "ok"
    other = f.bundle(base / "other", f.image(20000, seed=12), [A, B], chunk_size=1024,
                     compress="deflate", **sealed)
    return path, other


@pytest.fixture
def bundle(pristine, tmp_path):
    return f.copy(pristine[0], tmp_path / "b")


def manifest(path):
    return bytearray((path / "manifest").read_bytes())


def put(path, doc):
    (path / "manifest").write_bytes(bytes(doc))


def signed_len(doc):
    return 8 + int.from_bytes(doc[6:8], "big")


# The manifest, byte by byte

def test_flipped_byte_anywhere_in_the_signed_fields_is_a_bad_signature(bundle):
    doc = manifest(bundle)
    tags = set()
    for tag, pos, n in f.fields(doc):
        tags.add(tag)
        # The tag, the length and every byte of the value.
        for at in range(pos - 2, pos + n):
            bad = bytearray(doc)
            bad[at] ^= 0x01
            put(bundle, bad)
            assert f.verdict(bundle, ROOT) == "bad-signature", (hex(tag), at)
    # Every manifest field was present and tried.
    sealed = {F.T_ENCRYPTION} if (bundle / "keys").is_dir() else set()
    assert tags == sealed | {F.T_PRODUCT, F.T_DEVICE_CLASS, F.T_HW_REV, F.T_TARGET, F.T_VERSION,
                    F.T_LABEL, F.T_SECURITY_COUNTER, F.T_SEQUENCE, F.T_EXPIRES,
                    F.T_MIN_AGENT, F.T_IMAGE_SIZE, F.T_IMAGE_SHA256, F.T_CHUNK_SIZE,
                    F.T_TABLE_SHA256, F.T_WINDOW_BITS}


@pytest.mark.parametrize("offset,reason", [
    (0, "unknown-format"), (3, "unknown-format"),   # magic
    (4, "unknown-format"),                          # format version
    (5, "wrong-document"),                          # doc type
    (6, "too-large"),                               # body length, high byte
])
def test_flipped_header_byte_is_refused_before_signatures(bundle, offset, reason):
    doc = manifest(bundle)
    doc[offset] ^= 0x80
    put(bundle, doc)
    assert f.verdict(bundle, ROOT) == reason


def test_changed_body_length_does_not_frame(bundle):
    doc = manifest(bundle)
    for delta in (-1, 1, 72, -72):
        bad = bytearray(doc)
        bad[6:8] = (int.from_bytes(doc[6:8], "big") + delta).to_bytes(2, "big")
        put(bundle, bad)
        # The byte now read as the signature count decides which limit
        # trips. Should that byte (inside a signature: an encrypted
        # bundle's differ from run to run) make the lengths add up, the
        # document frames and its signatures, over other bytes, fail.
        signed = 8 + int.from_bytes(bad[6:8], "big")
        count = bad[signed] if signed < len(bad) else None
        frames = count is not None and count <= F.MAX_SIGS and len(bad) == signed + 1 + 72 * count
        assert f.verdict(bundle, ROOT) in (("bad-signature", "unknown-key", "below-threshold") if frames
                                           else ("malformed", "too-large")), delta


def test_format_version_2_is_refused_even_when_signed(bundle):
    doc = manifest(bundle)
    signed = bytearray(doc[:signed_len(doc)])
    signed[4] = 2
    f.resign_body(bundle, bytes(signed), [A, B])
    assert f.verdict(bundle, ROOT) == "unknown-format"


def test_root_document_in_place_of_the_manifest_is_refused(bundle):
    put(bundle, ROOT_DOC)
    assert f.verdict(bundle, ROOT) == "wrong-document"


# Signatures

def test_flipped_byte_in_each_signature_is_a_bad_signature(bundle):
    doc = manifest(bundle)
    s = signed_len(doc)
    assert doc[s] == 2
    for i in range(2):
        for at in (8, 40, 71):  # R, S, last byte
            bad = bytearray(doc)
            bad[s + 1 + 72 * i + at] ^= 0x04
            put(bundle, bad)
            assert f.verdict(bundle, ROOT) == "bad-signature", (i, at)


def test_flipped_key_id_leaves_its_signature_uncounted(bundle):
    doc = manifest(bundle)
    s = signed_len(doc)
    for i in range(2):
        bad = bytearray(doc)
        bad[s + 1 + 72 * i] ^= 0x01
        put(bundle, bad)
        assert f.verdict(bundle, ROOT) == "below-threshold", i
    bad = bytearray(doc)
    bad[s + 1] ^= 0x01
    bad[s + 1 + 72] ^= 0x01
    put(bundle, bad)
    assert f.verdict(bundle, ROOT) == "unknown-key"


def test_changed_signature_count_does_not_frame(bundle):
    doc = manifest(bundle)
    s = signed_len(doc)
    for count, reason in ((1, "malformed"), (3, "malformed"), (9, "too-large"), (255, "too-large")):
        bad = bytearray(doc)
        bad[s] = count
        put(bundle, bad)
        assert f.verdict(bundle, ROOT) == reason, count


def test_trailing_bytes_after_the_signatures_are_refused(bundle):
    put(bundle, manifest(bundle) + b"\0")
    assert f.verdict(bundle, ROOT) == "malformed"


def test_signature_by_a_key_outside_the_root_is_an_unknown_key(bundle):
    f.resign(bundle, [K])
    assert f.verdict(bundle, ROOT) == "unknown-key"
    # With one listed key signing, the outsider just does not count.
    f.resign(bundle, [A, K])
    assert f.verdict(bundle, ROOT) == "below-threshold"


def test_one_valid_signature_is_below_a_threshold_of_two(bundle):
    f.resign(bundle, [A])
    assert f.verdict(bundle, ROOT) == "below-threshold"


def test_one_key_signing_twice_counts_once(bundle):
    doc = manifest(bundle)
    signed = bytes(doc[:signed_len(doc)])
    sig = A.sign(signed)
    f.resign(bundle, None, sigs=[(A.id, sig), (A.id, sig)])
    assert f.verdict(bundle, ROOT) == "below-threshold"


def test_unsigned_manifest_is_below_threshold(bundle):
    f.resign(bundle, None, sigs=[])
    assert f.verdict(bundle, ROOT) == "below-threshold"


def test_signature_of_another_manifest_is_a_bad_signature(bundle, pristine):
    doc = manifest(bundle)
    _, theirs = D.split((pristine[1] / "manifest").read_bytes(), F.DOC_MANIFEST)
    f.resign(bundle, None, sigs=theirs)
    assert f.verdict(bundle, ROOT) == "bad-signature"
    put(bundle, doc)
    assert f.verdict(bundle, ROOT) == "ok"


def test_any_two_of_three_update_keys_suffice(bundle):
    for pair in ([A, C], [C, B], [C, K, A]):
        f.resign(bundle, pair)
        assert f.verdict(bundle, ROOT) == "ok", [k.name for k in pair]


def test_revoked_key_no_longer_counts_after_rotation(bundle):
    f.resign(bundle, [A, C])
    assert f.verdict(bundle, ROOT) == "ok"
    # Root 2 drops C from the update keys.
    rotated = f.load_root(f.root_doc([R], 1, [A, B], 2, version=2))
    assert f.verdict(bundle, rotated) == "below-threshold"
    rotated = f.load_root(f.root_doc([R], 1, [A, B], 1, version=2))
    f.resign(bundle, [C])
    assert f.verdict(bundle, rotated) == "unknown-key"
    f.resign(bundle, [C, A])
    assert f.verdict(bundle, rotated) == "ok"


# Device facts

@pytest.mark.parametrize("policy,reason", [
    ({"device_class": "rp2040"}, "wrong-device-class"),
    ({"product": "other"}, "wrong-product"),
    ({"hw_rev": "rev1"}, "wrong-hw-rev"),
    ({"target": F.TARGET_APP}, "wrong-target"),
    ({"now": 2_000_000_000}, "expired"),
    ({"agent_version": 2}, "agent-too-old"),
    ({"min_security_counter": 6}, "rollback"),
    ({"last_sequence": 41}, "replay"),
])
def test_manifest_for_another_device_or_state_is_refused(bundle, policy, reason):
    assert f.verdict(bundle, ROOT, **policy) == reason


def test_manifest_fitting_the_device_is_accepted_at_its_edges(bundle):
    assert f.verdict(bundle, ROOT, device_class="esp32", product="mpota", hw_rev="rev3",
                     target=F.TARGET_FIRMWARE, now=1_999_999_999, agent_version=3,
                     min_security_counter=5, last_sequence=40) == "ok"


def test_expired_root_refuses_every_manifest(bundle):
    root = f.load_root(f.root_doc([R], 1, [A, B, C], 2, expires=1_000))
    assert f.verdict(bundle, root, now=999) == "ok"
    assert f.verdict(bundle, root, now=1_000) == "root-expired"


# Chunks and table

def test_flipped_byte_in_a_chunk_is_a_hash_mismatch(bundle):
    for c in f.chunk_files(bundle)[:5]:
        data = bytearray(c.read_bytes())
        data[len(data) // 2] ^= 0x10
        c.write_bytes(bytes(data))
        assert f.verdict(bundle, ROOT) == "hash-mismatch"
        data[len(data) // 2] ^= 0x10
        c.write_bytes(bytes(data))
    assert f.verdict(bundle, ROOT) == "ok"


def test_truncated_chunk_is_refused(bundle):
    c = f.chunk_files(bundle)[0]
    c.write_bytes(c.read_bytes()[:-1])
    assert f.verdict(bundle, ROOT) == "truncated-chunk"
    c.write_bytes(b"")
    assert f.verdict(bundle, ROOT) == "truncated-chunk"


def test_chunk_longer_than_declared_is_refused(bundle):
    c = f.chunk_files(bundle)[0]
    c.write_bytes(c.read_bytes() + b"\0")
    assert f.verdict(bundle, ROOT) == "too-large"


def test_dropped_chunk_is_refused(bundle):
    f.chunk_files(bundle)[3].unlink()
    assert f.verdict(bundle, ROOT) == "missing-chunk"


def test_swapped_chunks_are_refused(bundle):
    a, b = f.chunk_files(bundle)[:2]
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    assert f.verdict(bundle, ROOT) in ("hash-mismatch", "truncated-chunk", "too-large")
    # Same length: purely a content swap (sizes read once a and b are back).
    a.write_bytes(da)
    b.write_bytes(db)
    same = [c for c in f.chunk_files(bundle) if c.stat().st_size == 1024]
    x, y = same[:2]
    dx, dy = x.read_bytes(), y.read_bytes()
    x.write_bytes(dy)
    y.write_bytes(dx)
    assert f.verdict(bundle, ROOT) == "hash-mismatch"


def test_chunk_from_another_bundle_is_refused(bundle, pristine):
    mine = [c for c in f.chunk_files(bundle) if c.stat().st_size == 1024][0]
    theirs = [c for c in f.chunk_files(pristine[1]) if c.stat().st_size == 1024][0]
    shutil.copyfile(theirs, mine)
    assert f.verdict(bundle, ROOT) == "hash-mismatch"


def test_reordered_table_entries_are_refused(bundle):
    t = f.table_file(bundle)
    table = bytearray(t.read_bytes())
    table[0:72], table[72:144] = table[72:144], table[0:72]
    t.write_bytes(bytes(table))
    assert f.verdict(bundle, ROOT) == "hash-mismatch"


def test_table_of_another_bundle_is_refused(bundle, pristine):
    shutil.copyfile(f.table_file(pristine[1]), f.table_file(bundle))
    assert f.verdict(bundle, ROOT) == "hash-mismatch"


def test_truncated_or_extended_table_is_refused(bundle):
    t = f.table_file(bundle)
    table = t.read_bytes()
    t.write_bytes(table[:-1])
    assert f.verdict(bundle, ROOT) == "truncated-table"
    t.write_bytes(table + b"\0" * 72)
    assert f.verdict(bundle, ROOT) == "too-large"
    t.unlink()
    assert f.verdict(bundle, ROOT) == "missing-table"


def test_missing_manifest_is_refused(bundle):
    (bundle / "manifest").unlink()
    assert f.verdict(bundle, ROOT) == "missing-manifest"


def test_oversized_manifest_file_is_refused_unread(bundle):
    put(bundle, manifest(bundle) + b"\0" * F.MAX_DOC)
    assert f.verdict(bundle, ROOT) == "too-large"
