# SPDX-License-Identifier: MIT
"""Trial boots, confirmation and rollback (docs/AGENT.md, "Boot").

Two separate mechanisms:
- Rollback on failure: an installed image first runs as a trial; boot()
  counts its attempts and, after max_attempts boots without confirm(),
  goes back to the previous slot (or the bootloader does, on an ESP32
  with rollback enabled). The reverted image is remembered and not
  installed again. A trial the bootloader never started, or left before
  its first boot was counted (a power cut), is selected again once
  rather than taken for a failure (docs/CAMPAIGN.md).
- Anti-rollback: the minimum security counter (and the last sequence)
  rise only in confirm(), to the confirmed image's. install() refuses any
  manifest below them, so a failed trial can still go back, but once an
  image is confirmed no older-counter image can be installed.
"""

from .state import log as L
from .state.fields import NONE

from micropython import const


# State flag: boot() already selected the trial again once (see boot()).
_RESELECTED = const(1)


class Boot:
    """What boot() decided: the slot to run, its image version and size,
    whether it is a trial, whether a trial was just given up, and whether
    the board must reset to get there (a bootloader-managed bank)."""

    def __init__(self, slot, version, size, trial=False, reverted=False, reset=False):
        self.slot = slot
        self.version = version
        self.size = size
        self.trial = trial
        self.reverted = reverted
        self.reset = reset


def revert(dev, st, reason):
    """Give the trial image up (logged with reason) and remember it as
    reverted; the next boot() runs the confirmed image."""
    dev.log(st, L.REVERT, reason, st.trial_version)
    st.bad_sha = st.trial_sha[:8]
    st.trial = NONE
    st.attempts = 0
    dev.save(st)


# What boot() does (decide()); each action has one fixed recipe of I/O.
ACTIVE = "active"  # no trial, the agent picks the slot: run the confirmed image
COMMIT = "commit"  # no trial, a bootloader started the confirmed image: keep it there
BACK = "back"  # no trial, a bootloader started the other slot: select the confirmed one, reset
RESELECT = "reselect"  # a trial never counted: select it again (once), reset
LEFT = "left"  # a bootloader gave the trial up by itself: record the revert
GIVE_UP = "give-up"  # trial boots used up: record the revert, run the confirmed image
GIVE_UP_SELECT = "give-up-select"  # the same where a bootloader runs images: select it, reset
TRY = "try"  # count a trial boot, run the trial


def decide(st, running, max_attempts, bootloader):
    """The boot decision, without I/O: from the stored state st, the slot
    the bootloader started (None where the agent picks the slot), the
    trial boots allowed and whether a bootloader runs images, one of the
    actions above."""
    if st.trial == NONE:
        if running is None:
            return ACTIVE
        # A revert was recorded but power went before set_boot() took the
        # bootloader back to the old slot; or the confirmed image, which
        # after a set_boot() back to it a bootloader with rollback holds
        # pending until told.
        return BACK if running != st.active else COMMIT
    if running is not None and running != st.trial:
        if not st.attempts and not st.flags & _RESELECTED:
            # No boot of the trial was ever counted: power went between the
            # install's state write and set_boot(), or before its first
            # boot was counted (and a bootloader with rollback gave it up
            # at that reset). It has not failed: select it again, once.
            return RESELECT
        return LEFT
    if st.attempts >= max_attempts:
        return GIVE_UP_SELECT if bootloader else GIVE_UP
    # Counted before the image runs, so a crash counts too.
    return TRY


def boot(dev):
    st = dev.load()
    bank = dev.bank
    run = bank.running()
    act = decide(st, run, dev.max_attempts, bank.bootloader)
    if act == ACTIVE or act == COMMIT or act == BACK:
        res = Boot(st.active, st.active_version, st.active_size, reset=act == BACK)
        if act == BACK:
            bank.select(st.active)
        elif act == COMMIT:
            bank.commit(st.active)
    elif act == RESELECT:
        # The flag is saved after set_boot(), so a cut between them only
        # repeats this.
        bank.select(st.trial)
        st.flags |= _RESELECTED
        dev.save(st)
        res = Boot(run, st.active_version, st.active_size, reset=True)
    elif act == LEFT:
        revert(dev, st, "bootloader")
        res = Boot(run, st.active_version, st.active_size, reverted=True)
    elif act == TRY:
        st.attempts += 1
        dev.log(st, L.TRIAL, value=st.trial_version)
        dev.save(st)
        res = Boot(st.trial, st.trial_version, st.trial_size, trial=True)
    else:
        revert(dev, st, "attempts")
        res = Boot(st.active, st.active_version, st.active_size, reverted=True,
                   reset=act == GIVE_UP_SELECT)
        if res.reset:
            bank.select(st.active)
    if not res.reset:
        bank.enter(res.slot)
    return res


def confirm(dev):
    """Make the running trial image permanent; False if there is none."""
    st = dev.load()
    if st.trial == NONE or not st.attempts:
        # No trial, or it is installed but boot() has not run it yet: the
        # image still running is the old one, and confirming from it would
        # make an image that never ran permanent and raise the counter.
        return False
    run = dev.bank.running()
    if run is not None and run != st.trial:
        return False
    # Written by keep()'s one state write, with the rest of the image's facts.
    st.active_rev, st.active_sbom = st.trial_rev, st.trial_sbom
    keep(dev, st, st.trial, st.trial_version, st.trial_size, st.trial_sha, st.trial_counter,
         st.trial_sequence, L.CONFIRM)
    return True


def keep(dev, st, slot, version, size, sha, counter, sequence, event):
    """Make the image in slot the one that runs from now on, in one state
    write: the bootloader keeps it, the anti-rollback counter and the last
    sequence rise to its own (never fall), no trial is left; logged as
    event. confirm() and factory provisioning both end here; a rise of the
    counter is logged except at provisioning, which starts it."""
    dev.bank.commit(slot)
    st.active = slot
    st.active_version, st.active_size, st.active_sha = version, size, sha
    if counter > st.min_counter:
        st.min_counter = counter
        if event != L.PROVISION:
            dev.log(st, L.COUNTER, value=counter)
    if sequence > st.last_sequence:
        st.last_sequence = sequence
    st.trial = NONE
    st.attempts = 0
    dev.log(st, event, value=version)
    dev.save(st)


def run_main(folder):
    """Run folder/main.py (an app's entry point) as a board runs its own
    main.py; False if the folder has none."""
    try:
        with open(folder + "/main.py") as f:
            code = f.read()
    except OSError:
        return False
    exec(code, {"__name__": "__main__"})
    return True
