# SPDX-License-Identifier: MIT
"""The strict response-head parser and the URL and name rules of the HTTP
source, on CPython case by case, then the same cases under MicroPython
with the same answers."""

import json

import pytest

from mpota.source.httpparse import Head, parse_head
from mpota.source.url import check_name, parse_url
from net import device


def H(*lines, status="HTTP/1.1 200 OK"):
    return ("\r\n".join((status,) + lines) + "\r\n\r\n").encode()


# (head, expected fields or a refusal reason)
HEADS = [
    (H("Content-Length: 5"), {"status": 200, "length": 5, "close": False}),
    (H("content-LENGTH:5  "), {"length": 5}),
    (H("Content-Length: 0"), {"length": 0}),
    (H("Content-Length: 1073741823"), {"length": 1073741823}),
    (H("Content-Length: 1073741824"), "too-large"),
    (H("Content-Length: 00012"), {"length": 12}),
    (H("Content-Length: 5", "Content-Length: 5"), "bad-response"),
    (H("Content-Length: 5, 5"), "bad-response"),
    (H("Content-Length: -5"), "bad-response"),
    (H("Content-Length: 0x10"), "bad-response"),
    (H("Content-Length:"), "bad-response"),
    (H("Transfer-Encoding: identity"), "bad-response"),
    (H("Content-Encoding: identity", "Content-Length: 1"), {"length": 1}),
    (H("Content-Encoding: br"), "bad-response"),
    (H("Connection: keep-alive, Close", "Content-Length: 1"), {"close": True}),
    (H("Connection: closed", "Content-Length: 1"), {"close": False}),
    (H("Content-Length: 1", status="HTTP/1.0 200 OK"), {"close": True}),
    (H("Content-Length: 1", status="HTTP/1.1 200"), {"status": 200}),
    (H("Content-Length: 1", status="HTTP/1.1 200 "), {"status": 200}),
    (H("Content-Length: 1", status="HTTP/1.1 2000 OK"), "bad-response"),
    (H("Content-Length: 1", status="HTTP/1.1  200 OK"), "bad-response"),
    (H("Content-Length: 1", status="http/1.1 200 OK"), "bad-response"),
    (H("Content-Length: 1", status="HTTP/1.2 200 OK"), "bad-response"),
    (H("Content-Length: 1", status="HTTP/1.1 099 OK"), "bad-response"),
    (H("Content-Length: 1", status="HTTP/1.1 200 \xe9t\xe9".encode("latin-1").decode("latin-1")), {"status": 200}),
    (H("Content-Range: bytes 5-9/10", "Content-Length: 5"), {"first": 5, "last": 9, "total": 10}),
    (H("Content-Range: bytes */10"), {"first": -1, "total": 10}),
    (H("Content-Range: bytes 5-9/*"), {"first": 5, "last": 9, "total": -1}),
    (H("Content-Range: BYTES 5-9/10"), {"first": 5}),
    (H("Content-Range: bytes 5-9/9"), "bad-response"),
    (H("Content-Range: bytes 9-5/10"), "bad-response"),
    (H("Content-Range: bytes */*"), "bad-response"),
    (H("Content-Range: bytes 5-/10"), "bad-response"),
    (H("Content-Range: items 5-9/10"), "bad-response"),
    (H("Content-Range: bytes 5-9/10", "Content-Range: bytes 5-9/10"), "bad-response"),
    (H("Location: /x/y?z=1"), {"location": "/x/y?z=1"}),
    (H("Location:"), "bad-response"),
    (H("Location: /a", "Location: /b"), "bad-response"),
    (H("Location: /a\x7fb"), "bad-response"),
    (H("X-Any: value with spaces\tand tab", "Content-Length: 1"), {"length": 1}),
    (H("X-Empty:", "Content-Length: 1"), {"length": 1}),
    (H(": no name"), "bad-response"),
    (H("No colon here"), "bad-response"),
    (H("Bad Name: x"), "bad-response"),
    (H("Name\t: x"), "bad-response"),
    (H("Content-Length: 1", " continued"), "bad-response"),
    (H("X: a\rb"), "bad-response"),
    (H("X: a\x01b"), "bad-response"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nX\r\n\r\n", "bad-response"),  # not where the head ends
]


def _fields(head):
    h = Head()
    reason = parse_head(bytearray(head), len(head), h)
    if reason:
        return reason
    return {"status": h.status, "length": h.length, "close": h.close, "first": h.first,
            "last": h.last, "total": h.total,
            "location": head[h.loc_start:h.loc_end].decode() if h.loc_end else None}


@pytest.mark.parametrize("head, expected", HEADS, ids=[repr(h[0][:60]) for h in HEADS])
def test_response_head_is_parsed_strictly(head, expected):
    got = _fields(head)
    if isinstance(expected, str):
        assert got == expected
    else:
        assert isinstance(got, dict), got
        assert {k: got[k] for k in expected} == expected


URLS = [
    ("https://localhost:8443/b/", ("https", "localhost", 8443, "/b/")),
    ("https://example.org", ("https", "example.org", 443, "/")),
    ("http://10.0.0.7/x", ("http", "10.0.0.7", 80, "/x")),
    ("https://[::1]:9/", ("https", "::1", 9, "/")),
    ("https://user@host/", None),
    ("https://host:0/", None),
    ("https://host:65536/", None),
    ("https://host:/", None),
    ("https://host:8a/", None),
    ("https:///path", None),
    ("https://ho st/", None),
    ("https://host/a b", None),
    ("https://host/a#frag", None),
    ("ftp://host/", None),
    ("HTTPS://host/", None),
    ("https://[::1/", None),
]


@pytest.mark.parametrize("url, expected", URLS)
def test_only_plain_http_urls_are_accepted(url, expected):
    assert parse_url(url) == expected


NAMES = [
    ("manifest", True), ("table/" + "a" * 64, True), ("chunks/" + "0f" * 32, True), ("roots/2", True),
    ("", False), ("/manifest", False), ("chunks/", False), ("a//b", False), ("./a", False),
    ("a/../b", False), ("..", False), ("a b", False), ("a\r\nb", False), ("a?b", False),
    ("a%20b", False), ("a#b", False), ("\u00e9", False), ("x" * 201, False),
]


@pytest.mark.parametrize("name, good", NAMES)
def test_bundle_names_are_checked_before_any_request(name, good):
    if good:
        check_name(name)
    else:
        with pytest.raises(ValueError):
            check_name(name)


def test_micropython_parses_every_case_the_same_way(unix_target):
    code = r'''
from mpota.source.httpparse import Head, parse_head
from mpota.source.url import check_name, parse_url
import json
def fields(head):
    h = Head()
    reason = parse_head(bytearray(head), len(head), h)
    if reason:
        return reason
    return {"status": h.status, "length": h.length, "close": h.close, "first": h.first,
            "last": h.last, "total": h.total,
            "location": head[h.loc_start:h.loc_end].decode() if h.loc_end else None}
def name_ok(n):
    try:
        check_name(n)
        return True
    except ValueError:
        return False
'''
    for head, _ in HEADS:
        code += "print(json.dumps(fields({!r})))\n".format(head)
    for url, _ in URLS:
        code += "print(json.dumps(parse_url({!r})))\n".format(url)
    for name, _ in NAMES:
        code += "print(json.dumps(name_ok({!r})))\n".format(name)
    lines = unix_target.run(code, path=[device.FIRMWARE]).splitlines()
    expected = [_fields(h) for h, _ in HEADS]
    expected += [list(e) if e else None for e in (parse_url(u) for u, _ in URLS)]
    expected += [good for _, good in NAMES]
    assert [json.loads(line) for line in lines] == expected
