#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bring up a board from a script: keys and a trust root, the app signed,
the agent installed, the board provisioned, the app pushed, a reboot into
its trial, and the confirm (docs/HOST_API.md).

    python docs/examples/bringup.py PORT APP_DIR
    python docs/examples/bringup.py PORT APP_DIR --mount FS --ram-flash 0x20000000   # the emulated board
"""

import argparse
import os
import sys

import mpota_host
from mpota_host import signing


def main(argv=None):
    p = argparse.ArgumentParser(description="Bring up an mpota board.")
    p.add_argument("port", help="the board's serial port")
    p.add_argument("app", help="the app's directory (its main.py runs on the board)")
    p.add_argument("--device-class", default="bench-board")
    p.add_argument("--work", default="bringup-work", help="keys, root and bundles go here")
    p.add_argument("--mount", help="the board's filesystem on the host, for a board without one")
    p.add_argument("--ram-flash", type=lambda v: int(v, 0),
                   help="spare RAM as the flash (the emulated board: 0x20000000)")
    args = p.parse_args(argv)

    # Keys, made once and kept; the root they make is the same every run.
    os.makedirs(args.work, exist_ok=True)
    keys = {}
    for name in ("root", "update"):
        stem = os.path.join(args.work, name)
        if not os.path.exists(stem + ".key"):
            signing.make_key(name).save(stem)
        keys[name] = signing.load_key(stem + ".key")
    root = signing.make_root([keys["root"]], [keys["update"]])
    bundle = signing.sign_bundle(args.app, os.path.join(args.work, "v1"), [keys["update"]],
                                 device_class=args.device_class, version=1, force=True)

    board = mpota_host.Board(args.port, mount=args.mount)
    flash = {} if args.ram_flash is None else {"bank": "flash", "ram_flash": args.ram_flash,
                                               "slot_size": 65536}
    try:
        ident = board.identity()
        print("board: {} (MicroPython {})".format(ident.machine or ident.platform, ident.version))
        print("agent {} installed".format(board.install().agent))
        board.provision(root, args.device_class, force=True, **flash)
        rep = board.push(bundle, progress=lambda done, total, how: print(
            "  chunk {} of {}: {}".format(done, total, how)))
        print("pushed version {} into slot {}".format(rep.version, rep.slot))
        boot = board.reboot()
        print("\n".join(boot.boot))  # what the board printed as it started
        trial = boot.status.trial
        if trial is None or trial.version != bundle.version:
            print("version {} did not start on trial".format(bundle.version), file=sys.stderr)
            return 1
        board.confirm()
        print("confirmed: the board runs version {}".format(board.status().active.version))
    except mpota_host.BoardError as e:
        print("bring-up failed ({}): {}".format(e.reason, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
