# SPDX-License-Identifier: MIT
# Run on MicroPython's unix port: many simulated devices in one process
# (the agent's own code, one device directory each), so a test can drive
# a fleet without a process per device. Reads a JSON job from argv[1]:
#   {"provision": {"root": FILE, "bundle": DIR}, "devices": [DIR, ...]}
#   {"poll": T, "devices": [...]}   set each clock to T, poll, print results
#   {"confirm": true, "devices": [...]}  boot the trial and confirm it
import json
import sys

from mpota import device as D
from mpota import trial
from mpota.provision import provision
from mpota.rollout.poll import Poller
from mpota.source.local import LocalSource

with open(sys.argv[1]) as f:
    job = json.load(f)
shared = None  # one HTTPS connection for the fleet: a TLS handshake per
# device would only measure handshakes, which the transport tests cover
for base in job["devices"]:
    dev = D.use(D.load(base + "/mpota.json"))
    if "provision" in job:
        with open(job["provision"]["root"], "rb") as f:
            root = f.read()
        provision(dev, root, LocalSource(job["provision"]["bundle"]))
        print("RESULT", base, "provisioned")
    elif "poll" in job:
        dev.cfg["now"] = job["poll"]
        shared = shared or dev.source()
        res = Poller(dev, shared).poll()
        print("RESULT", base, res.action, res.reason or "-", res.plan or "-")
    else:
        trial.boot(dev)
        print("RESULT", base, "confirmed" if trial.confirm(dev) else "nothing")
    dev.close()
