# SPDX-License-Identifier: MIT
"""Sign with an Ed25519 key held in a PKCS#11 token (HSM, smart card,
SoftHSM2), named by an RFC 7512 URI such as

    pkcs11:token=release;object=update-1?pin-value=1234

Supported URI attributes: path `token`, `serial`, `manufacturer`, `model`,
`object`, `id` (percent-encoded bytes); query `pin-value`, `pin-source`
(a file holding the PIN), `module-path`. The private key never leaves the
token; only the digest-free EdDSA mechanism (CKM_EDDSA) is used.
"""

import os

from .errors import CommandError

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
MODULE_ENV = "MPOTA_PKCS11_MODULE"
_PATH_ATTRS = ("token", "serial", "manufacturer", "model", "object", "id", "type",
               "slot-id", "slot-description", "slot-manufacturer",
               "library-description", "library-manufacturer", "library-version")


def _unquote(text):
    # RFC 7512 values are percent-encoded octets.
    out = bytearray()
    i = 0
    raw = text.encode()
    while i < len(raw):
        if raw[i] == 0x25:  # '%'
            try:
                out.append(int(raw[i + 1:i + 3], 16))
            except ValueError:
                raise CommandError("bad percent-encoding in PKCS#11 URI")
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def parse_uri(uri):
    """(path attributes, query attributes) as dicts of bytes values."""
    if not uri.startswith("pkcs11:"):
        raise CommandError("not a PKCS#11 URI: {}".format(uri))
    body = uri[len("pkcs11:"):]
    path, _, query = body.partition("?")
    attrs, queries = {}, {}
    for part, sep, target in ((path, ";", attrs), (query, "&", queries)):
        for item in filter(None, part.split(sep)):
            name, eq, value = item.partition("=")
            if not eq:
                raise CommandError("PKCS#11 URI attribute without value: {}".format(item))
            if target is attrs and name not in _PATH_ATTRS:
                raise CommandError("unknown PKCS#11 URI attribute: {}".format(name))
            if name in target:
                raise CommandError("PKCS#11 URI repeats {}".format(name))
            target[name] = _unquote(value)
    return attrs, queries


class Pkcs11Signer:
    """An Ed25519 key in a token: `.public` (32 bytes) and `.sign(msg)`."""

    def __init__(self, uri, pin_env=None, module=None):
        try:
            import pkcs11
        except ImportError:
            raise CommandError("PKCS#11 needs python-pkcs11: pip install 'mpota[hsm]'")
        self._p = pkcs11
        attrs, query = parse_uri(uri)
        self.describe = uri.split("?")[0]
        self._attrs = attrs
        self._pin = self._find_pin(query, pin_env)
        path = (query.get("module-path", b"").decode() or module
                or os.environ.get(MODULE_ENV) or DEFAULT_MODULE)
        try:
            self._lib = pkcs11.lib(path)
        except (RuntimeError, OSError, pkcs11.PKCS11Error) as e:
            raise CommandError("cannot load PKCS#11 module {}: {}".format(path, e))
        if "object" not in attrs and "id" not in attrs:
            raise CommandError("PKCS#11 URI names no key: add object= or id=")
        self.public = self._public_key()

    @staticmethod
    def _find_pin(query, pin_env):
        if pin_env:
            pin = os.environ.get(pin_env)
            if pin is None:
                raise CommandError("environment variable {} is not set".format(pin_env))
            return pin
        if "pin-value" in query:
            return query["pin-value"].decode()
        if "pin-source" in query:
            source = query["pin-source"].decode()
            if source.startswith("file:"):
                source = source[len("file:"):]
            try:
                with open(source) as f:
                    return f.read().strip()
            except OSError as e:
                raise CommandError("cannot read PIN from {}: {}".format(source, e.strerror))
        return None

    def _session(self):
        p, a = self._p, self._attrs
        # URI attribute -> python-pkcs11 Token attribute.
        select = {}
        for key, name in (("token", "label"), ("serial", "serial"),
                          ("manufacturer", "manufacturer_id"), ("model", "model")):
            if key in a:
                select[name] = a[key]
        try:
            tokens = [t for t in self._lib.get_tokens() if _matches(t, select)]
        except p.PKCS11Error as e:
            raise CommandError("PKCS#11: {!r}".format(e))
        if len(tokens) != 1:
            raise CommandError("PKCS#11 URI matches {} tokens, need exactly 1".format(len(tokens)))
        try:
            return tokens[0].open(user_pin=self._pin)
        except p.PKCS11Error as e:
            raise CommandError("PKCS#11 login failed: {!r}".format(e))

    def _key(self, session, object_class):
        p, a = self._p, self._attrs
        query = {"object_class": object_class, "key_type": p.KeyType.EC_EDWARDS}
        if "object" in a:
            query["label"] = a["object"].decode()
        if "id" in a:
            query["id"] = a["id"]
        try:
            return session.get_key(**query)
        except p.NoSuchKey:
            raise CommandError("no Ed25519 key {} in the token".format(self.describe))
        except p.MultipleObjectsReturned:
            raise CommandError("several keys match {}".format(self.describe))

    def _public_key(self):
        p = self._p
        with self._session() as session:
            point = self._key(session, p.ObjectClass.PUBLIC_KEY)[p.Attribute.EC_POINT]
        # CKA_EC_POINT holds the 32-byte point, DER-wrapped as an OCTET STRING.
        if len(point) == 34 and point[0] == 0x04 and point[1] == 32:
            return bytes(point[2:])
        if len(point) == 32:
            return bytes(point)
        raise CommandError("{}: not an Ed25519 public key".format(self.describe))

    def sign(self, message):
        p = self._p
        with self._session() as session:
            key = self._key(session, p.ObjectClass.PRIVATE_KEY)
            try:
                sig = key.sign(bytes(message), mechanism=p.Mechanism.EDDSA)
            except p.PKCS11Error as e:
                raise CommandError("PKCS#11 signing failed: {!r}".format(e))
        if len(sig) != 64:
            raise CommandError("PKCS#11 signature has {} bytes, not 64".format(len(sig)))
        return sig


def _matches(token, select):
    # Token fields come back space-padded, as str except the serial (bytes).
    for name, want in select.items():
        have = getattr(token, name)
        if isinstance(have, bytes):
            have = have.decode("ascii", "replace")
        if isinstance(want, bytes):
            want = want.decode("ascii", "replace")
        if have.strip() != want:
            return False
    return True
