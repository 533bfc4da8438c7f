# SPDX-License-Identifier: MIT
"""`make campaign`: every family at full size, one table.

  build/venv/bin/python tests/campaign/run.py [--sample] [--only NAME ...] [-j N]

Prints the table (family, cases tried, passed, failed, seconds), the
figures, and the failures in full; exits 1 if any case failed. --sample
runs the bounded sizes of `make test`.
"""

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from campaign import attacks, fuzz, network, powercut, result, rolloutfuzz  # noqa: E402

FAMILIES = {"powercut": powercut, "network": network, "attacks": attacks, "fuzz": fuzz,
            "rollout-fuzz": rolloutfuzz}


def _machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return "{}, {} cores, {} {}".format(cpu, cores, platform.system(), platform.machine())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sample", action="store_true", help="the bounded sizes of make test")
    p.add_argument("--only", action="append", choices=sorted(FAMILIES),
                   help="run only this family (repeatable)")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="device processes at once (default: the number of cores)")
    args = p.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print("campaign: {} size, {}, started {}".format(
        "sample" if args.sample else "full", _machine(), started), flush=True)
    done = []
    for name in args.only or list(FAMILIES):
        print("campaign: {} ...".format(name), flush=True)
        fam = FAMILIES[name].run(full=not args.sample, jobs=args.jobs)
        print("campaign: {}: {} tried, {} failed, {:.0f} s".format(
            name, fam.tried, fam.failed, fam.seconds), flush=True)
        done.append(fam)
    print()
    print(result.table(done))
    return 1 if any(f.failed for f in done) else 0


if __name__ == "__main__":
    sys.exit(main())
