# SPDX-License-Identifier: MIT
"""A simulated device on the unix port, driven from the shell: see _USAGE
(printed when run without a command; MicroPython drops docstrings)."""

import json
import sys

from . import device as D
from . import trial
from .bundle.error import BundleError
from .errors import AgentError
from .source import SourceError
from .state import log as L
from .state.fields import NONE

_CONFIG = "mpota.json"

_USAGE = """usage: MICROPYPATH=firmware build/unix/micropython -m mpota.sim DIR COMMAND ...

DIR holds the device: mpota.json (its configuration, see mpota.device),
its flash chip (a file, the NOR model) or slot directories, and run/ (the
app unpacked at the last reboot). Commands:

  provision --root FILE --bundle DIR --device-class CLASS [options]
                  create the device, trust the root, install the bundle's
                  image as the confirmed one. Options: --source S, --ca F,
                  --allow-http, --product P, --hw-rev R, --bank flash|dir,
                  --slot-size N, --table-size N, --chunk-area N,
                  --sector N, --page N, --write N, --max-attempts N,
                  --backoff-ms N, --now T, --device-id ID (staged
                  rollouts), --fleet URL and --identity FILE (reports to
                  mpota fleet; FILE: the secret mpota fleet enroll wrote,
                  copied into DIR/identity), --decrypt-key FILE (an
                  X25519 key for encrypted bundles, 32 raw bytes: copied
                  into DIR/decrypt.key); --force to provision a
                  device again (a factory reset: counters and log start
                  over)
  set KEY VALUE   change one configuration entry (source, ca, now, ...)
  check           what the source offers, verified; changes nothing
  install [--source S]   download and install it for a trial boot
  poll [--check]  one poll of a staged-rollout repository (the source):
                  install what its control document and plans allow this
                  device now (--check: decide, install nothing)
  report          send the fleet service the events it has not acknowledged
  reboot          boot(): count a trial or revert, then run the slot's app
  confirm         confirm the running trial image
  status          slots, counters and download progress
  log             the audit log, oldest first

Exit status 0, or 1 with "sim: <what>" on stderr (or this text on stdout
when the command is missing or unknown)."""

_PROVISION = ("root", "bundle", "device_class", "source", "ca", "allow_http", "product",
              "hw_rev", "bank", "slot_size", "table_size", "chunk_area", "sector", "page",
              "write", "max_attempts", "backoff_ms", "now", "force", "device_id", "fleet",
              "identity", "decrypt_key")
_NUMBERS = ("slot_size", "table_size", "chunk_area", "max_attempts", "buffer", "inflate_bits",
            "retries", "backoff_ms", "now", "poll_min", "poll_max")
_FLAGS = ("allow_http", "clock")
# What `set` may change: the entries mpota.device reads.
_SETTABLE = ("product", "device_class", "hw_rev", "target", "bank", "slot_size",
             "table_size", "chunk_area", "source", "ca", "allow_http", "max_attempts",
             "buffer", "inflate_bits", "retries", "backoff_ms", "clock", "now", "device_id",
             "poll_min", "poll_max", "fleet", "fleet_ca")


class _Usage(Exception):
    pass


class _Fail(Exception):
    """Something the command could not do, said in one line."""


def _options(args, allowed, flags=()):
    opts = {}
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("--"):
            raise _Usage("unexpected {}".format(a))
        key = a[2:].replace("-", "_")
        if key not in allowed:
            raise _Usage("unknown option {}".format(a))
        if key in flags:
            opts[key] = True
            i += 1
        elif i + 1 < len(args):
            opts[key] = args[i + 1]
            i += 2
        else:
            raise _Usage("{} needs a value".format(a))
    return opts


def _int(opts, key, default):
    if key not in opts:
        return default
    try:
        return int(opts[key])
    except ValueError:
        raise _Usage("--{} needs a number".format(key.replace("_", "-")))


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise _Fail("cannot read {}".format(path))


def _abs(path):
    # Paths given on the command line are relative to where it runs; the
    # configuration's are relative to DIR, so store them absolute.
    import os

    if path.startswith("/") or "://" in path:
        return path
    return os.getcwd() + "/" + path


def _write_config(base, cfg):
    with open(base + "/" + _CONFIG, "w") as f:
        f.write(json.dumps(cfg))


def _device(base):
    return D.use(D.load(base + "/" + _CONFIG))


def _hex(b):
    return "".join("{:02x}".format(x) for x in b)


def _bar(done, total, how):
    width = 30
    full = width * done // total if total else width
    sys.stdout.write("\r  [{}{}] {}/{} chunks ({})   ".format(
        "#" * full, "." * (width - full), done, total, how))
    if done == total:
        sys.stdout.write("\n")


def _summary(rep):
    print("{} version {}{}: {} chunks: {} fetched ({} bytes), {} copied locally, "
          "{} already in the slot".format(
              rep.outcome, rep.version, " ({})".format(rep.label) if rep.label else "",
              rep.chunks, rep.fetched, rep.bytes, rep.copied, rep.reused))


def provision(base, args):
    import os

    from .provision import provision as run

    o = _options(args, _PROVISION, ("allow_http", "force"))
    for need in ("root", "bundle", "device_class"):
        if need not in o:
            raise _Usage("provision needs --{}".format(need.replace("_", "-")))
    root = _read(o["root"])
    cfg = {"device_class": o["device_class"], "product": o.get("product", "mpota"),
           "target": "app", "bank": o.get("bank", "flash"),
           "slot_size": _int(o, "slot_size", 262144),
           "table_size": _int(o, "table_size", 16384),
           "chunk_area": _int(o, "chunk_area", 8192),
           "flash": {"file": "flash", "sector": _int(o, "sector", 4096),
                     "page": _int(o, "page", 256), "write": _int(o, "write", 1)},
           "dir": "slots", "max_attempts": _int(o, "max_attempts", 3),
           "source": _abs(o.get("source", o["bundle"])), "allow_http": "allow_http" in o,
           "backoff_ms": _int(o, "backoff_ms", 200)}
    for key in ("hw_rev", "device_id", "fleet"):
        if key in o:
            cfg[key] = o[key]
    if "decrypt_key" in o:
        cfg["decrypt_keys"] = ["decrypt.key"]
    if "ca" in o:
        cfg["ca"] = _abs(o["ca"])
    if "now" in o:
        cfg["now"] = _int(o, "now", 0)
    try:
        os.mkdir(base)
    except OSError:
        pass
    try:
        os.stat(base + "/" + _CONFIG)
        if "force" not in o:
            raise _Usage("{} is already provisioned: --force starts it over "
                         "(its counters and audit log are lost)".format(base))
    except OSError:
        pass
    _write_config(base, cfg)
    try:
        if "identity" in o:
            # The secret goes to its own file, never into mpota.json.
            with open(base + "/identity", "wb") as f:
                f.write(_read(o["identity"]))
        if "decrypt_key" in o:
            # Likewise the X25519 key of encrypted bundles (32 raw bytes).
            key = _read(o["decrypt_key"])
            if len(key) != 32:
                raise _Fail("--decrypt-key {}: not 32 raw bytes (mpota keygen --x25519 --raw)".format(
                    o["decrypt_key"]))
            with open(base + "/decrypt.key", "wb") as f:
                f.write(key)
        dev = _device(base)
        rep = run(dev, root, dev.source(_abs(o["bundle"])), _bar)
    except BaseException:
        # Nothing half-made: without its configuration, flash and slots,
        # DIR is not provisioned and the command can simply be run again.
        _unprovision(base)
        raise
    print("provisioned with version {}".format(rep.version))


def _unprovision(base):
    import os

    from . import apptar

    for name in (_CONFIG, "flash", "identity", "decrypt.key"):
        try:
            os.remove(base + "/" + name)
        except OSError:
            pass
    for name in ("slots", "run"):
        apptar.remove(base + "/" + name)


def set_config(base, args):
    if len(args) != 2:
        raise _Usage("set KEY VALUE")
    key, value = args
    if key not in _SETTABLE:
        raise _Usage("set: unknown key {} (one of {})".format(key, ", ".join(_SETTABLE)))
    if key in _NUMBERS and not value.isdigit():
        raise _Usage("set: {} needs a number".format(key))
    if key in _FLAGS and value not in ("true", "false"):
        raise _Usage("set: {} is true or false".format(key))
    cfg = D.read_config(base + "/" + _CONFIG)
    if key in _FLAGS:
        value = value == "true"
    elif key in _NUMBERS:
        value = int(value)
    cfg[key] = value  # everything else is text (a hw_rev of digits too)
    _write_config(base, cfg)


def _device_and_source(base, args):
    where = _options(args, ("source",)).get("source")
    dev = _device(base)
    return dev, dev.source(_abs(where) if where else None)


def check(base, args):
    from .update.offer import check as run

    dev, src = _device_and_source(base, args)
    m, verdict = run(dev, src)
    print("offered: version {} label {} security counter {} sequence {} ({} bytes): {}".format(
        m.version, m.label or "-", m.security_counter, m.sequence, m.image_size, verdict))


def _report(dev, event, src=None):
    # Best effort: a server that keeps status reports (mpota serve) hears
    # about each step; a local bundle directory does not.
    from . import report

    where = dev.cfg.get("source", "")
    if src is None and "://" not in where:
        return
    try:
        src = src or dev.source()
    except (AgentError, SourceError):
        return
    report.send(dev, src, event)


def install(base, args):
    from .update.install import Install

    dev, src = _device_and_source(base, args)
    try:
        rep = Install(dev, src, _bar).run()
    except (BundleError, AgentError) as e:
        _report(dev, "refused: " + e.reason, src)
        raise
    _summary(rep)
    _report(dev, rep.outcome, src)


def poll(base, args):
    from .rollout.poll import Poller

    o = _options(args, ("check",), ("check",))
    dev = _device(base)
    res = Poller(dev).poll(install="check" not in o, progress=_bar)
    if res.report is not None:
        _summary(res.report)
    if res.action == "refused":
        _report(dev, "refused: " + res.reason)
        raise _Fail("poll refused: {} (next poll in {} s)".format(res.reason, res.next_poll))
    print("poll: {}{} (next poll in {} s)".format(
        res.action, " plan " + res.plan if res.plan else "", res.next_poll))
    if res.report is not None:
        _report(dev, res.report.outcome)
    _fleet(dev)


def _fleet(dev, reset=""):
    # Best effort, after the work is done: a report never holds it up.
    from . import fleetreport

    return fleetreport.send(dev, reset)


def report(base, args):
    _options(args, ())
    dev = _device(base)
    if not dev.cfg.get("fleet"):
        raise _Fail("no fleet service configured: set fleet URL (and provision --identity)")
    ack = _fleet(dev, "")
    if ack is None:
        raise _Fail("the fleet service did not take the report")
    print("report: the fleet service holds events up to {}".format(ack))


def reboot(base, args):
    dev = _device(base)
    res = trial.boot(dev)
    if res.reverted:
        print("boot: trial given up, back to version {}".format(res.version))
    if res.trial:
        print("boot: trial of version {}, attempt {} of {}".format(
            res.version, dev.load().attempts, dev.max_attempts))
    else:
        print("boot: version {}".format(res.version))
    if dev.cfg.get("target", "app") != "app":
        return
    if dev.cfg.get("bank") == "dir":
        app = dev.bank.app(res.slot)
    else:
        from . import apptar

        app = base + "/run"
        apptar.remove(app)
        apptar.extract(dev.bank.regions[res.slot], res.size, app)
        sys.path.insert(0, app)
    if not trial.run_main(app):
        raise _Fail("the app of version {} has no main.py to run".format(res.version))
    _report(dev, "reverted" if res.reverted else ("trial-boot" if res.trial else "boot"))
    _fleet(dev, "reverted" if res.reverted else "reboot")


def confirm(base, args):
    dev = _device(base)
    done = trial.confirm(dev)
    print("confirmed" if done else "nothing to confirm")
    if done:
        _report(dev, "confirmed")


def status(base, args):
    dev = _device(base)
    st = dev.load()
    print("active: slot {} version {} size {} sha256 {}".format(
        st.active, st.active_version, st.active_size, _hex(st.active_sha)))
    _provenance("active", st.active_rev, st.active_sbom)
    if st.trial == NONE:
        print("trial: none")
    else:
        print("trial: slot {} version {} attempts {}/{}".format(
            st.trial, st.trial_version, st.attempts, dev.max_attempts))
        _provenance("trial", st.trial_rev, st.trial_sbom)
    print("min security counter: {}".format(st.min_counter))
    print("last sequence: {}".format(st.last_sequence))
    print("root version: {}".format(st.root_version))
    if dev.cfg.get("decrypt_keys"):
        from .update.sealed import device_ids

        # The public ids only: the private keys never leave their files.
        print("decrypt keys: {}".format(" ".join(device_ids(dev))))
    if dev.cfg.get("device_id"):
        print("rollouts: device {} control version {} revocations version {} "
              "halted plans {} time floor {}".format(
                  dev.cfg["device_id"], st.control_version, st.revoked_version,
                  st.halted_used, _when(st.time_floor)))
    if st.p_slot == NONE:
        print("download: none")
    else:
        print("download: slot {} units {} table {} fetched {} copied {} image {}".format(
            st.p_slot, st.p_units, st.p_table, st.p_fetched, st.p_copied, _hex(st.p_sha)))


def _provenance(which, rev, sbom):
    # Only what the image's manifest signed: nothing for an image without.
    from .state.fields import rev_text

    if any(rev) or any(sbom):
        print("{} built from: source {} sbom {}".format(
            which, rev_text(rev) or "-", _hex(sbom) if any(sbom) else "-"))


def _when(t):
    import time

    if not t:
        return "-"
    y, mo, d, h, mi, s = time.gmtime(t)[:6]
    return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(y, mo, d, h, mi, s)


def show_log(base, args):
    st = _device(base).load()
    for event, reason, value, t in st.events():
        print("{} {} {} {}{}".format(_when(t), L.event_name(event), L.value_name(event), value,
                                     " " + L.reason_name(reason) if reason else ""))


def _hint(base, reason):
    # The one refusal whose fix is in the configuration, not the network.
    if reason != "tls":
        return ""
    try:
        cfg = D.read_config(base + "/" + _CONFIG)
    except AgentError:
        return ""
    if cfg.get("source", "").startswith("http://") and not cfg.get("allow_http"):
        return " (plain http:// needs allow_http: provision --allow-http, or set allow_http true)"
    return ""


_COMMANDS = {"provision": provision, "set": set_config, "check": check, "install": install,
             "poll": poll, "report": report, "reboot": reboot, "confirm": confirm, "status": status, "log": show_log}


def main(argv):
    if len(argv) < 2 or argv[1] not in _COMMANDS:
        print(_USAGE)
        return 1
    base = argv[0].rstrip("/") or "/"
    try:
        _COMMANDS[argv[1]](base, argv[2:])
    except _Usage as e:
        sys.stderr.write("sim: usage: {}\n".format(e.args[0]))
        return 1
    except _Fail as e:
        sys.stderr.write("sim: {}\n".format(e.args[0]))
        return 1
    except BundleError as e:
        sys.stderr.write("sim: refused: {}\n".format(e.reason))
        return 1
    except AgentError as e:
        sys.stderr.write("sim: not done: {}\n".format(e.reason))
        return 1
    except SourceError as e:
        sys.stderr.write("sim: transfer failed: {}{}\n".format(e.reason, _hint(base, e.reason)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
