"""Factory setup: give a device its trust root and its first image.

The first image goes through the same install path as any update (every
byte verified against the root), into slot 0, and is confirmed at once:
there is nothing to go back to.
"""

from .bundle import trust
from .state import log as L
from .state.fields import NONE, State
from .update.install import Install


def provision(dev, root_doc, src, progress=None):
    root = trust.load_root(root_doc)
    dev.roots.save(root_doc)
    st = State()
    st.active = 1  # nothing runs yet; install() writes the other slot, 0
    st.root_version = root.version
    dev.save(st)
    rep = Install(dev, src, progress, slot=0).run()
    st = dev.load()
    st.active = st.trial
    st.active_version, st.active_size, st.active_sha = st.trial_version, st.trial_size, st.trial_sha
    st.min_counter, st.last_sequence = st.trial_counter, st.trial_sequence
    st.trial = NONE
    dev.bank.commit(st.active)
    dev.log(st, L.PROVISION, value=st.active_version)
    dev.save(st)
    return rep
