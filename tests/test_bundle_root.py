# SPDX-License-Identifier: MIT
"""Trust root: provisioning, rotation (accepted and forged), revocation,
and the chain a device applies from a bundle's roots/ directory."""

import pytest

from bundles import factory as f
from mpota.bundle import directory, trust
from mpota.bundle import format as F
from mpota.bundle.error import BundleError
from mpota_host import roots

R1, R2, R3, N1, N2, U1, U2, X = f.keys("rot-r1", "rot-r2", "rot-r3", "rot-n1", "rot-n2",
                                       "rot-u1", "rot-u2", "rot-x")
V1 = f.root_doc([R1, R2, R3], 2, [U1, U2], 1)
ROOT1 = f.load_root(V1)


def reason(fn, *args):
    try:
        fn(*args)
    except BundleError as e:
        return e.reason
    return "ok"


def test_provisioned_root_needs_its_own_threshold():
    assert reason(trust.load_root, f.root_doc([R1, R2, R3], 2, [U1], 1, signers=[R1, R2])) == "ok"
    assert reason(trust.load_root, f.root_doc([R1, R2, R3], 2, [U1], 1, signers=[R1])) == "below-threshold"
    assert reason(trust.load_root, f.root_doc([R1, R2, R3], 2, [U1], 1, signers=[X, U1])) == "unknown-key"


def test_rotation_signed_by_old_and_new_thresholds_is_accepted():
    v2 = f.root_doc([R1, N1, N2], 2, [U2], 1, version=2, signers=[R2, R3, N1, N2])
    new = trust.rotate(ROOT1, v2)
    assert new.version == 2 and new.update_keys == (U2.public,)
    assert new.root_threshold == 2 and len(new.root_keys) == 3


def test_forged_rotation_signed_only_by_new_keys_is_refused():
    v2 = f.root_doc([N1, N2], 2, [X], 1, version=2, signers=[N1, N2])
    assert reason(trust.rotate, ROOT1, v2) == "unknown-key"


def test_rotation_with_one_old_key_is_below_the_old_threshold():
    v2 = f.root_doc([N1, N2], 2, [X], 1, version=2, signers=[R1, N1, N2])
    assert reason(trust.rotate, ROOT1, v2) == "below-threshold"


def test_rotation_without_its_own_threshold_is_refused():
    # The old keys agree, but the new root keys did not sign: they may not
    # even exist, which would leave the device unable to rotate again.
    v2 = f.root_doc([N1, N2], 2, [U1], 1, version=2, signers=[R1, R2, N1])
    assert reason(trust.rotate, ROOT1, v2) == "below-threshold"


def test_rotation_signature_by_update_key_does_not_count():
    v2 = f.root_doc([R1, R2, R3], 2, [U1], 1, version=2, signers=[R1, U1, U2])
    assert reason(trust.rotate, ROOT1, v2) == "below-threshold"
    v2 = f.root_doc([R1, R2, R3], 2, [U1], 1, version=2, signers=[U1, U2])
    assert reason(trust.rotate, ROOT1, v2) == "unknown-key"


@pytest.mark.parametrize("version", [1, 3, 0xFFFFFFFF])
def test_rotation_to_any_version_but_the_next_is_refused(version):
    doc = f.root_doc([R1, R2, R3], 2, [U1], 1, version=version, signers=[R1, R2])
    assert reason(trust.rotate, ROOT1, doc) == "wrong-root-version"


def test_replayed_old_root_cannot_roll_the_chain_back():
    v2 = f.root_doc([R1, R2, R3], 2, [U2], 1, version=2, signers=[R1, R2])
    root2 = trust.rotate(ROOT1, v2)
    assert reason(trust.rotate, root2, V1) == "wrong-root-version"


def test_manifest_signed_by_root_keys_is_refused_as_a_root(tmp_path):
    path = f.bundle(tmp_path / "b", b"x" * 100, [R1, R2])
    manifest = (path / "manifest").read_bytes()
    assert reason(trust.rotate, ROOT1, manifest) == "wrong-document"
    assert reason(trust.load_root, manifest) == "wrong-document"


def test_tampered_rotation_is_a_bad_signature():
    v2 = bytearray(f.root_doc([R1, R2, R3], 2, [X], 1, version=2, signers=[R1, R2]))
    v2[12] ^= 1  # inside the version field
    assert reason(trust.rotate, ROOT1, bytes(v2)) == "bad-signature"


def test_key_listed_twice_in_a_role_is_malformed():
    # Built by hand: the host builder refuses duplicates itself.
    from mpota_host import document as D

    fields = [D.uint(F.T_ROOT_VERSION, 1, 4), D.field(F.T_ROOT_KEY, R1.public),
              D.field(F.T_ROOT_KEY, R1.public), D.uint(F.T_ROOT_THRESHOLD, 2, 1),
              D.field(F.T_UPDATE_KEY, U1.public), D.uint(F.T_UPDATE_THRESHOLD, 1, 1)]
    signed = D.unsigned(F.DOC_ROOT, fields)
    doc = D.assemble(signed, [(R1.id, R1.sign(signed))])
    assert reason(trust.load_root, doc) == "malformed"


@pytest.mark.parametrize("root_t,update_t", [(0, 1), (2, 1), (1, 0), (1, 2)])
def test_threshold_outside_one_to_key_count_is_malformed(root_t, update_t):
    from mpota_host import document as D

    fields = [D.uint(F.T_ROOT_VERSION, 1, 4), D.field(F.T_ROOT_KEY, R1.public),
              D.uint(F.T_ROOT_THRESHOLD, root_t, 1), D.field(F.T_UPDATE_KEY, U1.public),
              D.uint(F.T_UPDATE_THRESHOLD, update_t, 1)]
    signed = D.unsigned(F.DOC_ROOT, fields)
    doc = D.assemble(signed, [(R1.id, R1.sign(signed))])
    assert reason(trust.load_root, doc) == "malformed"


def test_public_key_trust_cannot_be_rotated():
    assert reason(trust.rotate, trust.key_root(U1.public), V1) == "unknown-key"


def test_bundle_roots_directory_rotates_and_revokes(tmp_path):
    data = f.image(5000)
    path = f.bundle(tmp_path / "b", data, [U1])
    assert f.verdict(path, ROOT1) == "ok"
    # Root 2 revokes U1 in favour of U2 and is published in the bundle.
    v2 = f.root_doc([R1, R2, R3], 2, [U2], 1, version=2)
    (path / "roots").mkdir()
    (path / "roots" / "2").write_bytes(v2)
    assert f.verdict(path, ROOT1) == "unknown-key"
    f.resign(path, [U2])
    assert f.verdict(path, ROOT1) == "ok"
    assert directory.newest_root(str(path), ROOT1).version == 2


def test_forged_root_in_bundle_is_refused(tmp_path):
    path = f.bundle(tmp_path / "b", b"x" * 100, [X])
    (path / "roots").mkdir()
    (path / "roots" / "2").write_bytes(f.root_doc([X], 1, [X], 1, version=2))
    assert f.verdict(path, ROOT1) == "unknown-key"


def test_host_chain_matches_device_rotation():
    v2 = f.root_doc([R1, R2, R3], 2, [U2], 1, version=2, signers=[R1, R3])
    v3 = f.root_doc([N1], 1, [U1], 1, version=3, signers=[R1, R2, N1])
    newest = roots.chain(V1, [v2, v3])
    assert newest.version == 3 and newest.root_keys == (N1.public,)
