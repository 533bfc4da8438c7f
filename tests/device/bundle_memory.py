# SPDX-License-Identifier: MIT
# Measures the RAM the verifier keeps for update metadata while it checks
# a bundle, phase by phase, as directory.verify() does it:
#   manifest: document buffer, trust root, verified manifest
#   table:    the document buffer is dropped; a 512-byte data buffer, the
#             root, the manifest and the table check (with its entry)
# The test prepends ROOT and BUNDLE (paths). Prints, in bytes:
#   "manifest N" and "table N": live after gc.collect() at the end of each
#   phase; "transient N": bytes allocated (GC off) while the manifest's
#   signatures were checked; "chunks N": entries streamed.

import gc

from mpota.bundle import directory, trust
from mpota.bundle import format as F
from mpota.bundle.table import TableCheck


def _hex(b):
    return "".join("{:02x}".format(x) for x in b)


gc.collect()
_base = gc.mem_alloc()
buf = bytearray(F.MAX_DOC + 1)
root = trust.load_root(directory.read_doc(ROOT, buf, "missing-root"))
doc = directory.read_doc(BUNDLE + "/manifest", buf, "missing-manifest")
gc.collect()
gc.disable()
_start = gc.mem_alloc()
m = trust.verify_manifest(root, doc, device_class="esp32")
_transient = gc.mem_alloc() - _start
gc.enable()
doc = None
gc.collect()
print("manifest", gc.mem_alloc() - _base)

buf = None
data = bytearray(512)
check = TableCheck(m)
with open(BUNDLE + "/table/" + _hex(m.table_sha256), "rb") as t:
    while True:
        n = t.readinto(data)
        if not n:
            break
        check.update(memoryview(data)[:n])
    check.finish()
    e = check.entry
    t.seek((m.chunk_count() - 1) * F.ENTRY_SIZE)
    t.readinto(e.buf)
    e.load(m, m.chunk_count() - 1)
gc.collect()
print("table", gc.mem_alloc() - _base)
print("transient", _transient)
print("chunks", check.index)
