# SPDX-License-Identifier: MIT
"""The state record survives power loss: two copies, the newer valid one
wins, so a cut at any flash operation of any save leaves the old state or
the new one, never neither and never a mix."""

from agent import kit
from mpota.state import fields, record

_SWEEP = """
from mpota.flash.nor import PowerCut
from mpota.state import log as L
from mpota.state.fields import State

BASE = {base!r}
SAVES = 4

def fresh():
    return device(BASE, sector={sector}, page={page}, write={write})

def snapshot():
    with open(BASE + "/flash", "rb") as f:
        return f.read()

def restore(data):
    with open(BASE + "/flash", "wb") as f:
        f.write(data)

dev = fresh()
st = State()
st.min_counter = 100
dev.save(st)
dev.close()
before = snapshot()

# One clean run counts the flash operations of SAVES saves.
dev = fresh()
start = dev.flash.ops
for k in range(1, SAVES + 1):
    st = dev.load()
    st.min_counter = 100 + k
    st.add(L.CONFIRM, 0, k, 0)
    dev.save(st)
total = dev.flash.ops - start
dev.close()

cases = 0
bad = []
for tear in (False, True):
    for n in range(total):
        restore(before)
        dev = fresh()
        dev.flash.cut_power_before(dev.flash.ops + n, tear)
        done = 0
        try:
            for k in range(1, SAVES + 1):
                st = dev.load()
                st.min_counter = 100 + k
                st.add(L.CONFIRM, 0, k, 0)
                dev.save(st)
                done = k
        except PowerCut:
            pass
        dev.close()
        dev = fresh()
        got = dev.states.load()
        cases += 1
        if got is None:
            bad.append([n, tear, "lost"])
        elif got.min_counter not in (100 + done, 100 + done + 1):
            bad.append([n, tear, got.min_counter, done])
        elif [e[2] for e in got.events()] != list(range(1, got.min_counter - 99)):
            bad.append([n, tear, "log", got.min_counter])
        dev.close()
emit("ops", total)
emit("cases", cases)
emit("bad", bad)
"""


def _sweep(unix_target, tmp_path, sector, page, write):
    code = _SWEEP.format(base=str(tmp_path), sector=sector, page=page, write=write)
    return kit.run(unix_target, code, timeout=300)


def test_power_cut_at_every_state_write_keeps_old_or_new_state(unix_target, tmp_path):
    r = _sweep(unix_target, tmp_path, 4096, 256, 1)
    # Each save is one erase and three page programs (a 628-byte record).
    assert record.HEADER + fields.SIZE + 4 == 628
    assert r["ops"] == 4 * 4
    assert r["cases"] == 2 * r["ops"]
    assert r["bad"] == []


def test_power_cut_at_every_state_write_on_large_sectors_and_wide_writes(unix_target, tmp_path):
    r = _sweep(unix_target, tmp_path, 65536, 256, 16)
    assert r["ops"] == 4 * 4
    assert r["bad"] == []


def test_corrupted_newest_copy_falls_back_to_the_older_one(unix_target, tmp_path):
    r = kit.run(unix_target, """
from mpota.state.fields import State
dev = device({base!r})
st = State()
for k in (1, 2):
    st.min_counter = k
    dev.save(st)
newest = dev.states.store.newest
area = dev.states.store.areas[newest].region
dev.close()
# Flip one bit of the newest copy's payload, as a failing cell would.
with open({base!r} + "/flash", "r+b") as f:
    f.seek(area.base + 20)
    b = f.read(1)
    f.seek(area.base + 20)
    f.write(bytes([b[0] ^ 1]))
dev = device({base!r})
emit("counter", dev.load().min_counter)
st = dev.load()
st.min_counter = 3
dev.save(st)
emit("rewrote", dev.states.store.newest == newest)
dev.close()
emit("after", device({base!r}).load().min_counter)
""".format(base=str(tmp_path)))
    assert r["counter"] == 1
    # The next save goes over the damaged copy, keeping the good one.
    assert r["rewrote"] is True
    assert r["after"] == 3


def test_state_in_files_survives_a_torn_file_write(unix_target, tmp_path):
    r = kit.run(unix_target, """
from mpota.state import StateStore
from mpota.state.record import FileArea
from mpota.state.fields import State
areas = (FileArea({base!r} + "/state.0"), FileArea({base!r} + "/state.1"))
store = StateStore(areas)
emit("empty", store.load() is None)
st = State()
for k in (1, 2):
    st.min_counter = k
    store.save(st)
# A write cut short: the file holding the newer copy is half written.
name = {base!r} + "/state.{{}}".format(store.store.newest)
with open(name, "rb") as f:
    data = f.read()
with open(name, "wb") as f:
    f.write(data[:len(data) // 2])
emit("counter", StateStore(areas).load().min_counter)
""".format(base=str(tmp_path)))
    assert r["empty"] is True
    assert r["counter"] == 1


def test_audit_log_ring_keeps_only_the_newest_entries(unix_target, tmp_path):
    r = kit.run(unix_target, """
from mpota.state import log as L
from mpota.state.fields import State
dev = device({base!r})
st = State()
for k in range(40):
    st.add(L.TRIAL, 0, k, 1000 + k)
dev.save(st)
dev.close()
got = device({base!r}).load()
emit("values", [e[2] for e in got.events()])
emit("size", L.ENTRIES)
""".format(base=str(tmp_path)))
    assert r["values"] == list(range(40 - r["size"], 40))
