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
