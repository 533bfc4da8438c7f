# SPDX-License-Identifier: MIT
"""`mpota`: make keys, manage the trust root, sign, verify, inspect and
serve update bundles, and bring up boards over USB serial (`mpota device`).
One command table, one error type, one exit path."""

import argparse
import json
import os
import sys
import tempfile
import time

from mpota.bundle import directory, trust
from mpota.bundle import format as F
from mpota.bundle.error import BundleError

from . import apppack, auditcmd, files, keys, outdir, provenance, reasons, rootcmd, serve, streamfile
from . import seal, timefmt, writer
from . import signer as signing
from .device import commands as device
from .rollout import commands as rollout
from .fleet import cli as fleet
from . import inspect as inspect_mod
from .errors import CommandError
from .progress import Progress


def _when(text):
    return None if text is None else timefmt.parse(text)


def _issued(text):
    # The signed issue time raises each device's time floor (clock.py), so
    # it may not be ahead of now: that would make a device's clock look
    # slow. SOURCE_DATE_EPOCH gives reproducible builds the same bytes.
    import os

    now = int(time.time())
    if text is None:
        text = os.environ.get("SOURCE_DATE_EPOCH")
        if text is not None and not text.isdigit():
            raise CommandError("SOURCE_DATE_EPOCH is not a number of seconds: {}".format(text))
        issued = now if text is None else int(text)
    else:
        issued = int(text) if text.isascii() and text.isdigit() and len(text) <= 12 \
            else _when(text)
    if issued > now + 300:
        raise CommandError("--issued {} is in the future".format(text))
    return issued


# keygen / pubkey

def cmd_keygen(args):
    if args.x25519:
        return _keygen_x25519(args)
    if args.raw:
        raise CommandError("--raw is for an X25519 device key: give --x25519 too")
    passphrase = keys.passphrase_from(args.passphrase_env, args.ask_passphrase, confirm=True)
    key_path, pub_path, raw = keys.write_keypair(args.name, passphrase, args.force)
    if args.json:
        print(json.dumps({"key": key_path, "pub": pub_path, "key_id": keys.key_id_hex(raw),
                          "encrypted": passphrase is not None}, indent=2))
        return
    print("wrote {} and {} (key id {})".format(key_path, pub_path, keys.key_id_hex(raw)))


def _keygen_x25519(args):
    if args.passphrase_env or args.ask_passphrase:
        raise CommandError("an X25519 key is copied to its device in clear: it takes no passphrase "
                           "(keep NAME.key where only provisioning reads it)")
    key_path, pub_path, raw = seal.write_pair(args.name, args.force, raw=args.raw)
    if args.json:
        print(json.dumps({"key": key_path, "pub": pub_path, "recipient_id": seal.recipient_id(raw),
                          "kind": "x25519"}, indent=2))
        return
    print("wrote {} and {} (X25519, recipient id {}); sign for it with "
          "mpota sign --encrypt-for {}".format(key_path, pub_path, seal.recipient_id(raw), pub_path))


def cmd_pubkey(args):
    (signer,) = signing.from_options(args)
    if args.output:
        files.write(args.output, keys.public_pem(signer.public))
    else:
        sys.stdout.write(keys.public_pem(signer.public).decode())
    print("key id {}".format(keys.key_id_hex(signer.public)), file=sys.stderr)


# sign / cosign

def cmd_sign(args):
    # Every input is checked before a key is opened or the output touched.
    expires = _when(args.expires)
    if expires is not None and expires <= time.time():
        raise CommandError("--expires {} is in the past".format(args.expires))
    params = writer.Params(
        device_class=args.device_class, version=args.version,
        security_counter=args.security_counter,
        sequence=int(time.time()) if args.sequence is None else args.sequence,
        product=args.product, hw_revs=args.hw_rev or [], target=args.target,
        label=args.label or "", expires=expires, min_agent=args.min_agent,
        chunk_size=args.chunk_size, compress=args.compress, window_bits=args.window_bits,
        issued=_issued(args.issued))
    if args.build_time is not None:
        args.build_time = int(args.build_time) if args.build_time.isascii() and \
            args.build_time.isdigit() and len(args.build_time) <= 12 else _when(args.build_time)
    for name, value in provenance.gather(args, args.image, params.issued).items():
        setattr(params, name, value)
    params.encrypt_for = [seal.load_public(p) for p in args.encrypt_for or ()]
    writer.check(params)
    writer.check_key_count(len(args.key))
    writer.check_output(args.output, args.force)
    for path, what in outdir.leftovers(args.output):
        print("mpota: note: {} is left from an interrupted sign ({}); delete it when "
              "no sign is running".format(path, what), file=sys.stderr)
    published = [writer.read_root(p) for p in args.root or ()]
    record = auditcmd.Recorder(args)
    if not os.path.isdir(args.image):
        writer.check_image(args.image, args.target)
        if args.target == "app":
            apppack.check_file(args.image)
    elif args.target != "app":
        raise CommandError("{} is a directory: app images need --target app".format(args.image))
    progress = Progress("signing", True if args.progress else None)
    with tempfile.TemporaryDirectory() as tmp:
        image = args.image
        if os.path.isdir(image):
            image = os.path.join(tmp, "app.tar")
            files.write(image, apppack.pack(args.image))
        signers = signing.from_options(args)
        doc = writer.write_bundle(image, args.output, params, signers, force=args.force,
                                  roots=published, progress=progress)
    m = F.manifest(doc, F.frame(doc, F.DOC_MANIFEST))
    record.note("sign", {"manifest": auditcmd.sha256_hex(doc), "bundle": args.output,
                         "version": m.version, "security_counter": m.security_counter,
                         "label": m.label, "device_class": m.device_class, "target": args.target,
                         "encrypted_for": [seal.recipient_id(r) for r in params.encrypt_for]},
                signers)
    if args.json:
        print(json.dumps({"bundle": args.output, "version": m.version, "label": m.label,
                          "security_counter": m.security_counter, "sequence": m.sequence,
                          "image_size": m.image_size, "chunks": m.chunk_count(),
                          "signatures": len(args.key),
                          "encrypted_for": [seal.recipient_id(r) for r in params.encrypt_for]}, indent=2))
        return
    print("wrote {}: {} bytes in {} chunks, version {}, security counter {}, {} signatures".format(
        args.output, m.image_size, m.chunk_count(), m.version, m.security_counter, len(args.key)))


def cmd_cosign(args):
    record = auditcmd.Recorder(args)
    signers = signing.from_options(args)
    doc = writer.cosign(args.bundle, signers)
    record.note("cosign", {"manifest": auditcmd.sha256_hex(doc), "bundle": args.bundle}, signers)
    print("{}: manifest now has {} signatures".format(args.bundle, doc[F.frame(doc, F.DOC_MANIFEST)]))


# verify / inspect

def _trust(path, later):
    data = files.read(path, F.MAX_DOC + 1)
    if data.startswith(F.MAGIC.to_bytes(4, "big")):
        root = _document(path, data, trust.load_root, "a trusted root")
    elif b"PUBLIC KEY" in data or b"PRIVATE KEY" in data:
        if later:
            raise CommandError("--root needs a root document as --trust, not a key")
        return trust.key_root(keys.load_public(path))
    else:
        raise CommandError("{}: neither a root document nor a PEM public key".format(path))
    for p in later or ():
        root = _document(p, files.read(p, F.MAX_DOC + 1), lambda doc: trust.rotate(root, doc),
                         "a rotation of root version {}".format(root.version))
    return root


def _document(path, data, load, what):
    """load(data), with a refusal naming the file it came from."""
    try:
        return load(data)
    except BundleError as e:
        raise CommandError(reasons.refused(e.reason, "{} as {}".format(path, what)))


def cmd_verify(args):
    if rollout.Repo.is_repository(args.bundle):
        return rollout.verify_repo(args, _Quiet)
    inspect_mod.check_files(args.bundle)
    root = _trust(args.trust, args.root)
    root = directory.newest_root(args.bundle, root)
    now = int(time.time()) if args.at is None else timefmt.parse(args.at)
    progress = Progress("verifying", True if args.progress else None)
    policy = {"now": now, "device_class": args.device_class, "product": args.product,
              "hw_rev": args.hw_rev,
              "target": writer.TARGETS[args.target] if args.target else None}
    decrypt = None
    if args.decrypt_key:
        private = seal.load_private(args.decrypt_key)
        decrypt = lambda m: seal.device_cipher(args.bundle, private, m)  # noqa: E731
    try:
        m = directory.verify(args.bundle, root, progress=progress, decrypt=decrypt, **policy)
    except BundleError as e:
        if not args.json:
            raise
        # For scripts: the verdict on stdout, the exit status as without --json.
        print(json.dumps({"valid": False, "bundle": args.bundle, "reason": e.reason,
                          "meaning": reasons.meaning(e.reason)}, indent=2))
        raise _Quiet() from None
    streamfile.check(args.bundle, m)  # unsigned, but every byte as the table says
    if args.json:
        print(json.dumps({"valid": True, "bundle": args.bundle, "product": m.product,
                          "device_class": m.device_class,
                          "target": inspect_mod.TARGET_NAMES[m.target],
                          "version": m.version, "label": m.label,
                          "security_counter": m.security_counter, "sequence": m.sequence,
                          "image_size": m.image_size, "chunks": m.chunk_count(),
                          "signers": [k.hex() for k in m.signers],
                          "update_keys": len(root.update_keys),
                          "root_version": root.version, "encrypted": bool(m.suite),
                          "image_checked": decrypt is not None or not m.suite}, indent=2))
        return
    print("OK {}: {}/{} {} version {}{}, security counter {}, sequence {}, {} bytes in {} chunks, "
          "signed by {} of {} update keys ({}){}".format(
              args.bundle, m.product, m.device_class,
              inspect_mod.TARGET_NAMES[m.target], m.version,
              " ({})".format(m.label) if m.label else "", m.security_counter, m.sequence,
              m.image_size, m.chunk_count(), len(m.signers), len(root.update_keys),
              ", ".join(k.hex() for k in m.signers),
              ", root version {}".format(root.version) if root.version else ""))
    if m.suite and decrypt is None:
        print("encrypted: the chunks were checked as stored; the image was not decrypted "
              "(give --decrypt-key KEY to check it too)")
    elif m.suite:
        print("encrypted: decrypted with {}, image checked".format(args.decrypt_key))


class _Quiet(Exception):
    """Exit 1 with nothing more to say: the command has printed its answer."""


def cmd_inspect(args):
    info = inspect_mod.describe(args.bundle)
    print(json.dumps(info, indent=2) if args.json else inspect_mod.text(info))


def _parser():
    p = argparse.ArgumentParser(prog="mpota", description="Make keys, manage the trust root, sign, verify, inspect and serve mpota update bundles; bring up boards over USB serial.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    c = sub.add_parser("keygen", help="make an Ed25519 key pair NAME.key / NAME.pub (--x25519: an encryption key)",
                       description="Write NAME.key (PKCS#8 PEM, mode 0600; not encrypted unless "
                                   "--passphrase-env or --ask-passphrase) and NAME.pub. With --x25519, "
                                   "a device's or a device class's key for encrypted bundles "
                                   "(mpota sign --encrypt-for NAME.pub; the device holds NAME.key: "
                                   "mpota device provision --decrypt-key NAME.key).")
    c.add_argument("name", metavar="NAME", help="path prefix of the two files")
    c.add_argument("--passphrase-env", metavar="VAR", help="encrypt NAME.key with the passphrase in $VAR")
    c.add_argument("--ask-passphrase", action="store_true", help="encrypt NAME.key, asking for a passphrase")
    c.add_argument("--force", action="store_true", help="replace existing files")
    c.add_argument("--x25519", action="store_true",
                   help="an X25519 key pair for encrypted bundles instead of an Ed25519 signing key")
    c.add_argument("--raw", action="store_true",
                   help="with --x25519: NAME.key as the 32 raw bytes a device's decrypt_keys file holds")
    c.add_argument("--json", action="store_true", help="the files written and the key id, as JSON on stdout")
    c.set_defaults(run=cmd_keygen)

    c = sub.add_parser("pubkey", help="write the public key of a key file or PKCS#11 key",
                       description="Export the public key of KEY as PEM (e.g. for a key held in an HSM).")
    signing.add_options(c, several=False, what="the key")
    c.add_argument("-o", "--output", metavar="FILE.pub", help="write here instead of stdout")
    c.set_defaults(run=cmd_pubkey)

    c = sub.add_parser("root", help="create, rotate, sign and show the trust root",
                       description=rootcmd.DESCRIPTION)
    rootcmd.arguments(c)

    c = sub.add_parser("sign", help="make a signed bundle from an image",
                       description="Cut IMAGE into chunks, write them, the chunk table and the stream file to "
                                   "BUNDLE_DIR and sign the manifest with every -k key. Every option "
                                   "is checked first; the bundle is built in a hidden directory "
                                   "beside BUNDLE_DIR and renamed into place when complete, so a "
                                   "failure leaves BUNDLE_DIR as it was.")
    c.add_argument("image", metavar="IMAGE", help="firmware image file, or a directory with --target app")
    signing.add_options(c)
    c.add_argument("-o", "--output", required=True, metavar="BUNDLE_DIR", help="bundle directory to write")
    c.add_argument("--version", type=int, required=True,
                   help="version: a monotonic integer, 0 to 4294967295")
    c.add_argument("--label", help="free-form version label, e.g. 1.4.2")
    c.add_argument("--security-counter", type=int, required=True, metavar="N",
                   help="anti-rollback counter, 0 to 4294967295: devices refuse bundles below "
                        "their stored counter")
    c.add_argument("--device-class", required=True, metavar="CLASS", help="device class the bundle is for")
    c.add_argument("--product", default="mpota", help="product name (default: mpota)")
    c.add_argument("--hw-rev", action="append", metavar="REV", help="hardware revision it fits; repeat (default: any)")
    c.add_argument("--target", choices=sorted(writer.TARGETS), default="firmware",
                   help="firmware partition image, or app image (default: firmware)")
    c.add_argument("--sequence", type=int, metavar="N",
                   help="replay-protection sequence number, 0 to 4294967295 (default: now, Unix seconds)")
    c.add_argument("--expires", metavar="TIME",
                   help="expiry, in the future: ISO 8601 (UTC) or +30d, +12h (default: never)")
    c.add_argument("--issued", metavar="TIME",
                   help="signed issue time, not in the future: ISO 8601 (UTC) or Unix seconds "
                        "(default: $SOURCE_DATE_EPOCH, else now); it raises each device's "
                        "time floor")
    c.add_argument("--min-agent-version", dest="min_agent", type=int, default=0, metavar="N",
                   help="lowest agent version that may install it, 0 to 4294967295 (default: 0)")
    c.add_argument("--chunk-size", type=int, default=4096, metavar="BYTES",
                   help="power of two, 256 to 1048576 (default: 4096)")
    c.add_argument("--compress", choices=sorted(writer.CODECS), default="none",
                   help="per-chunk raw deflate where it makes the chunk smaller (default: none); "
                        "deflate excludes boards with no decompressor (CircuitPython without zlib, "
                        "MicroPython without deflate), which refuse it as unknown-codec before downloading")
    c.add_argument("--window-bits", type=int, default=12, metavar="N",
                   help="deflate window, 9 to 15; devices need 2**N bytes to inflate (default: 12)")
    c.add_argument("--root", action="append", metavar="ROOT",
                   help="publish this root document in the bundle (roots/<version>); repeat for several")
    c.add_argument("--force", action="store_true",
                   help="replace the bundle in BUNDLE_DIR: the old one is deleted once the new one "
                        "is complete; the state directory of mpota serve (.mpota-serve/) moves into the "
                        "new one. A directory holding anything else but a bundle (manifest, table/, stream/, "
                        "chunks/, roots/) is never replaced")
    c.add_argument("--encrypt-for", action="append", metavar="KEY.pub",
                   help="encrypt the chunks so that only holders of this X25519 key can read the "
                        "image: a device's own key or its class's (mpota keygen --x25519); "
                        "repeat for several. Devices holding none refuse it as not-for-device")
    provenance.add_options(c)
    c.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    c.add_argument("--json", action="store_true", help="what was written, as JSON on stdout")
    auditcmd.add_option(c)
    c.set_defaults(run=cmd_sign)

    c = sub.add_parser("cosign", help="add signatures to a bundle's manifest",
                       description="Add the signature of each -k key to BUNDLE_DIR/manifest (k-of-n signing).")
    c.add_argument("bundle", metavar="BUNDLE_DIR")
    signing.add_options(c)
    auditcmd.add_option(c)
    c.set_defaults(run=cmd_cosign)

    c = sub.add_parser("verify", help="check a bundle as a device would",
                       description="Check BUNDLE_DIR against a trust root or a public key: signatures, "
                                   "threshold, device facts, the chunk table and every chunk. Exit 0 "
                                   "with a one-line summary, or 1 with the reason. Given a repository "
                                   "laid out by mpota publish (it holds control or plans/), check "
                                   "all of it as a device would: roots, control, plans with their "
                                   "bundles and canary shards, the revocation list.")
    c.add_argument("bundle", metavar="BUNDLE_DIR")
    c.add_argument("--trust", required=True, metavar="ROOT_OR_PUB", help="root document, or one update key's .pub")
    c.add_argument("--root", action="append", metavar="ROOT",
                   help="root rotation to apply after --trust, in order; repeat (roots/ in the bundle are applied too)")
    c.add_argument("--device-class", metavar="CLASS", help="refuse bundles for another device class")
    c.add_argument("--product", help="refuse bundles for another product")
    c.add_argument("--hw-rev", metavar="REV", help="refuse bundles that do not fit this hardware revision")
    c.add_argument("--target", choices=sorted(writer.TARGETS), help="refuse bundles for the other target")
    c.add_argument("--at", metavar="TIME", help="judge expiry at TIME: ISO 8601 or +30d (default: now)")
    c.add_argument("--decrypt-key", metavar="KEY",
                   help="an encrypted bundle: decrypt with this recipient's X25519 key and check the "
                        "image too (without it, the encrypted chunks are checked as stored)")
    c.add_argument("--json", action="store_true",
                   help="the verdict as JSON on stdout: valid, and the manifest's facts or the "
                        "reason code and its meaning (exit status as without it)")
    c.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    rollout.verify_arguments(c)
    c.set_defaults(run=cmd_verify)

    c = sub.add_parser("inspect", help="show a bundle's manifest",
                       description="Print the manifest of BUNDLE_DIR (not a verification).")
    c.add_argument("bundle", metavar="BUNDLE_DIR")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(run=cmd_inspect)

    rollout.arguments(sub)

    auditcmd.add_parser(sub)

    c = sub.add_parser("serve", help="serve bundle directories over HTTPS, for development",
                       description=serve.DESCRIPTION)
    serve.arguments(c)
    c.set_defaults(run=serve.run)

    c = sub.add_parser("device", help="bring up a board over USB serial: install, provision, push, ...",
                       description="Put the agent on a MicroPython or CircuitPython board, provision it "
                                   "and update it over its USB serial port; read its state and audit log "
                                   "(docs/BRINGUP.md; CircuitPython: docs/CIRCUITPYTHON.md).")
    device.arguments(c)

    fleet.arguments(sub)
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except CommandError as e:
        print("mpota: {}".format(e), file=sys.stderr)
        return 1
    except BundleError as e:
        print("mpota: {}".format(reasons.refused(e.reason)), file=sys.stderr)
        return 1
    except _Quiet:
        return 1
    except KeyboardInterrupt:
        print("mpota: interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
