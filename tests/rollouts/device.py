# SPDX-License-Identifier: MIT
"""A device that follows a rollout repository, run in-process on CPython
(the agent's code as it ships; the dir bank and a local source), for the
attack tests. The same code runs on MicroPython in test_rollout_unix.py."""

import json
from pathlib import Path

from agent import kit
from mpota import device as D
from mpota.provision import provision
from mpota.rollout.poll import Poller
from mpota.source.local import LocalSource

from rollouts import docs


def app_bundle(tmp, name, version, device_class="esp32", healthy=True):
    return kit.app_bundle(tmp, name, version, healthy=healthy, signers=(docs.A,),
                          device_class=device_class)


def make(tmp, name, repo, first_bundle, root_doc=None, device_id=None, **cfg):
    """A provisioned device in tmp/name whose source is the repository."""
    base = Path(tmp) / name
    base.mkdir(parents=True)
    config = {"device_class": "esp32", "target": "app", "bank": "dir", "dir": "slots",
              "slot_size": 1 << 20, "source": str(repo.path), "backoff_ms": 0,
              "device_id": device_id or name}
    config.update(cfg)
    (base / "mpota.json").write_text(json.dumps(config))
    dev = D.load(str(base / "mpota.json"))
    provision(dev, root_doc or docs.root(), LocalSource(str(first_bundle)))
    return dev


def reload(dev):
    """The same device after a reset (configuration read again)."""
    return D.load(dev.base + "/mpota.json")


def poll(dev, install=True):
    return Poller(dev).poll(install=install)


def boot_and_confirm(dev):
    from mpota import trial

    res = trial.boot(dev)
    trial.confirm(dev)
    return res
