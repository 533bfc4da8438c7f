# SPDX-License-Identifier: MIT
"""Network faults from `mpota serve --fault`, over TLS, under the MicroPython
unix build: each ends in a clean SourceError, and where the data can still
be had, resuming with open(name, offset) completes it. A stalled or
trickled answer would, left alone, end in a whole file or in the server
letting go ('closed'): 'timeout' is the client's own limit at work, with
no bound on elapsed time asserted."""

import hashlib
import os

import pytest

from net import device
from net.serveproc import Serve

SIZE = 50_000


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    (root / "b").mkdir()
    data = os.urandom(SIZE)
    (root / "b" / "f").write_bytes(data)
    return root, data


def _run(unix_target, srv, calls, **options):
    opts = "".join(", {}={!r}".format(k, v) for k, v in options.items())
    code = "src = HttpSource({!r}, ca=ca({!r}){})\n".format(srv.url + "b/", srv.ca_der, opts)
    return device.run(unix_target, code + calls)


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_connection_dropped_mid_body_is_closed_and_resume_completes(unix_target, tree):
    root, data = tree
    with Serve(root, "--fault", "drop:20000", "--fault-times", "1") as srv:
        calls = "report('dropped', read_all, src, 'f', 0, 1000)\n"
        calls += "report('resumed', read_all, src, 'f', 20000, 1000)\n"
        dropped, resumed = _run(unix_target, srv, calls)
    assert dropped["error"] == "closed"
    assert resumed["ok"][:2] == [SIZE - 20000, _sha(data[20000:])]


def test_every_answer_dropped_still_completes_by_resuming(unix_target, tree):
    root, data = tree
    with Serve(root, "--fault", "drop:7000") as srv:
        (r,) = _run(unix_target, srv, "report('resume', resume_all, src, 'f', 1000)\n")
    got, sha, opens, reasons = r["ok"]
    assert (got, sha) == (SIZE, _sha(data))
    # Every answer breaks after 7000 bytes; the reader's 1000-byte reads
    # keep all 7 whole ones, so each open moves 7000 bytes further.
    assert opens == -(-SIZE // 7000)
    assert reasons == ["closed"] * (opens - 1)


def test_stalled_body_times_out_and_resume_completes(unix_target, tree):
    root, data = tree
    with Serve(root, "--fault", "stall:10000", "--fault-times", "1") as srv:
        calls = "report('stalled', read_all, src, 'f', 0, 1000)\n"
        calls += "report('resumed', read_all, src, 'f', 10000, 1000)\n"
        stalled, resumed = _run(unix_target, srv, calls, read_timeout=0.5)
    assert stalled["error"] == "timeout"
    assert resumed["ok"][:2] == [SIZE - 10000, _sha(data[10000:])]


def test_trickling_body_is_cut_off_by_the_rate_floor(unix_target, tree):
    # 100 bytes a second: every read gets data within the read timeout, so
    # only the rate floor (here 1000 bytes a second) ends it; left alone the
    # 50 KB would arrive whole, after more than 8 minutes.
    root, _ = tree
    with Serve(root, "--fault", "slow:100") as srv:
        (r,) = _run(unix_target, srv, "report('slow', read_all, src, 'f', 0, 100)\n",
                    read_timeout=1.5, min_rate=1000)
    assert r["error"] == "timeout"


def test_range_answered_with_the_whole_file_still_resumes_correctly(unix_target, tree):
    root, data = tree
    with Serve(root, "--fault", "ignore-range") as srv:
        (r,) = _run(unix_target, srv, "report('tail', read_all, src, 'f', 12345, 4096)\n")
    assert r["ok"][:2] == [SIZE - 12345, _sha(data[12345:])]


def test_declared_length_longer_than_the_body_is_closed(unix_target, tree):
    root, _ = tree
    with Serve(root, "--fault", "long:10") as srv:
        (r,) = _run(unix_target, srv, "report('long', read_all, src, 'f')\n")
    assert r["error"] == "closed"


def test_body_longer_than_declared_is_too_large(unix_target, tree):
    root, _ = tree
    with Serve(root, "--fault", "short:10") as srv:
        (r,) = _run(unix_target, srv, "report('short', read_all, src, 'f')\n")
    assert r["error"] == "too-large"


def test_endless_body_ends_when_the_reader_closes(unix_target, tree):
    # A source passes on what the server declares (up to 2**30 - 1 bytes);
    # the agent's byte budget stops reading. Closing must then be prompt
    # and leave the source usable.
    root, _ = tree
    with Serve(root, "--fault", "endless", "--fault-times", "1") as srv:
        calls = r'''
def some(src, name, count):
    buf = bytearray(4096)
    r = src.open(name)
    got = 0
    while got < count:
        got += r.readinto(buf)
    r.close()
    return got
'''
        calls += "report('endless', some, src, 'f', 200000)\n"
        calls += "report('after', read_all, src, 'f')\n"
        endless, after = _run(unix_target, srv, calls)
    assert endless["ok"] >= 200000
    assert after["ok"][0] == SIZE


def test_corrupted_byte_arrives_as_sent_for_the_agent_to_refuse(unix_target, tree):
    # The source passes bytes on as the server sent them (it never vouches
    # for them): the one flipped byte is there, at its offset, for the
    # agent's hash check to find. --fault-on leaves other paths alone.
    root, data = tree
    (root / "b" / "g").write_bytes(data)
    with Serve(root, "--fault", "corrupt:777", "--fault-on", "b/f") as srv:
        calls = "report('f', read_all, src, 'f')\nreport('g', read_all, src, 'g')\n"
        f, g = _run(unix_target, srv, calls)
    bad = bytearray(data)
    bad[777] ^= 0xFF
    assert f["ok"][:2] == [SIZE, _sha(bytes(bad))]
    assert g["ok"][:2] == [SIZE, _sha(data)]
