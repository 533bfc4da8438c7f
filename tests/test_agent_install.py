# SPDX-License-Identifier: MIT
"""The install path on the unix port, against the NOR flash model: full
update and confirm, refusal of every bundle a device must not install,
resume after a dropped transfer, delta transfers, root rotation."""

import hashlib
import shutil

import pytest

from agent import kit
from bundles import factory as f

NOW = 1_800_000_000
IMG1 = kit.image(40 * kit.CHUNK, seed=11)
IMG2 = kit.changed(IMG1, [3, 17])  # two chunks differ from v1
IMG_NEW = kit.image(40 * kit.CHUNK, seed=12)  # nothing in common with v1

_START = """
from mpota import trial
from mpota.source.local import LocalSource
from mpota.update.install import Install
dev = device({base!r}{opts})
provision(dev, {root!r}, {v1!r})
"""


def _start(tmp_path, bundles, v1="v1", **opts):
    extra = "".join(", {}={!r}".format(k, v) for k, v in opts.items())
    return _START.format(base=str(tmp_path / "dev"), opts=extra, root=str(bundles["root"]),
                         v1=str(bundles[v1]))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("agent-bundles")
    b = {"root": kit.root(d),
         "v1": kit.bundle(d, "v1", IMG1, version=1, security_counter=2, sequence=5),
         "v2": kit.bundle(d, "v2", IMG2, version=2, security_counter=3, sequence=6),
         "v2z": kit.bundle(d, "v2z", IMG2, version=2, security_counter=3, sequence=6,
                           compress="deflate"),
         "new": kit.bundle(d, "new", IMG_NEW, version=4, security_counter=4, sequence=8),
         "newz": kit.bundle(d, "newz", IMG_NEW, version=4, security_counter=4, sequence=8,
                            compress="deflate", window_bits=10),
         "v3": kit.bundle(d, "v3", kit.changed(IMG1, [5], seed=3), version=3,
                          security_counter=3, sequence=7)}
    return b


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_full_update_trial_boot_and_confirm(unix_target, tmp_path, bundles):
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
emit("before", state(dev))
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
emit("pending", state(dev))
b = trial.boot(dev)
emit("boot", [b.slot, b.version, b.trial])
emit("confirm", trial.confirm(dev))
emit("after", state(dev))
b = trial.boot(dev)
emit("boot2", [b.slot, b.version, b.trial])
emit("slot1", slot_sha(dev, 1, {n}))
emit("slot0", slot_sha(dev, 0, {n}))
""".format(v2=str(bundles["v2"]), n=len(IMG2)))
    assert r["before"]["active"] == 0 and r["before"]["min_counter"] == 2
    assert r["install"]["outcome"] == "installed" and r["install"]["slot"] == 1
    p = r["pending"]
    assert p["trial"] == 1 and p["active"] == 0
    # Anti-rollback does not move before the new image is confirmed.
    assert p["min_counter"] == 2 and p["last_sequence"] == 5
    assert r["boot"] == [1, 2, True]
    assert r["confirm"] is True
    a = r["after"]
    assert a["active"] == 1 and a["trial"] == 255
    assert a["min_counter"] == 3 and a["last_sequence"] == 6
    # install, installed, trial boot, counter advanced, confirm
    assert [e[0] for e in a["events"]][-5:] == [1, 8, 4, 7, 5]
    assert r["boot2"] == [1, 2, False]
    assert r["slot1"] == _sha(IMG2) and r["slot0"] == _sha(IMG1)


def test_confirm_from_the_old_image_before_the_trial_booted_commits_nothing(
        unix_target, tmp_path, bundles):
    # The running application installs an update and confirms at once, as
    # if confirm() meant "keep what I installed": the new image has not run.
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
emit("install", report(Install(dev, LocalSource({v2!r})).run()))
emit("early", trial.confirm(dev))
emit("pending", state(dev))
b = trial.boot(dev)
emit("boot", [b.slot, b.version, b.trial])
emit("confirm", trial.confirm(dev))
emit("after", state(dev))
""".format(v2=str(bundles["v2"])))
    assert r["install"]["outcome"] == "installed"
    assert r["early"] is False
    p = r["pending"]
    assert p["active"] == 0 and p["trial"] == 1
    assert p["min_counter"] == 2 and p["last_sequence"] == 5
    assert r["boot"] == [1, 2, True]
    assert r["confirm"] is True and r["after"]["min_counter"] == 3


def test_failed_trial_boots_revert_and_the_counter_stays(unix_target, tmp_path, bundles):
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
emit("install", report(Install(dev, LocalSource({v3!r})).run()))
boots = []
for _ in range(5):
    b = trial.boot(dev)
    boots.append([b.slot, b.version, b.trial, b.reverted])
emit("boots", boots)
emit("after", state(dev))
emit("again", outcome(lambda: Install(dev, LocalSource({v3!r})).run().outcome))
emit("other", outcome(lambda: Install(dev, LocalSource({v2!r})).run().outcome))
""".format(v3=str(bundles["v3"]), v2=str(bundles["v2"])))
    assert r["install"]["outcome"] == "installed"
    assert r["boots"] == [[1, 3, True, False], [1, 3, True, False], [1, 3, True, False],
                          [0, 1, False, True], [0, 1, False, False]]
    a = r["after"]
    assert a["active"] == 0 and a["trial"] == 255
    assert a["min_counter"] == 2 and a["last_sequence"] == 5
    assert [6, 39, 3] in a["events"]  # revert of version 3, reason "attempts"
    # The image that failed is not installed again; another one is.
    assert r["again"] == {"refused": "reverted"}
    assert r["other"] == "installed"


def _tamper(src, dst, how):
    shutil.copytree(src, dst)
    if how == "flip-chunk":
        victim = f.chunk_files(dst)[7]
        data = bytearray(victim.read_bytes())
        data[100] ^= 1
        victim.write_bytes(bytes(data))
    elif how == "extend-chunk":
        victim = f.chunk_files(dst)[7]
        victim.write_bytes(victim.read_bytes() + b"!")
    elif how == "flip-table":
        t = f.table_file(dst)
        data = bytearray(t.read_bytes())
        data[80] ^= 1
        t.write_bytes(bytes(data))
    elif how == "flip-signature":
        m = dst / "manifest"
        data = bytearray(m.read_bytes())
        data[-10] ^= 1
        m.write_bytes(bytes(data))
    elif how == "unsigned":
        f.resign(dst, [], sigs=[])
    elif how == "unknown-key":
        f.resign(dst, [kit.X])
    elif how == "oversized-manifest":
        (dst / "manifest").write_bytes(b"MPOT" + b"\0" * 3000)
    return dst


# name: (bundle params or tampering, expected reason)
_ATTACKS = {
    "lower-security-counter": (dict(security_counter=1, sequence=9), "rollback"),
    "older-sequence": (dict(security_counter=2, sequence=4), "replay"),
    "wrong-device-class": (dict(device_class="rp2040", sequence=9), "wrong-device-class"),
    "wrong-target": (dict(target="app", sequence=9), "wrong-target"),
    "expired": (dict(sequence=9, expires=NOW - 1), "expired"),
    "unsigned": ("unsigned", "below-threshold"),
    "unknown-key": ("unknown-key", "unknown-key"),
    "bad-signature": ("flip-signature", "bad-signature"),
    "oversized-manifest": ("oversized-manifest", "too-large"),
    "chunk-hash-mismatch": ("flip-chunk", "hash-mismatch"),
    "chunk-larger-than-declared": ("extend-chunk", "too-large"),
    "table-hash-mismatch": ("flip-table", "hash-mismatch"),
}


@pytest.fixture(scope="module")
def attacks(unix_target, tmp_path_factory, bundles):
    d = tmp_path_factory.mktemp("attacks")
    paths = {}
    for name, (how, _) in _ATTACKS.items():
        if isinstance(how, dict):
            kw = dict(version=9, security_counter=2)
            kw.update(how)
            paths[name] = str(kit.bundle(d, name, IMG_NEW, **kw))
        else:
            paths[name] = str(_tamper(bundles["new"], d / name, how))
    base = d / "dev"
    code = _start(d, bundles) + """
results = {{}}
for name, path in {paths!r}.items():
    results[name] = outcome(lambda: Install(dev, LocalSource(path)).run().outcome)
    st = dev.load()
    results[name + "/untouched"] = [st.active, st.trial, slot_sha(dev, 0, {n})]
emit("results", results)
emit("state", state(dev))
""".format(paths=paths, n=len(IMG1))
    del base
    return kit.run(unix_target, code)


@pytest.mark.parametrize("name", sorted(_ATTACKS))
def test_attack_is_refused_and_the_running_image_is_untouched(attacks, name):
    res = attacks["results"]
    assert res[name] == {"refused": _ATTACKS[name][1]}
    assert res[name + "/untouched"] == [0, 255, _sha(IMG1)]


def test_refusals_are_in_the_audit_log(attacks):
    st = attacks["state"]
    assert st["min_counter"] == 2 and st["last_sequence"] == 5
    reasons = {e[1] for e in st["events"] if e[0] in (2, 3)}
    assert len(reasons) >= 8


def test_connection_dropped_mid_chunk_resumes_at_the_byte_it_stopped(unix_target, tmp_path, bundles):
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
src = FlakySource({new!r}, fail_at=1500, times=5)
emit("install", report(Install(dev, src).run()))
emit("served", src.served)
emit("resumed", [o for o in src.chunk_opens() if o[1]])
emit("opens", len(src.chunk_opens()))
""".format(new=str(bundles["new"])))
    assert r["install"]["outcome"] == "installed" and r["install"]["fetched"] == 40
    # Every byte of every chunk crossed the link once.
    assert r["served"] == len(IMG_NEW)
    assert len(r["resumed"]) == 5
    assert all(0 < off < kit.CHUNK for _, off in r["resumed"])
    assert r["opens"] == 40 + 5


def test_manifest_download_dropped_midway_resumes_where_it_stopped(unix_target, tmp_path, bundles):
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
src = FlakySource({v2!r}, fail_at=100, times=1, fail_under="manifest")
emit("install", report(Install(dev, src).run()))
emit("opens", [o for o in src.opens if o[0] == "manifest"])
""".format(v2=str(bundles["v2"])))
    assert r["install"]["outcome"] == "installed"
    assert r["opens"] == [["manifest", 0], ["manifest", 100]]


@pytest.mark.parametrize("sector", [1024, 4096])
def test_install_cut_off_and_rerun_does_not_fetch_verified_chunks_again(
        unix_target, tmp_path, bundles, sector):
    r = kit.run(unix_target, _start(tmp_path, bundles, sector=sector, retries=1) + """
src = FlakySource({new!r}, fail_at=10 * 1024 + 300, times=100, then=0)
emit("first", outcome(lambda: Install(dev, src).run().outcome))
first = set(n for n, off in src.chunk_opens() if off == 0)
dev.close()
dev = device({base!r}, sector={sector})
emit("progress", state(dev)["p_units"])
src2 = FlakySource({new!r})
emit("second", report(Install(dev, src2).run()))
again = [n for n, off in src2.chunk_opens() if n in first]
emit("refetched", len(again))
""".format(new=str(bundles["new"]), base=str(tmp_path / "dev"), sector=sector))
    assert r["first"] == {"refused": "closed"}
    second = r["second"]
    assert second["outcome"] == "installed"
    if sector == 1024:
        # Chunk-sized sectors: only the chunk that was cut is fetched again.
        assert r["refetched"] == 1
        assert second["reused"] == 10 and second["fetched"] == 30
    else:
        # Four chunks share a sector: the interrupted sector is erased and
        # its chunks fetched again; chunks of finished sectors are not.
        assert r["refetched"] == 3
        assert second["reused"] == 8 and second["fetched"] == 32


def test_delta_update_fetches_only_the_changed_chunks(unix_target, tmp_path, bundles):
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
src = FlakySource({v2!r})
emit("install", report(Install(dev, src).run()))
emit("opened", len(src.chunk_opens()))
""".format(v2=str(bundles["v2"])))
    rep = r["install"]
    assert rep["fetched"] == 2 and rep["copied"] == 38 and rep["reused"] == 0
    assert rep["bytes"] == 2 * kit.CHUNK and r["opened"] == 2


@pytest.mark.parametrize("which", ["new", "newz", "v2z"])
def test_chunk_loop_allocates_nothing_with_the_heap_locked(unix_target, tmp_path, bundles, which):
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
import micropython
inst = Install(dev, LocalSource({b!r}))
inst.hold = (micropython.heap_lock, micropython.heap_unlock)
emit("install", report(inst.run()))
""".format(b=str(bundles[which])))
    rep = r["install"]
    assert rep["outcome"] == "installed"
    assert rep["fetched"] + rep["copied"] == 40


def test_heap_lock_in_the_chunk_loop_catches_an_allocation(unix_target, tmp_path, bundles):
    # The control for the test above: a reader that allocates one object
    # per read makes the locked loop fail.
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
import micropython
class Allocating(FlakySource):
    def open(self, name, offset=0):
        r = FlakySource.open(self, name, offset)
        inner = r.readinto

        def readinto(buf):
            junk = [0]
            return inner(buf)

        r.readinto = readinto
        return r
from mpota.errors import AgentError
inst = Install(dev, Allocating({b!r}))
inst.hold = (micropython.heap_lock, micropython.heap_unlock)
try:
    inst.run()
    emit("result", "no error")
except AgentError as e:
    emit("result", e.reason)
""".format(b=str(bundles["new"])))
    # The allocation under the lock is a MemoryError, which the install
    # answers as every MemoryError: refused, no-memory.
    assert r["result"] == "no-memory"


def test_deflated_chunk_with_a_bad_stored_hash_never_reaches_the_decompressor(
        unix_target, tmp_path, bundles):
    bad = _tamper(bundles["newz"], tmp_path / "bad", "flip-chunk")
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
emit("result", outcome(lambda: Install(dev, LocalSource({b!r})).run().outcome))
""".format(b=str(bad)))
    # A flipped bit in a deflate stream would often be "bad-deflate" if it
    # were inflated; the stored hash is checked first.
    assert r["result"] == {"refused": "hash-mismatch"}


def test_root_rotation_published_with_a_bundle_is_stored_and_revokes_the_old_key(
        unix_target, tmp_path, bundles):
    rotated = kit.bundle(tmp_path, "rot", IMG2, signers=(kit.B,), version=2,
                         security_counter=3, sequence=6)
    (rotated / "roots").mkdir()
    (rotated / "roots" / "2").write_bytes(
        f.root_doc([kit.R], 1, [kit.B], 1, version=2, signers=[kit.R]))
    old_key = kit.bundle(tmp_path, "old-key", IMG_NEW, version=4, security_counter=4,
                         sequence=8)
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
emit("rotated", outcome(lambda: Install(dev, LocalSource({rot!r})).run().outcome))
trial.boot(dev)
trial.confirm(dev)
dev.close()
dev = device({base!r})
emit("root", [dev.root().version, state(dev)["root_version"]])
emit("old_key", outcome(lambda: Install(dev, LocalSource({old!r})).run().outcome))
""".format(rot=str(rotated), old=str(old_key), base=str(tmp_path / "dev")))
    assert r["rotated"] == "installed"
    assert r["root"] == [2, 2]
    assert r["old_key"] == {"refused": "unknown-key"}


def test_power_cut_during_install_keeps_the_old_image_and_a_retry_completes(
        unix_target, tmp_path, bundles):
    # A bounded sample of the fault campaign (issue 5 runs every operation).
    r = kit.run(unix_target, _start(tmp_path, bundles) + """
from mpota.flash.nor import PowerCut
dev.close()
with open({base!r} + "/flash", "rb") as fh:
    pristine = fh.read()
dev = device({base!r})
start = dev.flash.ops
Install(dev, LocalSource({new!r})).run()
total = dev.flash.ops - start
dev.close()
bad = []
cases = 0
for k in range(12):
    n = total * k // 12 + 1
    with open({base!r} + "/flash", "wb") as fh:
        fh.write(pristine)
    dev = device({base!r})
    dev.flash.cut_power_before(dev.flash.ops + n, k % 2 == 1)
    try:
        Install(dev, LocalSource({new!r})).run()
    except PowerCut:
        pass
    dev.close()
    dev = device({base!r})
    b = trial.boot(dev)
    cases += 1
    if b.trial or b.slot != 0 or slot_sha(dev, 0, {n1}) != {sha1!r}:
        bad.append([n, "boot", b.slot, b.trial])
    st = dev.load()
    if st.min_counter != 2:
        bad.append([n, "counter", st.min_counter])
    rep = Install(dev, LocalSource({new!r})).run()
    if rep.outcome != "installed" or slot_sha(dev, 1, {n2}) != {sha2!r}:
        bad.append([n, "retry", rep.outcome])
    if rep.fetched + rep.copied + rep.reused != 40:
        bad.append([n, "count", rep.fetched, rep.copied, rep.reused])
    dev.close()
emit("total", total)
emit("cases", cases)
emit("bad", bad)
""".format(base=str(tmp_path / "dev"), new=str(bundles["new"]), n1=len(IMG1), n2=len(IMG_NEW),
           sha1=_sha(IMG1), sha2=_sha(IMG_NEW)), timeout=300)
    assert r["total"] > 40
    assert r["cases"] == 12
    assert r["bad"] == []


def test_a_slot_that_fails_its_read_back_twice_is_checked_whole_again_until_it_passes(
        unix_target, tmp_path, bundles):
    # A byte of the new slot decays after it was written and checked (a
    # marginal flash sector), before the read-back of the whole image, at
    # two installs in a row. The image is large enough that progress is
    # stored during the install (every 64 KB). The second refusal is logged
    # once only, but the progress it clears must still be stored: else the
    # third install trusts the units stored as done, the decayed one among
    # them, and fails the same read-back for ever.
    big = kit.bundle(tmp_path, "big", kit.image(160 * kit.CHUNK, seed=13), version=2,
                     security_counter=3, sequence=6)
    r = kit.run(unix_target, _start(tmp_path, bundles, slot_size=256 * 1024, table_size=16384) + """
class Decaying(Install):
    def _readback(self):
        one = bytearray(1)
        self.slot.read(100, one)
        if one[0]:  # clear a set bit: what a NOR cell can do by itself
            self.slot.program(100, bytes([one[0] & (one[0] - 1)]))
        Install._readback(self)
src = {b!r}
out = [outcome(lambda: Decaying(dev, LocalSource(src)).run().outcome) for _ in range(2)]
out.append(outcome(lambda: Install(dev, LocalSource(src)).run().outcome))
emit("outcomes", out)
""".format(b=str(big)))
    assert r["outcomes"] == [{"refused": "hash-mismatch"}, {"refused": "hash-mismatch"}, "installed"]
