# SPDX-License-Identifier: MIT
# The power-cut sweep, device side: run under build/unix/micropython with
# firmware/, tests/agent/mp (agentkit), tests/campaign/mp and, for the
# ESP32 bank and the RP2040 region, tests/agent/esp32stub and
# tests/agent/rp2stub on MICROPYPATH.
#
# sweep(spec) provisions a device once and keeps its files as the pristine
# copy. One run of the cycle with the power on counts its operations; then,
# for each operation n (and torn, where an operation can tear), the files
# are restored, power is cut just before operation n, the device is
# "rebooted" (opened again, the bootloader's reset where there is one,
# boot()) and the cycle is driven to its end. After every boot the
# invariants of the campaign are checked (see check_boot and finish).
#
# An operation is anything that changes what survives a reset: an erase or
# a page program of the NOR flash model, a write of a state or root file,
# a write of an app image file or of an unpacked app file, the bootloader's
# otadata. The NOR model tears its own operations (half the page, half the
# sector); file writes tear as half the bytes; an otadata entry is written
# as two operations (erase its sector, write it), so a cut between them is
# its tear, and the operations themselves do not tear.
#
# Prints RESULT lines (agentkit.emit): "count", "cases", "failures",
# "resume", "seconds".

import binascii
import os
import time

from agentkit import emit
from tree import copy_tree
from mpota import apptar, trial
from mpota.bundle.error import BundleError
from mpota.device import Device
from mpota.errors import AgentError
from mpota.sha256 import sha256
from mpota.flash.nor import NorFile, PowerCut
from mpota.flash.region import FileRegion
from mpota.source import SourceError
from mpota.source.local import LocalSource
from mpota.state import RootStore, StateStore
from mpota.state.fields import NONE
from mpota.state.record import FileArea
from mpota.update.install import Install

_FAIL_LIMIT = 40  # failures reported in full; the rest are only counted


class Power:
    """One supply for every kind of operation: counts them, cuts before
    number cut_at, and stays off after a cut until the next reboot."""

    def __init__(self):
        self.reset(-1, False)
        self.kinds = {}
        self.saves = 0
        self.trace = None  # the kind of each operation, when recording

    def reset(self, cut_at, tear):
        self.count = 0
        self.cut_at = cut_at
        self.tear = tear
        self.off = False
        self.cut_kind = None

    def tick(self, kind):
        # True if the power goes at this operation (its tear is then up to
        # the caller); PowerCut if it is already off.
        if self.off:
            raise PowerCut()
        n = self.count
        self.count += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if self.trace is not None:
            self.trace.append(kind)
        if n == self.cut_at:
            self.off = True
            self.cut_kind = kind
            return True
        return False


POWER = Power()


def _wire(esp32):
    # Put every operation of the agent (and of the stand-in bootloader)
    # behind POWER. The NOR model keeps its own tearing.
    def nor_op(self):
        if self.dead:
            raise PowerCut()
        self.ops += 1
        if POWER.tick(self.kind):
            self.dead = True
            self.tear = POWER.tear
            return True
        return False

    nor_program = NorFile.program
    nor_pages = NorFile.program_pages
    nor_erase = NorFile.erase

    def program(self, addr, buf):
        self.kind = "program"
        return nor_program(self, addr, buf)

    def program_pages(self, addr, buf):
        self.kind = "program"  # each page an operation (_op)
        return nor_pages(self, addr, buf)

    def erase(self, addr):
        self.kind = "erase"
        return nor_erase(self, addr)

    NorFile._op = nor_op
    NorFile.program = program
    NorFile.program_pages = program_pages
    NorFile.erase = erase

    # State writes, whatever they are made of, are also counted.
    for store in (StateStore, RootStore):
        _count_saves(store)

    area_write = FileArea.write

    def write(self, buf, n):
        if POWER.tick("state-file"):
            if POWER.tear:
                area_write(self, buf, n // 2)
            raise PowerCut()
        area_write(self, buf, n)

    FileArea.write = write

    region_program = FileRegion.program

    def fprogram(self, addr, buf):
        if POWER.tick("image-file"):
            if POWER.tear:
                region_program(self, addr, memoryview(buf)[:len(buf) // 2])
            raise PowerCut()
        region_program(self, addr, buf)

    FileRegion.program = fprogram

    copy = apptar._copy

    def unpack(region, pos, n, path, buf):
        if POWER.tick("app-file"):
            if POWER.tear:
                copy(region, pos, n // 2, path, buf)
            raise PowerCut()
        copy(region, pos, n, path, buf)

    apptar._copy = unpack

    if esp32 is not None:
        save = esp32._save

        def otadata(d):
            if POWER.tick("otadata"):
                raise PowerCut()
            save(d)

        esp32._save = otadata


def _count_saves(cls):
    save = cls.save

    def counted(self, what):
        POWER.saves += 1
        return save(self, what)

    cls.save = counted


# Files ---------------------------------------------------------------------


def _hex(b):
    return binascii.hexlify(bytes(b)).decode()


# A source that remembers what crossed the link ------------------------------


class Counting:
    """LocalSource that records, per chunk file, whether it was served to
    its end, and counts the opens of chunks already served whole."""

    def __init__(self, path):
        self.inner = LocalSource(path)
        self.path = path
        self.sizes = {}
        self.whole = {}
        self.fetches = 0
        self.again = 0
        self.after = 0
        self.watch = False  # count fetches again after a reboot

    def open(self, name, offset=0):
        r = self.inner.open(name, offset)
        if "chunks/" not in name:  # chunks/..., or bundles/<hash>/chunks/... of a repository
            return r
        if name not in self.sizes:
            self.sizes[name] = os.stat(self.path + "/" + name)[6]
        if offset == 0:
            self.fetches += 1
            if self.watch:
                self.after += 1
                if name in self.whole:
                    self.again += 1
        return _Reader(self, r, name, offset)


class _Reader:
    def __init__(self, src, r, name, at):
        self.src = src
        self.r = r
        self.name = name
        self.at = at

    def readinto(self, buf):
        n = self.r.readinto(buf)
        self.at += n
        if self.at >= self.src.sizes[self.name] and not self.src.watch:
            self.src.whole[self.name] = 1
        return n

    def close(self):
        self.r.close()


# The device and its reboots --------------------------------------------------


class Rig:
    def __init__(self, spec):
        self.spec = spec
        self.base = spec["base"]
        self.bank = spec["config"]["bank"]
        self.esp32 = None
        if self.bank == "esp32":
            import esp32

            self.esp32 = esp32
        self.rp2 = None
        if spec.get("rp2_storage"):
            import rp2

            self.rp2 = rp2
        self.dev = None
        self.images = {}
        for which in ("old", "new"):
            i = spec[which]
            self.images[i["version"]] = i

    def power_on(self):
        """Open the device as a board does at reset (flash chip, state)."""
        if self.esp32:
            self.esp32.configure(self.base, self.spec["part_size"])
        if self.rp2:
            self.rp2.configure(self.base + "/rp2-flash", self.spec["rp2_storage"])
        self.dev = Device(self.spec["config"], self.base)
        return self.dev

    def power_off(self):
        if self.dev is not None:
            self.dev.close()
            for r in self.dev.bank.regions + [self.dev.table, self.dev.chunks]:
                close = getattr(r, "close", None)
                if close:
                    close()
            self.dev = None
        if self.esp32:
            self.esp32._BASE[2].close()
        if self.rp2:
            self.rp2.close()

    def reboot(self):
        """Reset: the bootloader (if any) picks a partition, boot() runs.
        Returns what boot() decided for the code that then runs."""
        self.power_off()
        if self.esp32:
            # The bootloader runs before the flash is opened.
            self.esp32.configure(self.base, self.spec["part_size"])
            self.esp32.reset(self.spec.get("rollback", True))
            self.esp32._BASE[2].close()
        self.power_on()
        b = trial.boot(self.dev)
        if b.reset:
            # boot() went back to the old partition and asks for a reset.
            return self.reboot()
        return b

    def running(self, b):
        """The slot whose code actually runs after boot b."""
        if self.esp32:
            name = self.esp32.otadata()["running"]
            return 0 if name == "ota_0" else 1
        return b.slot

    def slot_sha(self, slot, size):
        h = sha256()
        buf = bytearray(1024)
        r = self.dev.bank.regions[slot]
        for a in range(0, size, 1024):
            v = memoryview(buf)[:min(1024, size - a)]
            r.read(a, v)
            h.update(v)
        return _hex(h.digest())


# One case --------------------------------------------------------------------


class Case:
    def __init__(self, rig, n, tear):
        self.rig = rig
        self.n = n
        self.tear = tear
        self.problems = []
        self.floor = rig.spec["old"]["counter"]
        self.control = 0
        self.boots = 0

    def bad(self, what):
        self.problems.append(what)

    def check_boot(self, b):
        """After every boot: a valid, signed image runs (old or new, never
        neither); the stored floors never go down."""
        rig = self.rig
        self.boots += 1
        run = rig.running(b)
        if run != b.slot:
            self.bad("boot() says slot {} but slot {} runs".format(b.slot, run))
        img = rig.images.get(b.version)
        if img is None:
            self.bad("boot() picked version {}, not a signed image".format(b.version))
            return
        if b.size != img["size"] or rig.slot_sha(run, img["size"]) != img["sha"]:
            self.bad("slot {} does not hold version {}".format(run, b.version))
        if rig.bank == "dir":
            try:
                with open(rig.dev.bank.app(run) + "/main.py") as f:
                    ok = "app version {}".format(b.version) in f.read()
            except OSError:
                ok = False
            if not ok:
                self.bad("app directory of slot {} is not version {}".format(run, b.version))
        st = rig.dev.load()
        if st.min_counter < self.floor:
            self.bad("min counter went down: {} < {}".format(st.min_counter, self.floor))
        self.floor = max(self.floor, st.min_counter)
        if st.control_version < self.control:
            self.bad("control version went down: {} < {}".format(st.control_version,
                                                                 self.control))
        self.control = max(self.control, st.control_version)
        return st

    def check_end(self, st):
        # Once the cycle is over the state names the stored root (a cut
        # between the two records is mended by the next install).
        root = self.rig.dev.root().version
        if st.root_version != root:
            self.bad("state says root {} but root {} is stored".format(st.root_version, root))
        if self.rig.spec["cycle"] == "good" and root != 2:
            self.bad("the root rotation was lost")


def _update(rig, src):
    # The install of a cycle: from the bundle, or, in the rollout cycle,
    # by a poll of the repository (its refusals raised as the install's).
    if rig.spec["cycle"] != "rollout":
        return Install(rig.dev, src).run()
    from mpota.rollout.poll import Poller

    res = Poller(rig.dev, src).poll()
    if res.action == "refused":
        raise AgentError(res.reason)
    if res.report is None:
        raise AgentError("poll gave " + res.action)
    return res.report


def story(rig, src, marks):
    """The cycle with the power on. good: install (a root rotation comes
    with it), trial boot, confirm, boot, then a replay of the old bundle
    (refused and logged: a state write after the confirm). bad: install,
    trial boots without confirm until the revert, boot, then the same
    bundle again (refused and logged)."""
    spec = rig.spec
    if spec["cycle"] == "unbootable":
        # set_boot() refuses it: no trial, the running image stays selected.
        try:
            Install(rig.dev, LocalSource(spec["unbootable"]["bundle"])).run()
        except AgentError as e:
            if e.reason != "unbootable":
                raise
        marks["refused"] = POWER.count
    _update(rig, src)
    marks["installed"] = POWER.count
    if spec["cycle"] != "bad":
        b = rig.reboot()
        marks["trial"] = POWER.count
        trial.confirm(rig.dev)
        marks["confirmed"] = POWER.count
        rig.reboot()
        try:
            Install(rig.dev, LocalSource(spec["old"]["bundle"])).run()
        except BundleError:
            pass
    else:
        for _ in range(spec["config"].get("max_attempts", 3) + 2):
            if not rig.reboot().trial:
                break
        marks["reverted"] = POWER.count
        try:
            Install(rig.dev, src).run()
        except AgentError:
            pass


def finish(case, b, src, marks):
    """Drive the device from boot b to the end of the cycle, as its owner
    would (retry the update; the app confirms a good trial), and check
    the end state. Returns the number of steps."""
    rig = case.rig
    spec = rig.spec
    new = spec["new"]
    good = spec["cycle"] != "bad"
    for step in range(24):
        st = rig.dev.load()
        if st.trial != NONE:
            if good and b.trial:
                trial.confirm(rig.dev)
            b = rig.reboot()
            case.check_boot(b)
            continue
        if good and _hex(st.active_sha) == new["sha"]:
            if st.min_counter != new["counter"] or st.last_sequence != new["sequence"]:
                case.bad("confirmed without its floors: {} {}".format(
                    st.min_counter, st.last_sequence))
            case.check_end(st)
            return step
        if _hex(st.bad_sha) == new["sha"][:16]:
            if good and not _trial_window(rig, case.n, marks):
                case.bad("the new image was given up")
            try:
                _update(rig, src)
                case.bad("a reverted image was installed again")
            except AgentError as e:
                if e.reason != "reverted":
                    case.bad("retry refused: {}".format(e.reason))
            if _hex(st.active_sha) != spec["old"]["sha"] or st.min_counter != spec["old"]["counter"]:
                case.bad("after the revert the old image is not the confirmed one")
            if not good:
                case.check_end(st)
            return step
        try:
            rep = _update(rig, src)
        except (BundleError, AgentError, SourceError) as e:
            case.bad("retry refused: {}".format(e.reason))
            return step
        if rep.outcome != "installed":
            case.bad("retry gave {}".format(rep.outcome))
            return step
        b = rig.reboot()
        case.check_boot(b)
    case.bad("no end after 24 steps")
    return 24


def _trial_window(rig, n, marks):
    # A bootloader with rollback (ESP-IDF) gives up a pending image at any
    # reset before it is marked valid: a cut after the trial boot was
    # counted and before confirm() marked it valid cannot be told from a
    # crash of the app, so the trial is over (docs/CAMPAIGN.md). Marking
    # it valid rewrites the active otadata entry in place, two operations
    # (erase its sector, write it): a cut between them leaves the old
    # entry in charge, with or without rollback.
    if rig.esp32 is None:
        return False
    first = marks["trial"] if rig.spec.get("rollback", True) else marks["trial"] + 1
    return first <= n < marks["trial"] + 2


def _milestones(case, st, marks):
    # What was done before the cut stays done.
    spec = case.rig.spec
    n = case.n
    new = spec["new"]
    if "confirmed" in marks and n >= marks["confirmed"]:
        if _hex(st.active_sha) != new["sha"] or st.min_counter != new["counter"]:
            case.bad("the confirmed image was lost")
    if "reverted" in marks and n >= marks["reverted"]:
        if _hex(st.active_sha) != spec["old"]["sha"] or _hex(st.bad_sha) != new["sha"][:16]:
            case.bad("the revert was lost")
    if n >= marks["installed"]:
        if st.trial == NONE and _hex(st.active_sha) != new["sha"] \
                and _hex(st.bad_sha) != new["sha"][:16]:
            case.bad("the installed image was lost")


def run_case(rig, n, tear, marks, pristine):
    rig.power_off()
    copy_tree(pristine, rig.base)
    POWER.reset(-1, False)
    rig.power_on()
    src = Counting(rig.spec["repo"] or rig.spec["new"]["bundle"])
    POWER.reset(n, tear)
    case = Case(rig, n, tear)
    try:
        story(rig, src, {})
        case.bad("the cycle ended before operation {}".format(n))
    except PowerCut:
        pass
    kind = POWER.cut_kind
    POWER.reset(-1, False)
    src.watch = True
    try:
        b = rig.reboot()
        st = case.check_boot(b)
        if st is not None:
            _milestones(case, st, marks)
        finish(case, b, src, marks)
    except (BundleError, AgentError, SourceError) as e:
        case.bad("{}: {}".format(type(e).__name__, e.reason))
    except PowerCut:
        case.bad("power cut with the power on")
    if n >= marks["installed"] and src.after:
        case.bad("{} chunks fetched after the install had finished".format(src.after))
    if src.again > rig.spec["per_unit"]:
        case.bad("{} verified chunks fetched again (an erase unit holds {})".format(
            src.again, rig.spec["per_unit"]))
    return case, kind, src.again


def _sabotage(how):
    # For the control test: break the agent on purpose, to show that the
    # sweep notices. "one-copy": the state record overwrites its newest
    # copy instead of the other one.
    if how == "one-copy":
        from mpota.state import record

        save = record.Store.save

        def in_place(self, length):
            if self.newest >= 0:
                self.newest = 1 - self.newest
            save(self, length)

        record.Store.save = in_place


def sweep(spec):
    t0 = time.time()
    rig = Rig(spec)
    _wire(rig.esp32)
    _sabotage(spec.get("sabotage"))
    base = rig.base
    pristine = base + ".pristine"
    # Provision (power on, no cuts) and keep the result.
    apptar.remove(base)
    os.mkdir(base)
    if rig.esp32:
        rig.esp32.configure(base, spec["part_size"])
        with open(spec["old"]["image"], "rb") as f:
            data = f.read()
        # As the board's tool writes it: whole sectors.
        rig.esp32.Partition("ota_0").writeblocks(0, data + b"\xff" * (-len(data) % 4096))
    rig.power_on()
    from agentkit import provision

    provision(rig.dev, spec["root"], spec["old"]["bundle"])
    b = rig.reboot()
    rig.power_off()
    copy_tree(base, pristine)

    # The count: one cycle with the power on.
    rig.power_on()
    POWER.kinds = {}
    POWER.saves = 0
    POWER.reset(-1, False)
    POWER.trace = trace = []
    marks = {}
    src = Counting(spec["repo"] or spec["new"]["bundle"])
    story(rig, src, marks)
    POWER.trace = None
    total = POWER.count
    emit("count", {"ops": total, "kinds": POWER.kinds, "state_writes": POWER.saves,
                   "marks": marks, "fetches": src.fetches})

    cases = 0
    failures = []
    failed = 0
    again = []
    step = spec.get("stride", 1)
    for n in range(spec.get("first", 0), total, step):
        for tear in spec["tears"]:
            if tear and trace[n] == "otadata":
                continue  # otadata does not tear: the same case as untorn
            case, kind, refetched = run_case(rig, n, tear, marks, pristine)
            if kind != trace[n]:
                case.bad("operation {} was {} when counted, {} now".format(n, trace[n], kind))
            cases += 1
            again.append(refetched)
            if case.problems:
                failed += 1
                if len(failures) < _FAIL_LIMIT:
                    failures.append([n, tear, kind, case.problems[:3]])
    rig.power_off()
    apptar.remove(pristine)
    emit("cases", cases)
    emit("failed", failed)
    emit("failures", failures)
    emit("resume", {"max_again": max(again) if again else 0, "total_again": sum(again),
                    "cases_refetching": sum(1 for a in again if a)})
    emit("seconds", time.time() - t0)
