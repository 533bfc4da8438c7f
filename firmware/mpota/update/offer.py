# SPDX-License-Identifier: MIT
"""What the source offers: the manifest, fetched and verified with the
device's facts after any root rotation (trust.py decides), and the
logging of refusals."""

from .. import AGENT_VERSION
from .. import clock
from ..bundle import format as F
from ..bundle import trust
from ..bundle.error import BundleError
from ..bundle.table import same
from ..errors import AgentError
from ..state import log as L
from . import fetch


def note(dev, st, event, reason, value):
    """Log a failure once: the same refusal at every check would fill the
    ring and wear the flash. True if it logged and saved st."""
    code = L.reason_code(reason)
    last = st.last()
    if last and last[0] == event and last[1] == code and last[2] == value:
        return False
    dev.log(st, event, reason, value)
    dev.save(st)
    return True


def manifest(dev, src, st, persist):
    """The verified manifest the source offers. persist: store accepted
    root rotations and log a refusal (an install); else change nothing."""
    buf = bytearray(F.MAX_DOC + 1)

    def rotated(doc, root):
        if doc is not None:
            dev.roots.save(doc)
        st.root_version = root.version
        dev.log(st, L.ROOT, value=root.version)
        dev.save(st)

    try:
        root = fetch.newest_root(dev, src, dev.root(), buf, rotated if persist else None)
        if persist and st.root_version != root.version:
            # The root was stored but power went before the state record
            # said so (two records cannot be written at once).
            rotated(None, root)
        doc = fetch.read_doc(dev, src, "manifest", buf, "missing-manifest")
        # Expiry is judged against the clock only where it is not below
        # the time floor (clock.py): a board reading 1970 is not believed.
        m = trust.verify_manifest(
            root, doc, now=clock.judge(dev.now(), clock.floor(st, root)),
            agent_version=AGENT_VERSION,
            min_security_counter=st.min_counter, last_sequence=st.last_sequence,
            **dev.facts())
        if m.window_bits:
            from ..bundle import inflate

            if not inflate.available():
                # Deflated chunks this board cannot read (CircuitPython
                # without zlib): refused before anything is downloaded.
                raise BundleError("unknown-codec")
        if m.suite:
            try:
                from ..crypto import aes
                from .sealed import device_keys
            except ImportError:
                # A firmware that froze the agent without its encryption
                # part (firmware/manifest.py).
                raise BundleError("unknown-cipher")
            if not aes.available():
                # AES this board lacks: refused before any download.
                raise BundleError("unknown-cipher")
            if not device_keys(dev):
                raise BundleError("not-for-device")
        if persist:
            # Stored with the install's next state write.
            st.time_floor = clock.raised(st.time_floor, max(m.issued, root.issued))
        return m
    except BundleError as e:
        if persist:
            note(dev, st, L.VERIFY_FAIL, e.reason, 0)
        raise


def check(dev, src=None):
    """(manifest, 'update' or 'up-to-date') for what the source offers.
    Writes nothing; a refusal raises BundleError."""
    st = dev.load()
    try:
        m = manifest(dev, src or dev.source(), st, False)
    except MemoryError:
        raise AgentError("no-memory")  # as Install.run says
    return m, "up-to-date" if same(m.image_sha256, st.active_sha) else "update"
