# SPDX-License-Identifier: MIT
"""`mpota device ...`: bring up a board over its USB serial port
(docs/BRINGUP.md). Each handler opens the port, calls into mpota.bringup on
the board and prints its answer, as text or with --json as one JSON object.
The board decides everything about an update; the host only carries files.
install is in install.py.
"""

import json
import os
import time

from mpota.bundle import trust
from mpota.bundle.error import BundleError

from .. import files, timefmt
from ..errors import CommandError
from ..progress import Progress
from . import board, wire
from .calls import FORGET_AGENT, bringup, connect, show
from .install import cmd_install

CA_FILE = "mpota-ca.der"
# The longest a board may stay silent during a push: erasing a slot's
# sector and hashing a chunk take well under this on a real board.
_PUSH_SILENCE = 120.0


# provision

def _der(path):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    data = files.read(path)
    try:
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError:
        raise CommandError("{} is not a certificate (PEM or DER)".format(path)) from None
    return cert.public_bytes(serialization.Encoding.DER)


def _config(args):
    cfg = {"device_class": args.device_class, "product": args.product, "target": args.target,
           "bank": args.bank, "slot_size": args.slot_size, "table_size": args.table_size,
           "chunk_area": args.chunk_area, "max_attempts": args.max_attempts, "dir": "slots"}
    if args.hw_rev:
        cfg["hw_rev"] = args.hw_rev
    if args.ram_flash is not None and args.rp2_flash is not None:
        raise CommandError("--ram-flash and --rp2-flash are two different flashes: give one")
    if args.bank == "flash":
        cfg["flash"] = {"sector": args.sector, "page": 256, "write": 1}
        if args.ram_flash is not None:
            cfg["flash"]["ram"] = args.ram_flash
        elif args.rp2_flash is not None:
            cfg["flash"]["rp2"] = args.rp2_flash
        else:
            cfg["flash"]["file"] = "flash"
    elif args.ram_flash is not None:
        raise CommandError("--ram-flash needs --bank flash")
    elif args.rp2_flash is not None:
        raise CommandError("--rp2-flash needs --bank flash")
    if args.server:
        cfg["source"] = args.server
    if args.ca:
        if not args.server:
            raise CommandError("--ca needs --server")
        cfg["ca"] = CA_FILE
    if args.no_clock:
        cfg["clock"] = False
    return cfg


_REFUSED_CONFIG = {"config": "the board refused this configuration (config): its flash, bank or "
                             "sizes do not fit the board; nothing was written"}


def cmd_provision(args):
    doc = files.read(args.root, 4096)
    try:
        root = trust.load_root(doc)
    except BundleError as e:
        raise CommandError("{} is not a root document: {}".format(args.root, e.reason)) from None
    cfg = _config(args)
    ca = _der(args.ca).hex() if args.ca else None
    with connect(args) as link:
        if "ram" not in cfg.get("flash", {}) and board.probe(link).platform == "qemu":
            # Its machine.reset() ends the emulator, and only a RAM bank
            # gets the soft reset instead (the rule of bringup.reset_kind,
            # docs/BRINGUP.md).
            raise CommandError("the emulated board ends at a reset: provision it with "
                               "--bank flash --ram-flash 0x20000000")
        res = bringup(link, "provision, {!r}, {!r}, {!r}, {!r}".format(
            json.dumps(cfg), doc.hex(), ca, bool(args.force)), not_done=_REFUSED_CONFIG)
    res.update({"config": cfg})
    show(args, res, "provisioned: device class {}, bank {}, trust root version {}{}; "
                     "next: mpota device push BUNDLE_DIR".format(
                         args.device_class, cfg["bank"], root.version,
                         ", updates from {}".format(args.server) if args.server else ""))


# push

# The board's heap for the push report: in use before the agent is
# imported, the whole heap, and a sampler push() calls after every chunk
# (after a collection: what stays live, not garbage not yet collected).
_HEAP = """gc.collect()
_idle = gc.mem_alloc()
_size = _idle + gc.mem_free()
def _heap():
    gc.collect()
    return gc.mem_alloc()
"""


def cmd_push(args):
    bundle = args.bundle
    if not os.path.isdir(bundle):
        raise CommandError("{} does not exist or is not a directory".format(bundle))
    if not os.path.isfile(os.path.join(bundle, "manifest")):
        raise CommandError("{} is not a bundle directory (it has no manifest)".format(bundle))
    bar = Progress("pushing", True if args.progress else None)
    server = wire.FileServer(bundle, lambda name: wire.BUNDLE_NAME.match(name) is not None)
    started = time.monotonic()
    with connect(args) as link:
        try:
            res = bringup(link, "push, _heap", server, lambda done, total, how: bar(done, total),
                           _PUSH_SILENCE, prelude=FORGET_AGENT + _HEAP)
        finally:
            server.close()
        idle, size = (int(n) for n in link.exec("print(_idle, _size)")[-1].split())
    res["seconds"] = round(time.monotonic() - started, 2)
    res["sent"] = {"bytes": server.sent, "files": server.opened}
    heap = res["heap"] = {"size": size, "idle": idle, "peak": res.pop("heap_peak")}
    label = " ({})".format(res["label"]) if res["label"] else ""
    if res["outcome"] == "up-to-date":
        text = "up-to-date: version {}{} is the image the board runs; nothing written".format(
            res["version"], label)
    else:
        text = ("{} version {}{} into slot {}: {} chunks: {} sent over serial, {} copied locally, "
                "{} already in the slot ({} bytes in {} s)".format(
                    res["outcome"], res["version"], label, res["slot"], res["chunks"],
                    res["fetched"], res["copied"], res["reused"], server.sent, res["seconds"]))
    text += "\nboard heap: peak {} of {} bytes in use during the update ({} before the agent was loaded)".format(
        heap["peak"], heap["size"], heap["idle"])
    if res["outcome"] == "installed":
        text += "\nnext: mpota device reboot (starts the trial), then mpota device confirm"
    show(args, res, text)


# status / log / confirm / reboot

def _status_text(st):
    a, t, d = st["active"], st["trial"], st["download"]
    lines = ["agent {}, device class {}, bank {}".format(st["agent"], st["device_class"], st["bank"]),
             "active: slot {} version {} ({} bytes, sha256 {})".format(
                 a["slot"], a["version"], a["size"], a["sha256"][:16]) if a["version"] or a["size"]
             else "active: no image yet (the first push installs one)"]
    lines.append("trial: slot {} version {}, attempt {} of {}".format(
        t["slot"], t["version"], t["attempts"], st["max_attempts"]) if t else "trial: none")
    lines.append("min security counter: {}".format(st["min_security_counter"]))
    lines.append("last sequence: {}".format(st["last_sequence"]))
    lines.append("root version: {}".format(st["root_version"]))
    lines.append("download: slot {}, {} units done, {} fetched, {} copied, image {}".format(
        d["slot"], d["units"], d["fetched"], d["copied"], d["image_sha256"][:16]) if d else "download: none")
    return "\n".join(lines)


def cmd_status(args):
    with connect(args) as link:
        st = bringup(link, "status")
    show(args, st, _status_text(st))


def cmd_log(args):
    with connect(args) as link:
        events = bringup(link, "log")
    text = "\n".join("{} {} {} {}{}".format(
        timefmt.show(e["time"]) if e["time"] else "-", e["event"], e["what"], e["value"],
        " " + e["reason"] if e["reason"] else "") for e in events) or "(no events)"
    if args.json:
        print(json.dumps(events, indent=2))
    else:
        print(text)


def cmd_confirm(args):
    with connect(args) as link:
        res = bringup(link, "confirm")
    show(args, res, "confirmed version {}".format(res["version"]) if res["confirmed"]
          else "nothing to confirm: no trial is running (version {} is active)".format(res["version"]))


# The reset itself: soft where the board's config asks for it or the port
# has no hard reset (the unix port); the answer line first, so the host
# knows how to wait.
_RESET = """import machine, time
_hard = {} and hasattr(machine, 'reset')
print('~~D {{"reset": "%s"}}' % ('hard' if _hard else 'soft'))
if _hard:
    time.sleep_ms(100)
    machine.reset()
machine.soft_reset()
"""


def cmd_reboot(args):
    with connect(args) as link:
        kind = bringup(link, "reset_kind")["reset"]
        ans = wire.converse(link, _RESET.format(kind == "hard"))
        res = ans.result or {}
        if res.get("reset") == "soft":
            said = link.after_soft_reset()
            if args.mount:
                # A board without a filesystem does not run boot.py; its
                # filesystem is the mount, so the host runs it, as a board
                # runs its own at start.
                out = link.run("import os\ntry:\n os.stat('boot.py')\nexcept OSError:\n pass\n"
                               "else:\n exec(open('boot.py').read())\n")
                said = "\n".join(out.lines + ([out.error.strip()] if out.error else []))
        elif res.get("reset") == "hard":
            said = link.after_hard_reset()
        else:
            raise CommandError("the board did not reset: {}".format(
                (ans.error or "no answer").strip().splitlines()[-1]))
        st = bringup(link, "status")
    t = st["trial"]
    now = ("running version {} on trial (attempt {} of {}): check it, then mpota device confirm".format(
        t["version"], t["attempts"], st["max_attempts"]) if t else
        "running version {}".format(st["active"]["version"]))
    show(args, {"reset": res["reset"], "boot": said.splitlines(), "status": st},
          "\n".join(([said] if said else []) + [now]))


def arguments(p):
    """The `device` command group, under parser p."""
    sub = p.add_subparsers(dest="device_command", metavar="DEVICE_COMMAND", required=True)

    def common(c):
        c.add_argument("--port", metavar="P", help="serial port (default: the one USB serial board plugged in)")
        c.add_argument("--mount", metavar="DIR",
                       help="serve DIR as the board's filesystem (mpremote mount), for a board "
                            "without one such as the emulated board")
        c.add_argument("--json", action="store_true", help="print the result as JSON")

    c = sub.add_parser("install", help="copy the agent onto the board",
                       description="Check what the board is, then copy the agent: .mpy files where "
                                   "mpy-cross writes the .mpy version the board loads (else .py), the "
                                   "native ed25519.mpy for its architecture if its firmware lacks the "
                                   "C module, a boot.py that runs the agent's boot step and a main.py that "
                                   "runs the chosen app's main.py (each only where the board has none).")
    common(c)
    c.add_argument("--mpy-cross", metavar="PATH", help="mpy-cross to compile with (default: build/mpy-cross, then PATH)")
    c.add_argument("--natmod", metavar="PATH", help="ed25519.mpy, or a folder of <arch>/ed25519.mpy (default: build/natmod)")
    c.add_argument("--sources", action="store_true", help="copy .py sources, not .mpy")
    c.add_argument("--pure-python", action="store_true",
                   help="without the C module or a native one, use the (slow) pure-Python Ed25519")
    c.set_defaults(run=cmd_install)

    c = sub.add_parser("provision", help="give the board its trust root and configuration",
                       description="Write mpota.json and the trust root; the board's state starts with "
                                   "no image, and the first push installs one as a trial.")
    common(c)
    c.add_argument("--root", required=True, metavar="ROOT", help="trust root document (mpota root init)")
    c.add_argument("--device-class", required=True, metavar="CLASS", help="the board's device class")
    c.add_argument("--product", default="mpota", help="product name (default: mpota)")
    c.add_argument("--hw-rev", metavar="REV", help="hardware revision")
    c.add_argument("--target", choices=("app", "firmware"), default="app", help="what the slots hold (default: app)")
    c.add_argument("--bank", choices=("dir", "flash", "esp32"), default="dir",
                   help="slots: directories on the filesystem, a flash, or ESP32 OTA partitions (default: dir)")
    c.add_argument("--ram-flash", type=lambda v: int(v, 0), metavar="ADDR",
                   help="with --bank flash: spare RAM at ADDR as the flash (the emulated board: 0x20000000)")
    c.add_argument("--rp2-flash", type=lambda v: int(v, 0), metavar="START",
                   help="with --bank flash: an RP2040's raw flash from START bytes into its storage "
                        "area (a multiple of 4096, past the filesystem: docs/BOARDS.md)")
    c.add_argument("--slot-size", type=int, default=262144, metavar="BYTES", help="bytes per slot (default: 262144)")
    c.add_argument("--table-size", type=int, default=16384, metavar="BYTES", help="chunk table scratch (default: 16384)")
    c.add_argument("--chunk-area", type=int, default=8192, metavar="BYTES", help="deflated chunk scratch (default: 8192)")
    c.add_argument("--sector", type=int, default=4096, metavar="BYTES", help="flash sector size (default: 4096)")
    c.add_argument("--max-attempts", type=int, default=3, metavar="N", help="trial boots before a revert (default: 3)")
    c.add_argument("--server", metavar="URL", help="where the board takes updates over the air (https://...)")
    c.add_argument("--ca", metavar="CA", help="the server's CA certificate to pin (PEM or DER)")
    c.add_argument("--no-clock", action="store_true", help="the board has no trusted clock: do not check expiry")
    c.add_argument("--force", action="store_true", help="provision a board that already is (forgets its counters)")
    c.set_defaults(run=cmd_provision)

    c = sub.add_parser("push", help="install a bundle over the serial line",
                       description="Stream BUNDLE_DIR's manifest, table and chunks to the board, which "
                                   "checks every byte as over the air. Resumes after a cable pull: "
                                   "chunks already verified in the slot are not sent again.")
    common(c)
    c.add_argument("bundle", metavar="BUNDLE_DIR")
    c.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    c.set_defaults(run=cmd_push)

    for name, run, text in (("status", cmd_status, "slots, versions, counters, pending trial"),
                            ("log", cmd_log, "the board's audit log, oldest first"),
                            ("confirm", cmd_confirm, "confirm the running trial image"),
                            ("reboot", cmd_reboot, "reset the board and show what it booted")):
        c = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        common(c)
        c.set_defaults(run=run)
