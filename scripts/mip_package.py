# SPDX-License-Identifier: MIT
"""Writes the agent as a mip package, for boards running stock MicroPython.

    python scripts/mip_package.py [--base URL] OUT          (make mip)

OUT gets:
  package.json              the agent: one .mpy per module of firmware/mpota,
                            as mip.install() reads it ("version", "urls" of
                            [device path, url])
  mpota/...                 those .mpy files, compiled by build/mpy-cross
  ed25519-<arch>.json       the native ed25519 module for one architecture
  ed25519/<arch>/ed25519.mpy    (from make natmod; every arch built)

Without --base the urls are relative to the package file, which mpremote
and mip 0.4 and later resolve; mip 0.3 (MicroPython 1.25's, frozen into
build/unix-stock) needs absolute ones: pass the address the folder will be
served from as --base. The module list is read from the source tree each
time, so a new module is never left out of the package.
"""

import argparse
import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGENT = ROOT / "firmware" / "mpota"
MPY_CROSS = ROOT / "build" / "mpy-cross" / "mpy-cross"
NATMOD = ROOT / "build" / "natmod"


class PackageError(Exception):
    pass


def agent_version(agent=AGENT):
    """__version__ from the agent's __init__.py, without importing it."""
    tree = ast.parse((agent / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise PackageError("{}/__init__.py sets no __version__".format(agent))


def agent_modules(agent=AGENT):
    """Every .py of the package, as paths relative to its parent folder."""
    return sorted(p.relative_to(agent.parent) for p in agent.rglob("*.py"))


def _url(base, path):
    return base + path if base else path


def _write_json(path, doc):
    path.write_text(json.dumps(doc, indent=2) + "\n")


def write_agent(out, base, mpy_cross=MPY_CROSS, agent=AGENT):
    version = agent_version(agent)
    urls = []
    for src in agent_modules(agent):
        dest = src.with_suffix(".mpy").as_posix()
        target = out / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        # -s keeps the module's path in tracebacks on the device.
        run = subprocess.run(
            [str(mpy_cross), "-s", src.as_posix(), "-o", str(target), str(agent.parent / src)],
            capture_output=True, text=True,
        )
        if run.returncode != 0:
            raise PackageError("mpy-cross {}: {}".format(src, run.stderr.strip()))
        urls.append([dest, _url(base, dest)])
    _write_json(out / "package.json", {"version": version, "license": "MIT", "urls": urls})
    return urls


def write_natmods(out, base, natmod=NATMOD, agent=AGENT):
    version = agent_version(agent)
    archs = sorted(p.parent.name for p in natmod.glob("*/ed25519.mpy"))
    for arch in archs:
        dest = "ed25519/{}/ed25519.mpy".format(arch)
        (out / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(natmod / arch / "ed25519.mpy", out / dest)
        _write_json(out / "ed25519-{}.json".format(arch),
                    {"version": version, "license": "MIT",
                     "urls": [["ed25519.mpy", _url(base, dest)]]})
    return archs


def build(out, base=None, mpy_cross=MPY_CROSS, natmod=NATMOD, agent=AGENT):
    if not Path(mpy_cross).is_file():
        raise PackageError("{} is missing: run make setup".format(mpy_cross))
    if base and not base.endswith("/"):
        base += "/"
    out = Path(out)
    # Start empty: a module removed from the source must leave the package.
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    urls = write_agent(out, base, mpy_cross, agent)
    archs = write_natmods(out, base, natmod, agent)
    return urls, archs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--base", help="address OUT will be served from (absolute urls)")
    ap.add_argument("--mpy-cross", type=Path, default=MPY_CROSS)
    ap.add_argument("--natmod", type=Path, default=NATMOD, help="folder of <arch>/ed25519.mpy")
    args = ap.parse_args(argv)
    try:
        urls, archs = build(args.out, args.base, args.mpy_cross, args.natmod)
    except PackageError as exc:
        print("mip: {}".format(exc), file=sys.stderr)
        return 1
    shown = args.out.resolve()
    try:
        shown = shown.relative_to(ROOT)
    except ValueError:
        pass
    print("mip: {} modules, ed25519 for {} -> {}/".format(
        len(urls), ", ".join(archs) or "no architecture", shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
