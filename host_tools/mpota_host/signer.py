# SPDX-License-Identifier: MIT
"""Signers named on the command line by `-k`: a key file or a PKCS#11 URI.

Each signer has `.public` (raw 32-byte key), `.describe` and `.sign(msg)`.
"""

from . import keys
from .errors import CommandError


class FileSigner:
    def __init__(self, path, passphrase_env=None):
        self._key = keys.load_private(path, passphrase_env)
        self.public = keys.raw_public(self._key.public_key())
        self.describe = path

    def sign(self, message):
        return self._key.sign(bytes(message))


def open_signer(ref, passphrase_env=None, pin_env=None, pkcs11_module=None):
    if ref.startswith("pkcs11:"):
        from .pkcs11_signer import Pkcs11Signer

        return Pkcs11Signer(ref, pin_env=pin_env, module=pkcs11_module)
    return FileSigner(ref, passphrase_env)


def open_signers(refs, **options):
    signers = [open_signer(ref, **options) for ref in refs or ()]
    seen = set()
    for s in signers:
        if s.public in seen:
            raise CommandError("key {} given twice".format(s.describe))
        seen.add(s.public)
    return signers


def add_options(p, required=True, several=True, what="signing key"):
    """The command-line options that name signing keys, for every command
    that signs (or, with several=False, reads one key)."""
    p.add_argument("-k", "--key", action="append" if several else "store", required=required,
                   metavar="KEY", help="{}: a NAME.key file or a pkcs11: URI (RFC 7512){}".format(
                       what, "; repeat for several" if several else ""))
    p.add_argument("--passphrase-env", metavar="VAR",
                   help="environment variable holding the passphrase of encrypted key files")
    p.add_argument("--pin-env", metavar="VAR",
                   help="environment variable holding the PKCS#11 user PIN (else the URI's pin-value)")
    p.add_argument("--pkcs11-module", metavar="PATH",
                   help="PKCS#11 module (else $MPOTA_PKCS11_MODULE, else SoftHSM2's)")


def from_options(args):
    """The signers that `add_options`' options name."""
    refs = [args.key] if isinstance(args.key, str) else args.key
    return open_signers(refs, passphrase_env=args.passphrase_env,
                        pin_env=args.pin_env, pkcs11_module=args.pkcs11_module)
