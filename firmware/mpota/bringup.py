# SPDX-License-Identifier: MIT
"""The board side of `mpota device` (docs/BRINGUP.md): the host calls these
over the REPL and reads their answer from one line on stdout,

  ~~D <json>               done, with the result
  ~~E <kind> <reason>      refused (the verifier), not-done (the agent),
                           transfer (the source) or lost (the line)

while a push also prints ~~P progress lines and asks for bundle files
(source/serial.py). Nothing here decides trust: a push goes through the
agent's own install path, the same as an update over the air.

boot.py calls boot(), which runs mpota.boot() and says what it chose.
"""

import binascii
import json
import sys

_CONFIG = "mpota.json"


def _hex(b):
    return binascii.hexlify(bytes(b)).decode()


def _hex_or_none(b):
    # All zeros: no such field was signed.
    return _hex(b) if any(b) else None


def _say(line):
    sys.stdout.write(line + "\n")


def _device():
    from . import device as D

    return D.use(D.load(_CONFIG))


def call(fn, *args):
    """Run fn and print its answer line; the agent's refusals become ~~E."""
    from .bundle.error import BundleError
    from .errors import AgentError
    from .source import SourceError
    from .source.serial import LineLost

    try:
        _say("~~D " + json.dumps(fn(*args)))
    except BundleError as e:
        _say("~~E refused " + e.reason)
    except AgentError as e:
        _say("~~E not-done " + e.reason)
    except SourceError as e:
        _say("~~E transfer " + e.reason)
    except LineLost:
        _say("~~E lost line")


def _provisioned():
    from .errors import AgentError
    from .flash import FlashError

    try:
        return _device().states.load() is not None
    except (OSError, ValueError, KeyError, AgentError, FlashError):
        # No configuration yet, or one that does not describe a device.
        return False


def _checked(config):
    """The device the configuration (JSON text) describes, or
    AgentError('config'): built before anything is written, so a refused
    configuration leaves the board as it was."""
    from . import device as D
    from .errors import AgentError
    from .flash import FlashError

    try:
        cfg = json.loads(config)
        if not isinstance(cfg, dict):
            raise AgentError("config")
        dev = D.Device(cfg)
        dev.facts()
    except (ValueError, KeyError, TypeError, FlashError):
        # Not JSON, a key missing, a value of the wrong type or geometry.
        raise AgentError("config")
    return cfg, dev


def provision(config, root_hex, ca_hex=None, force=False):
    """Write the configuration (JSON text) and the trust root; start the
    state with no image (the first push installs one, as a trial)."""
    from . import device as D
    from .bundle import trust
    from .errors import AgentError
    from .state import log as L
    from .state.fields import State

    doc = binascii.unhexlify(root_hex)
    root = trust.load_root(doc)
    if not force and _provisioned():
        raise AgentError("provisioned")
    cfg, dev = _checked(config)
    if ca_hex:
        if not cfg.get("ca"):
            raise AgentError("config")
        with open(cfg["ca"], "wb") as f:
            f.write(binascii.unhexlify(ca_hex))
    with open(_CONFIG, "w") as f:
        f.write(config)
    D.use(dev)
    erase_all = getattr(dev.flash, "erase_all", None)
    if erase_all is not None:
        erase_all()
    # Load first, so that the new records outnumber any left from an
    # earlier provisioning.
    dev.roots.load()
    dev.roots.save(doc)
    dev.states.load()
    st = State()
    # Where the agent picks the slot nothing runs yet, and the first image
    # goes to slot 0; where a bootloader does (ESP32), the image it started
    # is the active one and the first push goes to the other.
    run = dev.bank.running()
    st.active = 1 if run is None else run
    st.root_version = root.version
    dev.log(st, L.PROVISION)
    dev.save(st)
    return {"root_version": root.version, "bank": cfg.get("bank", "flash")}


def push(heap=None, source=None):
    """Install what the host offers over the serial line (or source: the
    host runs this in a CircuitPython drive with a LocalSource). heap: a
    function the host gives for its report, () -> bytes in use after a
    collection; it is called before the install and after every chunk."""
    from .source.serial import binary, stdio
    from .update.install import Install

    dev = _device()
    peak = [0]

    def sample():
        if heap is not None:
            peak[0] = max(peak[0], heap())

    def tell(done, total, how):
        sample()
        _say("~~P {} {} {}".format(done, total, how))

    sample()
    try:
        if source is None:
            source = stdio()
        rep = Install(dev, source, tell).run()
    finally:
        binary(False)
    sample()
    return {"outcome": rep.outcome, "version": rep.version, "label": rep.label,
            "slot": rep.slot, "chunks": rep.chunks, "fetched": rep.fetched,
            "copied": rep.copied, "reused": rep.reused, "bytes": rep.bytes,
            "heap_peak": peak[0] if heap is not None else None}


def status():
    from . import __version__
    from .state.fields import NONE, rev_text

    dev = _device()
    st = dev.load()
    out = {"agent": __version__, "device_class": dev.cfg.get("device_class"),
           "bank": dev.cfg.get("bank", "flash"), "max_attempts": dev.max_attempts,
           "active": {"slot": st.active, "version": st.active_version,
                      "size": st.active_size, "sha256": _hex(st.active_sha),
                      "source_rev": rev_text(st.active_rev) or None,
                      "sbom_sha256": _hex_or_none(st.active_sbom)},
           "trial": None, "min_security_counter": st.min_counter,
           "last_sequence": st.last_sequence, "root_version": st.root_version,
           "download": None, "decrypt_keys": []}
    if dev.cfg.get("decrypt_keys"):
        from .update.sealed import device_ids

        # Recipient ids only: the private keys never leave their files.
        out["decrypt_keys"] = device_ids(dev)
    if st.trial != NONE:
        out["trial"] = {"slot": st.trial, "version": st.trial_version,
                        "size": st.trial_size, "sha256": _hex(st.trial_sha),
                        "attempts": st.attempts, "security_counter": st.trial_counter,
                        "sequence": st.trial_sequence,
                        "source_rev": rev_text(st.trial_rev) or None,
                        "sbom_sha256": _hex_or_none(st.trial_sbom)}
    if st.p_slot != NONE:
        out["download"] = {"slot": st.p_slot, "image_sha256": _hex(st.p_sha),
                           "units": st.p_units, "table": st.p_table,
                           "fetched": st.p_fetched, "copied": st.p_copied}
    return out


def log():
    from .state import log as L

    st = _device().load()
    return [{"time": t, "event": L.event_name(e), "what": L.value_name(e), "value": v,
             "reason": L.reason_name(r) if r else None} for e, r, v, t in st.events()]


def confirm():
    from . import trial

    dev = _device()
    done = trial.confirm(dev)
    return {"confirmed": done, "version": dev.load().active_version}


def reset_kind():
    """How the host should reset the board: "soft" where a hard reset would
    lose the flash (a chip in RAM, flash/ram.py), else "hard"."""
    return {"reset": "soft" if "ram" in _device().cfg.get("flash", {}) else "hard"}


def boot():
    """For boot.py: mpota.boot(), and one line saying what it chose."""
    from . import boot as agent_boot
    from .errors import AgentError

    try:
        res = agent_boot()
    except AgentError as e:
        _say("mpota: boot: {}".format(e.reason))
        return None
    what = "trial of " if res.trial else ("back to " if res.reverted else "")
    _say("mpota: boot: {}version {}".format(what, res.version))
    return res


def run_app():
    """For main.py: run the main.py of the app boot() chose (the app
    directory it put on sys.path), as the board runs its own main.py."""
    import sys

    from . import device as D
    from . import trial
    from .errors import AgentError

    try:
        bank = D.current().bank
    except AgentError as e:
        _say("mpota: no app to run: {}".format(e.reason))
        return
    app = getattr(bank, "app", None)
    if app is None:
        _say("mpota: no app to run: the bank holds no app directories")
        return
    chosen = [app(i) for i in (0, 1) if app(i) in sys.path]
    if not chosen:
        _say("mpota: no app to run: boot() has not chosen one")
    elif not trial.run_main(chosen[0]):
        _say("mpota: the app has no main.py")
