# SPDX-License-Identifier: MIT
# The attack family, device side: run under build/unix/micropython with
# firmware/, tests/agent/mp and this directory on MICROPYPATH.
#
# attacks(spec) makes each device of spec["devices"] once (provisioned
# with its first bundle, then each later bundle installed, booted and
# confirmed) and keeps its files. Each case restores its device, offers
# it the attacker's bundle (a directory, or a URL over HTTPS with the CA
# pinned) and emits what install() did and the device's state before and
# after: the host judges.

import binascii
import hashlib

from agentkit import emit, provision
from mpota import trial
from mpota.bundle.error import BundleError
from mpota.device import Device
from mpota.errors import AgentError
from mpota.source import SourceError
from mpota.source.local import LocalSource
from mpota.update.install import Install
from tree import copy_tree


def _facts(dev):
    st = dev.load()
    h = hashlib.sha256()
    buf = bytearray(512)
    r = dev.bank.regions[st.active]
    for a in range(0, st.active_size, 512):
        v = memoryview(buf)[:min(512, st.active_size - a)]
        r.read(a, v)
        h.update(v)
    last = None
    for e in st.events():
        if e[0] in (2, 3):  # chunk or verify failure
            last = e[1]
    return {"active": st.active, "trial": st.trial, "version": st.active_version,
            "min_counter": st.min_counter, "last_sequence": st.last_sequence,
            "root_version": st.root_version, "root": dev.root().version,
            "running_sha": binascii.hexlify(h.digest()).decode(),
            "active_sha": binascii.hexlify(st.active_sha).decode(), "last_failure": last}


def _make(base, d):
    import os

    try:
        os.mkdir(base)
    except OSError:
        pass
    dev = Device(d["config"], base)
    provision(dev, d["root"], d["first"])
    for b in d["then"]:
        Install(dev, LocalSource(b)).run()
        trial.boot(dev)
        trial.confirm(dev)
    dev.close()


def _source(case):
    if "bundle" in case:
        return LocalSource(case["bundle"])
    from mpota.source.http import HttpSource

    with open(case["ca"], "rb") as f:
        ca = f.read()
    return HttpSource(case["url"], ca=ca, allow_http=case.get("allow_http", False),
                      connect_timeout=2, read_timeout=2, retries=0)


def attacks(spec):
    base = spec["base"]
    for kind in spec["devices"]:
        _make(base + "/" + kind + ".pristine", spec["devices"][kind])
    out = []
    for case in spec["cases"]:
        d = spec["devices"][case["device"]]
        where = base + "/" + case["device"]
        copy_tree(where + ".pristine", where)
        dev = Device(d["config"], where)
        before = _facts(dev)
        try:
            rep = Install(dev, _source(case)).run()
            got = {"outcome": rep.outcome, "version": rep.version}
        except (BundleError, AgentError, SourceError) as e:
            got = {"refused": e.reason, "kind": type(e).__name__}
        dev.close()
        dev = Device(d["config"], where)
        after = _facts(dev)
        dev.close()
        out.append({"name": case["name"], "got": got, "before": before, "after": after})
    emit("cases", out)
