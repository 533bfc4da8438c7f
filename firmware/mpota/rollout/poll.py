# SPDX-License-Identifier: MIT
"""One poll of a staged-rollout repository (docs/ROLLOUT.md, "What a
device does at each poll"): read the control document, the revocation
list, the plans it names and a canary shard, let cohort.decide() and
trust.py decide, then install the chosen plan's bundle. This module only
fetches, orders and stores; it decides nothing itself."""

import binascii

from .. import clock
from ..bundle import format as F
from ..bundle import trust
from ..bundle.error import BundleError
from ..errors import AgentError
from ..sha256 import sha256
from ..source import SourceError
from ..state import log as L
from ..state.fields import NONE
from ..update import fetch, offer
from . import cohort

from micropython import const

_POLL_MIN = const(60)
_POLL_MAX = const(86400)


def _hex(b):
    return binascii.hexlify(bytes(b)).decode()


class Result:
    """What a poll did. action: 'installed', 'up-to-date', 'update' (a
    plan takes this device; poll(install=False) installed nothing), 'wait'
    (a plan will take it later), 'none' (no plan takes it), or 'refused'
    (reason says why); plan: the plan id acted on; next_poll: seconds."""

    def __init__(self, action, reason="", plan="", next_poll=_POLL_MAX, report=None):
        self.action = action
        self.reason = reason
        self.plan = plan
        self.next_poll = next_poll
        self.report = report

    def __repr__(self):
        return "Result({}, {}, {}, {})".format(self.action, self.reason, self.plan,
                                               self.next_poll)


class Pinned:
    """The bundle of a plan inside the repository: names under
    bundles/<manifest hash>/, and a manifest that must hash to the plan's
    value, so the host cannot swap in another signed manifest."""

    def __init__(self, src, manifest_sha):
        self.src = src
        self.sha = bytes(manifest_sha)
        self.prefix = "bundles/" + _hex(manifest_sha) + "/"
        # Runs of chunks in one request (update/runs.py) where the
        # repository's source can ask for a byte range.
        self.ranges = getattr(src, "ranges", False)

    def open(self, name, offset=0, end=0):
        if name != "manifest":
            if end:
                return self.src.open(self.prefix + name, offset, end)
            return self.src.open(self.prefix + name, offset)
        return _Checked(self.src.open(self.prefix + name, offset), self.sha, offset)


class _Checked:
    # Hashes the manifest as it is read; at its end, a mismatch is refused
    # before the reader hands back the final 0 that lets anyone parse it.
    def __init__(self, reader, sha, offset):
        self.r = reader
        self.want = sha
        self.h = sha256() if offset == 0 else None

    def readinto(self, buf):
        n = self.r.readinto(buf)
        if self.h is None:
            # A resumed read cannot be hashed here: refuse it rather than
            # pass bytes unchecked (fetch.read_doc reads the manifest whole).
            raise SourceError("io")
        if n:
            self.h.update(memoryview(buf)[:n])
        elif self.h.digest() != self.want:
            raise BundleError("hash-mismatch")
        return n

    def close(self):
        self.r.close()


class Poller:
    """Polls one repository; remembers, for its lifetime, plans and canary
    shards that answered 'not found' so that they are not asked for again."""

    def __init__(self, dev, src=None):
        self.dev = dev
        self.src = src or dev.source()
        self.gone = []
        self.buf = bytearray(F.MAX_DOC + 1)
        c = dev.cfg
        self.poll_min = c.get("poll_min", _POLL_MIN)
        self.poll_max = c.get("poll_max", _POLL_MAX)
        self.device_id = c.get("device_id")
        if not self.device_id:
            raise AgentError("config")

    def _hint(self, seconds):
        return min(max(seconds or self.poll_max, self.poll_min), self.poll_max)

    def _read(self, name, missing):
        if name in self.gone:
            raise BundleError(missing)
        try:
            return fetch.read_doc(self.dev, self.src, name, self.buf, missing)
        except BundleError as e:
            # Only content-addressed names (plans/, canary/) are given up:
            # control and revoked are missing until first published, and
            # must be read again at every poll.
            if e.reason == missing and "/" in name and len(self.gone) < 16:
                self.gone.append(name)
            raise

    def poll(self, install=True, progress=None):
        """One poll. install=False decides and stores what was learnt
        (versions, halts, the time floor) but installs nothing."""
        dev = self.dev
        st = dev.load()
        try:
            return self._poll(st, install, progress)
        except BundleError as e:
            offer.note(dev, st, L.VERIFY_FAIL, e.reason, 0)
            # A refused document will not change by asking again soon.
            return Result("refused", e.reason, next_poll=self.poll_max)
        except SourceError as e:
            return Result("refused", e.reason, next_poll=self._hint(self.poll_min * 4))
        except MemoryError:
            # As Install.run says: refused with a code, tried again later.
            return Result("refused", "no-memory", next_poll=self._hint(self.poll_min * 4))
        except AgentError as e:
            # trial-pending, reverted, no-room: the install's own refusals,
            # logged by it where they are news.
            if e.reason == "config":
                raise
            return Result("refused", e.reason, next_poll=self._hint(self.poll_min * 4))

    def _poll(self, st, install, progress):
        dev = self.dev
        root = self._root(st)
        floor = clock.floor(st, root)
        now = clock.control_now(dev.now(), floor, st.control_time)
        ctl = trust.verify_control(root, self._read("control", "missing-control"), now,
                                   st.control_version)
        changed = ctl.version != st.control_version or ctl.issued > st.control_time
        st.control_version = ctl.version
        st.control_time = clock.raised(st.control_time, ctl.issued)
        rev = self._revocations(root, st)
        if rev is not None:
            changed |= rev.version != st.revoked_version
            st.revoked_version = rev.version
            st.time_floor = clock.raised(st.time_floor, rev.issued)
            if st.trial != NONE and rev.has(st.trial_sha):
                self._give_up_trial(st)
                changed = True
        for e in ctl.entries:
            # Only a plan the update keys signed is remembered as halted: a
            # stolen control key that halts invented plans cannot push a
            # real halt out of the device's bounded memory.
            if e.state == F.STATE_HALT and not st.is_halted(e.plan_sha):
                try:
                    if self._plan(root, e) is not None:
                        changed |= st.add_halted(e.plan_sha)
                except BundleError:
                    # A plan these keys do not sign (retired by a rotation,
                    # or forged) is never installed here: nothing to hold.
                    pass
        if changed:
            dev.save(st)
        now = clock.wave_now(dev.now(), clock.floor(st, root), st.control_time)
        return self._choose(root, st, ctl, rev, now, install, progress)

    def _root(self, st):
        dev = self.dev
        old = dev.root()

        def rotated(doc, root):
            dev.roots.save(doc)
            st.root_version = root.version
            if root.control_ids != old.control_ids:
                # New control keys start afresh; the old key's version and
                # issue times are no longer binding (docs/ROLLOUT.md).
                st.control_version = 0
                st.control_time = 0
            dev.log(st, L.ROOT, value=root.version)
            dev.save(st)

        return fetch.newest_root(dev, self.src, old, self.buf, rotated)

    def _revocations(self, root, st):
        try:
            doc = self._read("revoked", "missing-revocations")
        except BundleError as e:
            # Once a list was seen, a host may not make it disappear.
            if e.reason == "missing-revocations" and not st.revoked_version:
                return None
            raise
        return trust.verify_revoked(root, doc, st.revoked_version)

    def _give_up_trial(self, st):
        # The image on trial was revoked: give the trial up now, so the
        # next boot runs the confirmed image (trial.boot goes back to the
        # active slot when the state has no trial).
        from .. import trial

        dev = self.dev
        trial.revert(dev, st, "revoked")
        if dev.bank.bootloader:
            dev.bank.select(st.active)

    def _choose(self, root, st, ctl, rev, now, install, progress):
        dev = self.dev
        facts = dev.facts()
        result = Result("none", next_poll=self.poll_max)
        for e in ctl.entries:
            hint = self._hint(e.poll_s)
            if e.state != F.STATE_RUN or st.is_halted(e.plan_sha):
                continue
            plan = self._plan(root, e)
            if plan is None:
                continue
            if plan.issued > st.time_floor:
                # An offline-signed time: it raises the floor (clock.py).
                st.time_floor = clock.raised(st.time_floor, plan.issued)
                dev.save(st)
            if not cohort.selected(plan, facts["device_class"], facts.get("hw_rev")):
                continue
            canary = self._canary(plan) if plan.canary else None
            verdict = cohort.decide(plan, e.state, e.cap_bp,
                                    cohort.bucket(plan.id, self.device_id), canary, now)
            if verdict == cohort.INSTALL:
                return self._install(plan, rev, hint, install, progress)
            if verdict == cohort.WAIT and result.action == "none":
                result = Result("wait", plan=plan.id, next_poll=hint)
        return result

    def _plan(self, root, e):
        # The verified plan a control entry names, or None if not published.
        try:
            return trust.verify_plan(root, self._read("plans/" + _hex(e.plan_sha),
                                                      "missing-plan"), e.plan_sha)
        except BundleError as err:
            if err.reason != "missing-plan":
                raise
            return None

    def _canary(self, plan):
        i = cohort.shard(plan.id, self.device_id, len(plan.canary))
        sha = plan.canary[i]
        doc = self._read("canary/" + _hex(sha), "missing-canary")
        if len(doc) > F.MAX_SHARD:
            raise BundleError("too-large")
        h = sha256()
        h.update(doc)
        if h.digest() != sha:
            # A forged or damaged list: believe no line of it.
            raise BundleError("hash-mismatch")
        want = self.device_id.encode()
        start = 0
        n = len(doc)
        while start < n:
            end = start
            while end < n and doc[end] != 10:
                end += 1
            if end - start == len(want) and bytes(doc[start:end]) == want:
                return True
            start = end + 1
        return False

    def _install(self, plan, rev, hint, install, progress):
        dev = self.dev
        src = Pinned(self.src, plan.manifest_sha)
        m, what = offer.check(dev, src)
        if rev is not None and rev.has(m.image_sha256):
            raise BundleError("revoked")
        if what == "up-to-date" or not install:
            return Result(what if what == "up-to-date" else "update", plan=plan.id,
                          next_poll=hint)
        from ..update.install import Install

        try:
            report = Install(dev, src, progress).run()
        except BundleError as e:
            # The install saved its progress and logged the refusal in a
            # newer state record than the poll's: never write the poll's
            # copy over it.
            st = dev.load()
            last = st.last()
            if not last or last[1] != L.reason_code(e.reason):
                offer.note(dev, st, L.VERIFY_FAIL, e.reason, 0)
            return Result("refused", e.reason, plan=plan.id, next_poll=hint)
        action = "installed" if report.outcome == "installed" else report.outcome
        return Result(action, plan=plan.id, next_poll=hint, report=report)


def poll(dev, src=None, install=True, progress=None):
    """One poll of the device's repository (see Poller.poll)."""
    return Poller(dev, src).poll(install, progress)
