# SPDX-License-Identifier: MIT
"""`mpota device ...`: bring up a board over its USB serial port
(docs/BRINGUP.md). Each handler calls mpota_host.Board (board_api.py: the
one implementation, also the Python API) and prints its answer, as text or
with --json as one JSON object. install is in install.py.
"""

import dataclasses

from .. import timefmt
from ..board_api import Board
from ..progress import Progress
from .calls import show
from .install import cmd_install


def _board(args):
    return Board(args.port, mount=args.mount, drive=getattr(args, "drive", None))


def cmd_provision(args):
    res = _board(args).provision(
        args.root, args.device_class, force=args.force, product=args.product, hw_rev=args.hw_rev,
        target=args.target, bank=args.bank, ram_flash=args.ram_flash, rp2_flash=args.rp2_flash,
        slot_size=args.slot_size, table_size=args.table_size, chunk_area=args.chunk_area,
        sector=args.sector, max_attempts=args.max_attempts, server=args.server, ca=args.ca,
        clock=not args.no_clock, device_id=args.device_id, fleet=args.fleet,
        identity=args.identity, decrypt_keys=args.decrypt_key or ())
    show(args, res.raw, "provisioned: device class {}, bank {}, trust root version {}{}; "
                        "next: mpota device push BUNDLE_DIR".format(
                            args.device_class, res.bank, res.root_version,
                            ", updates from {}".format(args.server) if args.server else ""))


def cmd_push(args):
    bar = Progress("pushing", True if args.progress else None)
    rep = _board(args).push(args.bundle, lambda done, total, how: bar(done, total))
    label = " ({})".format(rep.label) if rep.label else ""
    if rep.outcome == "up-to-date":
        text = "up-to-date: version {}{} is the image the board runs; nothing written".format(
            rep.version, label)
    elif rep.route == "drive":
        text = ("{} version {}{} into slot {} on the CIRCUITPY drive: {} chunks: {} from the bundle, "
                "{} copied locally, {} already in the slot (checked by the agent run here, in {} s)".format(
                    rep.outcome, rep.version, label, rep.slot, rep.chunks, rep.fetched,
                    rep.copied, rep.reused, rep.seconds))
    else:
        text = ("{} version {}{} into slot {}: {} chunks: {} sent over serial, {} copied locally, "
                "{} already in the slot ({} bytes in {} s)".format(
                    rep.outcome, rep.version, label, rep.slot, rep.chunks, rep.fetched,
                    rep.copied, rep.reused, rep.sent_bytes, rep.seconds))
    if rep.heap:
        text += "\nboard heap: peak {} of {} bytes in use during the update ({} before the agent was loaded)".format(
            rep.heap.peak, rep.heap.size, rep.heap.idle)
    if rep.outcome == "installed":
        text += "\nnext: mpota device reboot (starts the trial), then mpota device confirm"
    show(args, rep.raw, text)


def _built(which, image):
    if not (image.source_rev or image.sbom_sha256):
        return []
    return ["{} built from: source {}, sbom {}".format(
        which, image.source_rev or "-", image.sbom_sha256[:16] if image.sbom_sha256 else "-")]


def _status_text(st):
    a, t, d = st.active, st.trial, st.download
    lines = ["agent {}, device class {}, bank {}".format(st.agent, st.device_class, st.bank),
             "active: slot {} version {} ({} bytes, sha256 {})".format(
                 a.slot, a.version, a.size, a.sha256[:16]) if a.version or a.size
             else "active: no image yet (the first push installs one)"]
    lines += _built("active", a)
    lines.append("trial: slot {} version {}, attempt {} of {}".format(
        t.slot, t.version, t.attempts, st.max_attempts) if t else "trial: none")
    lines += _built("trial", t) if t else []
    lines.append("min security counter: {}".format(st.min_security_counter))
    lines.append("last sequence: {}".format(st.last_sequence))
    lines.append("root version: {}".format(st.root_version))
    if st.decrypt_keys:
        lines.append("decrypt keys: {}".format(" ".join(st.decrypt_keys)))
    lines.append("download: slot {}, {} units done, {} fetched, {} copied, image {}".format(
        d.slot, d.units, d.fetched, d.copied, d.image_sha256[:16]) if d else "download: none")
    return "\n".join(lines)


def cmd_status(args):
    st = _board(args).status()
    show(args, st.raw, _status_text(st))


def cmd_log(args):
    events = _board(args).log()
    text = "\n".join("{} {} {} {}{}".format(
        timefmt.show(e.time) if e.time else "-", e.event, e.what, e.value,
        " " + e.reason if e.reason else "") for e in events) or "(no events)"
    show(args, [dataclasses.asdict(e) for e in events], text)


def cmd_confirm(args):
    res = _board(args).confirm()
    show(args, res.raw, "confirmed version {}".format(res.version) if res.confirmed
          else "nothing to confirm: no trial is running (version {} is active)".format(res.version))


def cmd_reboot(args):
    res = _board(args).reboot()
    st, t = res.status, res.status.trial
    now = ("running version {} on trial (attempt {} of {}): check it, then mpota device confirm".format(
        t.version, t.attempts, st.max_attempts) if t else
        "running version {}".format(st.active.version))
    said = "\n".join(res.boot)
    show(args, res.raw, "\n".join(([said] if said else []) + [now]))


def arguments(p):
    """The `device` command group, under parser p."""
    sub = p.add_subparsers(dest="device_command", metavar="DEVICE_COMMAND", required=True)

    def common(c):
        c.add_argument("--port", metavar="P", help="serial port (default: the one USB serial board plugged in)")
        c.add_argument("--mount", metavar="DIR",
                       help="serve DIR as the board's filesystem (mpremote mount), for a board "
                            "without one such as the emulated board")
        c.add_argument("--json", action="store_true", help="print the result as JSON")

    def drive(c):
        c.add_argument("--drive", metavar="PATH",
                       help="CircuitPython: the board's CIRCUITPY drive as mounted here, written "
                            "instead of the board's filesystem while the board's code may not "
                            "write it (before the agent's boot.py has run); ignored once it may")

    c = sub.add_parser("install", help="copy the agent onto the board",
                       description="Check what the board is, then copy the agent: .mpy files where "
                                   "mpy-cross writes the .mpy version the board loads (else .py), the "
                                   "native ed25519.mpy for its architecture if its firmware lacks the "
                                   "C module, a boot.py that runs the agent's boot step and a main.py that "
                                   "runs the chosen app's main.py (each only where the board has none). "
                                   "On CircuitPython: .py sources and the shipped code.py and boot.py "
                                   "(firmware/circuitpython), through --drive while the computer has "
                                   "CIRCUITPY (docs/CIRCUITPYTHON.md).")
    common(c)
    drive(c)
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
    drive(c)
    c.add_argument("--root", required=True, metavar="ROOT", help="trust root document (mpota root init)")
    c.add_argument("--device-class", required=True, metavar="CLASS", help="the board's device class")
    c.add_argument("--product", default="mpota", help="product name (default: mpota)")
    c.add_argument("--hw-rev", metavar="REV", help="hardware revision")
    c.add_argument("--target", choices=("app", "firmware"),
                   help="what the slots hold (default: firmware with --bank esp32, else app)")
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
    c.add_argument("--device-id", metavar="ID",
                   help="the board's stable id: staged rollouts put it in a wave by it, and it "
                        "names the board to the fleet service (docs/ROLLOUT.md)")
    c.add_argument("--fleet", metavar="URL", help="the fleet service the board reports to (docs/FLEET.md)")
    c.add_argument("--identity", metavar="FILE",
                   help="the board's fleet secret (SECRETS_DIR/ID.key of mpota fleet enroll), "
                        "copied to the board, never shown")
    c.add_argument("--decrypt-key", action="append", metavar="KEY",
                   help="an X25519 key for encrypted bundles (mpota keygen --x25519: the board's own "
                        "or its class's), copied to the board, never shown; repeat for several")
    c.add_argument("--force", action="store_true", help="provision a board that already is (forgets its counters)")
    c.set_defaults(run=cmd_provision)

    c = sub.add_parser("push", help="install a bundle over the serial line",
                       description="Stream BUNDLE_DIR's manifest, table and chunks to the board, which "
                                   "checks every byte as over the air. Resumes after a cable pull: "
                                   "chunks already verified in the slot are not sent again. With --drive "
                                   "(a CircuitPython board whose code may not write CIRCUITPY yet) the "
                                   "agent's own code checks and installs it here, in the drive.")
    common(c)
    drive(c)
    c.add_argument("bundle", metavar="BUNDLE_DIR")
    c.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    c.set_defaults(run=cmd_push)

    for name, run, text in (("status", cmd_status, "slots, versions, counters, pending trial"),
                            ("log", cmd_log, "the board's audit log, oldest first"),
                            ("confirm", cmd_confirm, "confirm the running trial image"),
                            ("reboot", cmd_reboot, "reset the board and show what it booted")):
        c = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        common(c)
        if name == "confirm":
            drive(c)
        c.set_defaults(run=run)
