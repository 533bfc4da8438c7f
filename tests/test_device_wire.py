# SPDX-License-Identifier: MIT
"""The serial wire protocol (mpota/source/serial.py): the board's reader
takes exactly the frames the host writes (mpota_host/device/wire.py) and
gives the line up (LineLost) on anything else, before the agent sees a
byte of it; the host serves only bundle files."""

import binascii
import json

import pytest

from bundles import factory as f
from mpota_host.device import wire
from mpota_host.device.link import FLUSH

DATA = b"0123456789abcdef"
OPENED = wire.frame(1, wire.OK)


def _corrupt(frame, at):
    b = bytearray(frame)
    b[at] ^= 0x01
    return bytes(b)


CASES = {
    "whole": OPENED + wire.frame(2, wire.OK, DATA),
    "end-of-file-short": OPENED + wire.frame(2, wire.OK, DATA[:5]),
    "payload-bit-flipped": OPENED + _corrupt(wire.frame(2, wire.OK, DATA), 8 + 3),
    "answer-to-another-request": OPENED + wire.frame(3, wire.OK, DATA),
    "more-than-asked": OPENED + wire.frame(2, wire.OK, DATA + b"!"),
    "line-flushed-by-a-new-host": OPENED + FLUSH[:100],
    "line-ends-mid-frame": OPENED + wire.frame(2, wire.OK, DATA)[:-3],
    "not-found": wire.frame(1, wire.NOT_FOUND),
    "host-cannot-read": OPENED + wire.frame(2, wire.HOST_ERROR),
}

BOARD = """
import binascii, io, json
from mpota.source import SourceError
from mpota.source.serial import LineLost, SerialSource
res = {}
for name, data in CASES.items():
    out = io.StringIO()
    src = SerialSource(io.BytesIO(binascii.unhexlify(data)), out)
    buf = bytearray(16)
    try:
        n = src.open('chunks/ab', 0).readinto(buf)
        res[name] = ['data', binascii.hexlify(buf[:n]).decode(), out.getvalue()]
    except LineLost:
        res[name] = ['lost']
    except SourceError as e:
        res[name] = ['source-error', e.reason]
print(json.dumps(res))
"""


@pytest.fixture(scope="module")
def verdicts(unix_target):
    cases = {k: binascii.hexlify(v).decode() for k, v in CASES.items()}
    out = unix_target.run("CASES = {!r}\n".format(cases) + BOARD, path=[f.FIRMWARE])
    return json.loads(out.strip().splitlines()[-1])


def test_a_frame_as_the_host_writes_it_is_taken_whole(verdicts):
    assert verdicts["whole"] == ["data", DATA.hex(), "~~O 1 chunks/ab 0\n~~R 2 16\n"]
    assert verdicts["end-of-file-short"][:2] == ["data", DATA[:5].hex()]


@pytest.mark.parametrize("case", ["payload-bit-flipped", "answer-to-another-request", "more-than-asked",
                                  "line-flushed-by-a-new-host", "line-ends-mid-frame"])
def test_anything_but_the_expected_frame_gives_the_line_up(verdicts, case):
    assert verdicts[case] == ["lost"]


def test_host_status_becomes_the_sources_reason(verdicts):
    assert verdicts["not-found"] == ["source-error", "not-found"]
    assert verdicts["host-cannot-read"] == ["source-error", "io"]


def test_flush_is_longer_than_any_frame_a_board_waits_for():
    assert len(FLUSH) >= 8 + wire.MAX_PAYLOAD + 4 and set(FLUSH) == {3}


@pytest.mark.parametrize("name", ["../root.bin", "chunks/../manifest", "/etc/passwd", "table/x",
                                  "chunks/" + "0" * 63, "manifest ", "roots/1/../../x"])
def test_host_serves_nothing_outside_the_bundle(tmp_path, name):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest").write_bytes(b"m")
    (tmp_path / "root.bin").write_bytes(b"secret")
    server = wire.FileServer(str(tmp_path / "b"), lambda n: wire.BUNDLE_NAME.match(n) is not None)
    assert server.answer("O", 7, name + " 0") == wire.frame(7, wire.NOT_FOUND)
    assert server.answer("O", 8, "manifest 0") == wire.frame(8, wire.OK)
    assert server.answer("R", 9, "100") == wire.frame(9, wire.OK, b"m")
