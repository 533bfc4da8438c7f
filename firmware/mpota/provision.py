# SPDX-License-Identifier: MIT
"""Factory setup: give a device its trust root and its first image.

Where the agent chooses the slot, the first image goes through the same
install path as any update (every byte verified against the root), into
slot 0, and is confirmed at once: there is nothing to go back to. Where a
bootloader runs the image (ESP32), the firmware was flashed with the
board's own tool; the agent adopts it instead: the running partition must
hold exactly the image the verified manifest describes.
"""

from .bundle.error import BundleError
from .bundle.table import Expect
from .state import log as L
from .state.fields import State, rev_bytes
from .trial import keep
from .update import offer
from .update.install import Install, Report


def provision(dev, root_doc, src, progress=None):
    from .bundle import trust

    root = trust.load_root(root_doc)
    # Load first: a record written without knowing the stored ones could
    # lose to a newer one left by an earlier provisioning of this flash,
    # and the old root and counters would come back at the next load.
    dev.roots.load()
    dev.roots.save(root_doc)
    dev.states.load()
    st = State()
    st.active = 1  # nothing runs yet; install() writes the other slot, 0
    st.root_version = root.version
    dev.save(st)
    if dev.bank.bootloader:
        return _adopt(dev, st, src)
    rep = Install(dev, src, progress, slot=0).run()
    st = dev.load()
    st.active_rev, st.active_sbom = st.trial_rev, st.trial_sbom
    _confirmed(dev, st, st.trial, st.trial_version, st.trial_size, st.trial_sha,
               st.trial_counter, st.trial_sequence)
    return rep


def _adopt(dev, st, src):
    m = offer.manifest(dev, src, st, True)
    run = dev.bank.running()
    if run is None:
        # CircuitPython's dualbank tells neither which partition runs nor
        # what it holds: the running firmware is taken to be the one the
        # verified manifest describes (docs/CIRCUITPYTHON.md).
        run = 0
    else:
        _check_running(dev, st, m, dev.bank.regions[run])
    st.active_rev, st.active_sbom = rev_bytes(m.source_rev), m.sbom_sha256 or bytes(32)
    _confirmed(dev, st, run, m.version, m.image_size, m.image_sha256, m.security_counter,
               m.sequence)
    rep = Report()
    rep.outcome, rep.version, rep.label, rep.slot = "adopted", m.version, m.label, run
    rep.chunks = m.chunk_count()
    return rep


def _check_running(dev, st, m, region):
    check = Expect(m.image_size, m.image_sha256, "hash-mismatch")
    buf = bytearray(1024)
    view = memoryview(buf)
    for addr in range(0, m.image_size, len(buf)):
        piece = view[:min(len(buf), m.image_size - addr)]
        region.read(addr, piece)
        check.update(piece)
    try:
        check.finish()
    except BundleError as e:
        offer.note(dev, st, L.VERIFY_FAIL, e.reason, m.version)
        raise


def _confirmed(dev, st, slot, version, size, sha, counter, sequence):
    # The confirm() transition (the state starts at zero counters here).
    keep(dev, st, slot, version, size, sha, counter, sequence, L.PROVISION)
