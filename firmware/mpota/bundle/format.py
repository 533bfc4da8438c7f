# SPDX-License-Identifier: MIT
"""mpota bundle format 1: every magic, tag, limit and offset, and the bounded
parsers of signed documents (manifest and trust root).

docs/FORMAT.md is the written spec; the host writer imports these names, so
signer and device follow one list. The names are public (no leading
underscore) on purpose: the other modules of this package import them, and
MicroPython drops `_NAME = const()` from a module's namespace.

Parsers check framing and fields only; whether a document is trusted is
decided in trust.py.
"""

from ..sha256 import sha256 as new_sha256

from .error import BundleError

from micropython import const


# Signed document framing, shared by manifest and root.
MAGIC = const(0x4D504F54)  # b"MPOT"
FORMAT_VERSION = const(1)
DOC_MANIFEST = const(1)
DOC_ROOT = const(2)
DOC_PLAN = const(3)  # rollout plan (docs/ROLLOUT.md)
DOC_CONTROL = const(4)  # rollout control document
DOC_REVOKED = const(5)  # revocation list
HEADER_SIZE = const(8)  # magic 4, format version 1, doc type 1, body length 2
MAX_BODY = const(1024)
MAX_SIGS = const(8)
KEY_ID_SIZE = const(8)  # first bytes of SHA-256(public key)
KEY_SIZE = const(32)
SIG_SIZE = const(64)
SIG_ENTRY_SIZE = const(72)  # key id + signature
MAX_DOC = const(HEADER_SIZE + MAX_BODY + 1 + MAX_SIGS * SIG_ENTRY_SIZE)
HASH_SIZE = const(32)
OPTIONAL_TAG = const(0x80)  # unknown tags at or above this are skipped

# Manifest field tags, in the order they must appear.
T_PRODUCT = const(0x01)
T_DEVICE_CLASS = const(0x02)
T_HW_REV = const(0x03)
T_TARGET = const(0x04)
T_VERSION = const(0x05)
T_LABEL = const(0x06)
T_SECURITY_COUNTER = const(0x07)
T_SEQUENCE = const(0x08)
T_EXPIRES = const(0x09)
T_MIN_AGENT = const(0x0A)
T_IMAGE_SIZE = const(0x0B)
T_IMAGE_SHA256 = const(0x0C)
T_CHUNK_SIZE = const(0x0D)
T_TABLE_SHA256 = const(0x0E)
T_WINDOW_BITS = const(0x0F)
# Encryption: below OPTIONAL_TAG, so an agent from before it refuses an
# encrypted bundle ('unknown-field') instead of installing ciphertext.
T_ENCRYPTION = const(0x10)
T_ISSUED = const(0x81)  # optional: older agents skip it
# Build provenance (optional too: an agent before them skips all five).
T_SOURCE_REV = const(0x82)
T_BUILD_ID = const(0x83)
T_BUILDER = const(0x84)
T_BUILD_TIME = const(0x85)
T_SBOM_SHA256 = const(0x86)
MAX_PROVENANCE = const(64)  # bytes of each provenance text

# Root field tags, in the order they must appear.
T_ROOT_VERSION = const(0x21)
T_ROOT_KEY = const(0x22)
T_ROOT_THRESHOLD = const(0x23)
T_UPDATE_KEY = const(0x24)
T_UPDATE_THRESHOLD = const(0x25)
T_ROOT_EXPIRES = const(0x26)
# Optional tags (older agents skip them): the issue time and the control
# role of staged rollouts (docs/ROLLOUT.md).
T_ROOT_ISSUED = const(0x81)
T_CONTROL_KEY = const(0x82)
T_CONTROL_THRESHOLD = const(0x83)

# Rollout plan, control and revocation tags (docs/ROLLOUT.md).
T_PLAN_ID = const(0x41)
T_PLAN_ISSUED = const(0x42)
T_PLAN_MANIFEST = const(0x43)
T_PLAN_CLASS = const(0x44)
T_PLAN_HW_REV = const(0x45)
T_PLAN_CANARY = const(0x46)
T_PLAN_WAVE = const(0x47)
T_PLAN_MAX = const(0x48)
T_CTL_VERSION = const(0x51)
T_CTL_ISSUED = const(0x52)
T_CTL_EXPIRES = const(0x53)
T_CTL_ENTRY = const(0x54)
T_REV_VERSION = const(0x61)
T_REV_ISSUED = const(0x62)
T_REV_IMAGE = const(0x63)

# Field values and limits.
TARGET_FIRMWARE = const(1)
TARGET_APP = const(2)
MAX_IDENT = const(32)
MAX_HW_REV = const(16)
MAX_HW_REVS = const(8)
MAX_LABEL = const(64)
MAX_KEYS = const(8)
MIN_CHUNK_SIZE = const(256)
MAX_CHUNK_SIZE = const(1048576)
MIN_WINDOW_BITS = const(9)
MAX_WINDOW_BITS = const(15)
# Below 2**30 every offset stays a MicroPython small int (no heap use).
MAX_IMAGE_SIZE = const(0x3FFFFFFF)
MAX_ROTATIONS = const(64)  # roots a reader applies in one go

# Encryption (docs/FORMAT.md, "Encryption"): suite u8, then the content
# key check. A keys/<recipient id> file: ephemeral X25519 public key and
# the wrapped content secret.
SUITE_X25519_AES128 = const(1)
KEY_CHECK_SIZE = const(16)
ENCRYPTION_SIZE = const(17)
WRAP_SIZE = const(64)
SECRET_SIZE = const(32)
AES_BLOCK = const(16)

# Rollout limits (docs/ROLLOUT.md). Shares are basis points of BASIS.
BASIS = const(10000)
STATE_RUN = const(1)
STATE_PAUSE = const(2)
STATE_HALT = const(3)
MAX_WAVES = const(8)
MAX_CANARY_SHARDS = const(16)
# Bytes in one canary shard: it fits the document buffer (MAX_DOC + 1).
MAX_SHARD = const(1536)
WAVE_SIZE = const(10)  # u16 share, u64 opening time
CTL_ENTRY_SIZE = const(39)  # plan SHA-256 32, state 1, cap 2, poll hint 4
MAX_CTL_ENTRIES = const(16)
REVOKED_PREFIX = const(16)  # bytes of an image SHA-256 in a revocation list
MAX_REVOKED = const(48)

# Chunk table entry: codec 1, reserved 3 (zero), stored length 4,
# SHA-256 of the stored bytes 32, SHA-256 of the uncompressed bytes 32.
ENTRY_SIZE = const(72)
E_CODEC = const(0)
E_STORED_LEN = const(4)
E_STORED_SHA = const(8)
E_RAW_SHA = const(40)
CODEC_NONE = const(0)
CODEC_DEFLATE = const(1)  # raw deflate, no zlib or gzip header

# Per tag: tag, min length, max length, min count, max count.
_ROW = const(5)
_MANIFEST_SPEC = bytes((
    T_PRODUCT, 1, MAX_IDENT, 1, 1,
    T_DEVICE_CLASS, 1, MAX_IDENT, 1, 1,
    T_HW_REV, 1, MAX_HW_REV, 0, MAX_HW_REVS,
    T_TARGET, 1, 1, 1, 1,
    T_VERSION, 4, 4, 1, 1,
    T_LABEL, 0, MAX_LABEL, 0, 1,
    T_SECURITY_COUNTER, 4, 4, 1, 1,
    T_SEQUENCE, 4, 4, 1, 1,
    T_EXPIRES, 8, 8, 0, 1,
    T_MIN_AGENT, 4, 4, 0, 1,
    T_IMAGE_SIZE, 4, 4, 1, 1,
    T_IMAGE_SHA256, HASH_SIZE, HASH_SIZE, 1, 1,
    T_CHUNK_SIZE, 4, 4, 1, 1,
    T_TABLE_SHA256, HASH_SIZE, HASH_SIZE, 1, 1,
    T_WINDOW_BITS, 1, 1, 0, 1,
    T_ENCRYPTION, ENCRYPTION_SIZE, ENCRYPTION_SIZE, 0, 1,
    T_ISSUED, 8, 8, 0, 1,
    T_SOURCE_REV, 1, MAX_PROVENANCE, 0, 1,
    T_BUILD_ID, 1, MAX_PROVENANCE, 0, 1,
    T_BUILDER, 1, MAX_PROVENANCE, 0, 1,
    T_BUILD_TIME, 8, 8, 0, 1,
    T_SBOM_SHA256, HASH_SIZE, HASH_SIZE, 0, 1,
))
_ROOT_SPEC = bytes((
    T_ROOT_VERSION, 4, 4, 1, 1,
    T_ROOT_KEY, KEY_SIZE, KEY_SIZE, 1, MAX_KEYS,
    T_ROOT_THRESHOLD, 1, 1, 1, 1,
    T_UPDATE_KEY, KEY_SIZE, KEY_SIZE, 1, MAX_KEYS,
    T_UPDATE_THRESHOLD, 1, 1, 1, 1,
    T_ROOT_EXPIRES, 8, 8, 0, 1,
    T_ROOT_ISSUED, 8, 8, 0, 1,
    T_CONTROL_KEY, KEY_SIZE, KEY_SIZE, 0, MAX_KEYS,
    T_CONTROL_THRESHOLD, 1, 1, 0, 1,
))


def uint(buf, pos, n):
    """Big-endian unsigned integer of n bytes at buf[pos]."""
    v = 0
    for i in range(pos, pos + n):
        v = (v << 8) | buf[i]
    return v


def key_id(public_key):
    h = new_sha256()
    h.update(public_key)
    return h.digest()[:KEY_ID_SIZE]


def frame(doc, doc_type):
    """Check a signed document's framing; return the signed length.

    The signed bytes are doc[:signed]; doc[signed] is the signature count and
    the signature entries follow, up to the exact end of the document.
    """
    n = len(doc)
    if n > MAX_DOC:
        raise BundleError("too-large")
    if n < HEADER_SIZE + 1:
        raise BundleError("malformed")
    if uint(doc, 0, 4) != MAGIC or doc[4] != FORMAT_VERSION:
        raise BundleError("unknown-format")
    if doc[5] != doc_type:
        raise BundleError("wrong-document")
    signed = HEADER_SIZE + uint(doc, 6, 2)
    if signed > HEADER_SIZE + MAX_BODY:
        raise BundleError("too-large")
    if signed >= n:
        raise BundleError("malformed")
    count = doc[signed]
    if count > MAX_SIGS:
        raise BundleError("too-large")
    if n != signed + 1 + count * SIG_ENTRY_SIZE:
        raise BundleError("malformed")
    return signed


def walk(doc, end, spec):
    # Yield (tag, offset, length) of each known field of doc[HEADER_SIZE:end],
    # checking order, lengths and counts against spec before anything is used.
    pos = HEADER_SIZE
    last = 0
    run = 0
    seen = 0
    rows = len(spec) // _ROW
    while pos < end:
        if end - pos < 2:
            raise BundleError("malformed")
        tag = doc[pos]
        n = doc[pos + 1]
        pos += 2
        if n > end - pos or tag < last:
            raise BundleError("malformed")
        run = run + 1 if tag == last else 1
        last = tag
        row = 0
        while row < rows and spec[row * _ROW] != tag:
            row += 1
        if row < rows:
            r = row * _ROW
            if n < spec[r + 1] or n > spec[r + 2] or run > spec[r + 4]:
                raise BundleError("malformed")
            seen |= 1 << row
            yield tag, pos, n
        elif tag < OPTIONAL_TAG:
            raise BundleError("unknown-field")
        pos += n
    for row in range(rows):
        if spec[row * _ROW + 3] and not seen & (1 << row):
            raise BundleError("malformed")


def text(doc, pos, n, lowest):
    # Printable ASCII only, so every runtime decodes it the same way.
    for i in range(pos, pos + n):
        if doc[i] < lowest or doc[i] > 0x7E:
            raise BundleError("malformed")
    return bytes(doc[pos:pos + n]).decode()


class Manifest:
    """Fields of a manifest (docs/FORMAT.md); chunk geometry is derived.
    manifest() fills every field; the optional ones keep these defaults."""

    def __init__(self):
        self.product = ""
        self.device_class = ""
        self.hw_revs = ()
        self.target = 0
        self.version = 0
        self.label = ""
        self.security_counter = 0
        self.image_size = 0
        self.image_sha256 = b""
        self.chunk_size = 0
        self.table_sha256 = b""
        self.window_bits = 0
        self.sequence = 0
        self.expires = None
        self.min_agent = 0
        self.issued = 0  # 0: not given (an older signer)
        # Build provenance; empty, 0 and None: not given.
        self.source_rev = ""
        self.build_id = ""
        self.builder = ""
        self.build_time = 0
        self.sbom_sha256 = None
        # Encryption: suite 0 = none; key_check, the content key's check.
        self.suite = 0
        self.key_check = None
        self.signers = ()

    def chunk_count(self):
        return (self.image_size + self.chunk_size - 1) // self.chunk_size

    def chunk_len(self, i):
        """Uncompressed length of chunk i: chunk_size except for the last."""
        return min(self.chunk_size, self.image_size - i * self.chunk_size)

    def table_size(self):
        return self.chunk_count() * ENTRY_SIZE


def manifest(doc, signed):
    """Parse the fields of a framed manifest (see frame())."""
    m = Manifest()
    hw = []
    for tag, pos, n in walk(doc, signed, _MANIFEST_SPEC):
        if tag == T_PRODUCT:
            m.product = text(doc, pos, n, 0x21)
        elif tag == T_DEVICE_CLASS:
            m.device_class = text(doc, pos, n, 0x21)
        elif tag == T_HW_REV:
            hw.append(text(doc, pos, n, 0x21))
        elif tag == T_LABEL:
            m.label = text(doc, pos, n, 0x20)
        elif tag == T_IMAGE_SHA256:
            m.image_sha256 = bytes(doc[pos:pos + n])
        elif tag == T_TABLE_SHA256:
            m.table_sha256 = bytes(doc[pos:pos + n])
        elif tag == T_SOURCE_REV:
            m.source_rev = text(doc, pos, n, 0x21)
        elif tag == T_BUILD_ID:
            m.build_id = text(doc, pos, n, 0x21)
        elif tag == T_BUILDER:
            m.builder = text(doc, pos, n, 0x20)
        elif tag == T_SBOM_SHA256:
            m.sbom_sha256 = bytes(doc[pos:pos + n])
        elif tag == T_ENCRYPTION:
            if doc[pos] != SUITE_X25519_AES128:
                raise BundleError("unknown-cipher")
            m.suite = doc[pos]
            m.key_check = bytes(doc[pos + 1:pos + n])
        else:
            v = uint(doc, pos, n)
            if tag == T_TARGET:
                m.target = v
            elif tag == T_VERSION:
                m.version = v
            elif tag == T_SECURITY_COUNTER:
                m.security_counter = v
            elif tag == T_SEQUENCE:
                m.sequence = v
            elif tag == T_EXPIRES:
                m.expires = v
            elif tag == T_MIN_AGENT:
                m.min_agent = v
            elif tag == T_IMAGE_SIZE:
                m.image_size = v
            elif tag == T_CHUNK_SIZE:
                m.chunk_size = v
            elif tag == T_ISSUED:
                m.issued = v
            elif tag == T_BUILD_TIME:
                m.build_time = v
            else:
                # Checked here, where the field is known to be present: 0
                # stands for "absent" in m.window_bits.
                if not MIN_WINDOW_BITS <= v <= MAX_WINDOW_BITS:
                    raise BundleError("malformed")
                m.window_bits = v
    m.hw_revs = tuple(hw)
    if m.target != TARGET_FIRMWARE and m.target != TARGET_APP:
        raise BundleError("malformed")
    cs = m.chunk_size
    if cs & (cs - 1) or cs < MIN_CHUNK_SIZE or cs > MAX_CHUNK_SIZE:
        raise BundleError("malformed")
    if m.image_size > MAX_IMAGE_SIZE:
        raise BundleError("too-large")
    return m


class Root:
    """A trust root: root keys sign roots, update keys sign manifests,
    plans and revocation lists, control keys sign control documents."""

    def __init__(self, version, root_keys, root_threshold, update_keys,
                 update_threshold, expires=None, control_keys=(), control_threshold=0,
                 issued=0):
        self.version = version
        self.root_keys = root_keys
        self.root_ids = _ids(root_keys)
        self.root_threshold = root_threshold
        self.update_keys = update_keys
        self.update_ids = _ids(update_keys)
        self.update_threshold = update_threshold
        self.expires = expires
        self.control_keys = control_keys
        self.control_ids = _ids(control_keys)
        self.control_threshold = control_threshold
        self.issued = issued


def _ids(keys):
    ids = tuple(key_id(k) for k in keys)
    for i in range(len(ids)):
        if ids[i] in ids[i + 1:]:
            # A key listed twice would count twice toward a threshold.
            raise BundleError("malformed")
    return ids


def root(doc, signed):
    """Parse the fields of a framed root document (see frame())."""
    version = threshold = update_threshold = control_threshold = issued = 0
    expires = None
    keys = []
    update_keys = []
    control_keys = []
    for tag, pos, n in walk(doc, signed, _ROOT_SPEC):
        if tag == T_ROOT_KEY:
            keys.append(bytes(doc[pos:pos + n]))
        elif tag == T_UPDATE_KEY:
            update_keys.append(bytes(doc[pos:pos + n]))
        elif tag == T_CONTROL_KEY:
            control_keys.append(bytes(doc[pos:pos + n]))
        else:
            v = uint(doc, pos, n)
            if tag == T_ROOT_VERSION:
                version = v
            elif tag == T_ROOT_THRESHOLD:
                threshold = v
            elif tag == T_UPDATE_THRESHOLD:
                update_threshold = v
            elif tag == T_ROOT_EXPIRES:
                expires = v
            elif tag == T_ROOT_ISSUED:
                issued = v
            else:
                control_threshold = v
    if version < 1:
        raise BundleError("malformed")
    if not 1 <= threshold <= len(keys) or not 1 <= update_threshold <= len(update_keys):
        raise BundleError("malformed")
    # A control role is keys and a threshold together, or neither.
    if control_keys and not 1 <= control_threshold <= len(control_keys):
        raise BundleError("malformed")
    if control_threshold and not control_keys:
        raise BundleError("malformed")
    return Root(version, tuple(keys), threshold, tuple(update_keys),
                update_threshold, expires, tuple(control_keys), control_threshold, issued)
