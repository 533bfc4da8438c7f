# SPDX-License-Identifier: MIT
"""Device-side code for the transport tests: HttpSource driven the way the
agent drives it, run under build/unix/micropython (or CPython, for parity).

A test writes a few calls of `report(label, fn, ...)`; each prints one
RESULT line of JSON: {"ok": value} or {"error": reason} (SourceError) or
{"misuse": text} (ValueError), with the elapsed milliseconds."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"

PRELUDE = r'''
import binascii, hashlib, json, time
from mpota.source import SourceError
from mpota.source.http import HttpSource
from mpota.source.netconn import ticks_diff, ticks_ms

def ca(path):
    with open(path, 'rb') as f:
        return f.read()

def _hex(h):
    return binascii.hexlify(h.digest()).decode()

def read_all(src, name, offset=0, size=1024):
    """[bytes delivered, their sha256, short reads before the end]."""
    buf = bytearray(size)
    h = hashlib.sha256()
    got = 0
    short = 0
    r = src.open(name, offset)
    try:
        while True:
            n = r.readinto(buf)
            if n == 0:
                break
            if n < size:
                short += 1
            h.update(buf if n == size else memoryview(buf)[:n])
            got += n
    finally:
        r.close()
    return [got, _hex(h), short]

def resume_all(src, name, size=1024, limit=200):
    """What an agent does: resume at the bytes it has until the file is
    complete. [bytes, sha256, opens, reasons of the failures]."""
    buf = bytearray(size)
    h = hashlib.sha256()
    got = 0
    reasons = []
    for opens in range(1, limit + 1):
        try:
            r = src.open(name, got)
            try:
                while True:
                    n = r.readinto(buf)
                    if n == 0:
                        return [got, _hex(h), opens, reasons]
                    h.update(buf if n == size else memoryview(buf)[:n])
                    got += n
            finally:
                r.close()
        except SourceError as e:
            reasons.append(e.reason)
    raise RuntimeError('no end after {} opens'.format(limit))

def counting_pauses(src):
    """src, with the retry pauses it takes (HttpSource._pause) written down
    in src.pauses: what a test counts instead of timing them."""
    src.pauses = []
    pause = src._pause
    def counted(attempt):
        src.pauses.append(attempt)
        pause(attempt)
    src._pause = counted
    return src

def report(label, fn, *args, **kw):
    t = ticks_ms()
    try:
        out = {'ok': fn(*args, **kw)}
    except SourceError as e:
        out = {'error': e.reason}
    except ValueError as e:
        out = {'misuse': str(e)}
    out['ms'] = ticks_diff(ticks_ms(), t)
    out['label'] = label
    print('RESULT ' + json.dumps(out))
'''


def results(output):
    return [json.loads(line[7:]) for line in output.splitlines() if line.startswith("RESULT ")]


def run(target, code, timeout=60, heapsize=None):
    """Run PRELUDE + code on a MicroPython target; the RESULT dicts."""
    out = target.run(PRELUDE + code, path=[FIRMWARE], timeout=timeout, heapsize=heapsize)
    return results(out)


def run_cpython(code, timeout=60):
    """The same on CPython, with firmware/ on the path."""
    env = dict(os.environ, PYTHONPATH=str(FIRMWARE))
    proc = subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=ROOT)
    if proc.returncode:
        raise AssertionError("CPython run failed:\n" + proc.stderr)
    return results(proc.stdout)


def one(results_list):
    assert len(results_list) == 1, results_list
    return results_list[0]
