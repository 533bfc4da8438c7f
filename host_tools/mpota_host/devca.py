# SPDX-License-Identifier: MIT
"""The development CA of `mpota serve`, and its server certificate.

Made on first use in a state directory and kept there, so a device
provisioned with the CA keeps trusting the server across restarts:

  ca.pem, ca.der      the CA certificate (pin either on the device)
  ca.key              its private key (mode 0600)
  server.pem          the server certificate, signed by the CA
  server.key          its private key (mode 0600)

Keys are EC P-256, which every TLS stack on the boards handles and whose
handshake is cheap on a microcontroller. The server certificate is made
again, by the same CA, when the host names asked for change.

For development only: the CA's key sits unencrypted next to the server.
"""

import datetime
import ipaddress
import os
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import files
from .errors import CommandError

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")

# Boards without a battery-backed clock start in 2000 and may check for an
# update before they have the time from the network; a certificate valid
# from 2000 does not fail them for being "not yet valid".
_NOT_BEFORE = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
_CA_DAYS = 20 * 365
_SERVER_DAYS = 5 * 365


class Paths:
    def __init__(self, state):
        self.state = state
        self.ca_pem = os.path.join(state, "ca.pem")
        self.ca_der = os.path.join(state, "ca.der")
        self.ca_key = os.path.join(state, "ca.key")
        self.cert = os.path.join(state, "server.pem")
        self.key = os.path.join(state, "server.key")


def ensure(state, names=DEFAULT_NAMES):
    """The CA and a server certificate for `names` in `state`, made if missing.

    Returns (Paths, created) where created lists what was made."""
    names = list(dict.fromkeys(names))
    if not names:
        raise CommandError("the server certificate needs at least one host name")
    for n in names:
        _general_name(n)  # refuse a bad name before writing anything
    p = Paths(state)
    try:
        os.makedirs(state, mode=0o700, exist_ok=True)
    except OSError as e:
        raise CommandError("cannot create {}: {}".format(state, e.strerror))
    created = []
    if not (os.path.exists(p.ca_pem) and os.path.exists(p.ca_key)):
        _make_ca(p)
        created.append("CA")
    ca_cert, ca_key = _load(p.ca_pem, p.ca_key)
    if not _server_matches(p, ca_cert, names):
        _make_server(p, ca_cert, ca_key, names)
        created.append("server certificate")
    return p, created


def _general_name(name):
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    label_ok = all(c.isascii() and (c.isalnum() or c in "-.") for c in name)
    if not name or len(name) > 253 or not label_ok:
        raise CommandError("{!r} is not a host name or an IP address".format(name))
    return x509.DNSName(name.lower())


def _san(names):
    entries = []
    for n in names:
        g = _general_name(n)
        entries.append(g)
        if isinstance(g, x509.IPAddress):
            # mbed TLS before 3.x (MicroPython's unix build links 2.28)
            # matches the host name against DNS entries only; listing the
            # address text as a DNS name too lets it reach https://127.0.0.1.
            entries.append(x509.DNSName(n))
    return entries


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load(cert_path, key_path):
    try:
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    except (OSError, ValueError) as e:
        raise CommandError("cannot load {}: {}".format(cert_path, e))
    return cert, key


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _make_ca(p):
    key = ec.generate_private_key(ec.SECP256R1())
    # A random tag in the name tells two development CAs apart.
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         "mpota development CA {}".format(secrets.token_hex(4)))])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOT_BEFORE)
            .not_valid_after(_now() + datetime.timedelta(days=_CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    files.write(p.ca_key, _key_pem(key), 0o600)
    files.write(p.ca_pem, cert.public_bytes(serialization.Encoding.PEM))
    files.write(p.ca_der, cert.public_bytes(serialization.Encoding.DER))
    for stale in (p.cert, p.key):
        if os.path.exists(stale):
            os.remove(stale)


def _server_matches(p, ca_cert, names):
    if not (os.path.exists(p.cert) and os.path.exists(p.key)):
        return False
    cert, _ = _load(p.cert, p.key)
    if cert.issuer != ca_cert.subject:
        return False
    if cert.not_valid_after_utc - _now() < datetime.timedelta(days=30):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return set(san) == set(_san(names))


def _make_server(p, ca_cert, ca_key, names):
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOT_BEFORE)
            .not_valid_after(_now() + datetime.timedelta(days=_SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(_san(names)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    files.write(p.key, _key_pem(key), 0o600)
    files.write(p.cert, cert.public_bytes(serialization.Encoding.PEM))
