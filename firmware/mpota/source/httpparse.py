# SPDX-License-Identifier: MIT
"""Strict parsing of an HTTP/1.1 response head, and of http(s) URLs.

The head lies in HttpSource's fixed buffer, from the status line to the
empty line, and is parsed where it lies: no list of lines, no dict of
headers, no copies. Anything outside the grammar is refused rather than
guessed at, because a lenient parser is where request smuggling and
length confusion start: bare LF, folded lines, space before the colon,
control bytes, a repeated Content-Length or Content-Range.
"""

from micropython import const


_CR = const(13)
_LF = const(10)
_SP = const(32)
_HT = const(9)
_COLON = const(58)
_COMMA = const(44)
_DASH = const(45)
_SLASH = const(47)
_STAR = const(42)
# The largest length accepted: a MicroPython small int on 32-bit ports,
# and above any bundle file (images are < 2**30 bytes).
_MAX_LENGTH = const(0x3FFFFFFF)

_TCHARS = b"!#$%&'*+-.^_`|~"


class Head:
    """What the source needs from one response head. Offsets point into
    the buffer the head was parsed from."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.status = 0
        self.close = False  # the server ends the connection after the body
        self.length = -1  # Content-Length; -1: absent
        self.ranged = False  # a Content-Range was present
        self.first = -1  # Content-Range first, last, total; -1: absent or *
        self.last = -1
        self.total = -1
        self.loc_start = 0  # Location value, when loc_end > 0
        self.loc_end = 0


def parse_head(b, n, h):
    """Parse the head b[0:n] (ending in CRLF CRLF) into h.

    Returns None, or the reason it is refused: 'bad-response', or
    'too-large' for a length that no bundle file can have."""
    h.reset()
    end = _line_end(b, 0, n)
    if end < 0 or not _status_line(b, end, h):
        return "bad-response"
    p = end + 2
    while True:
        end = _line_end(b, p, n)
        if end < 0:
            return "bad-response"
        if end == p:
            break
        reason = _field(b, p, end, h)
        if reason:
            return reason
        p = end + 2
    if end + 2 != n:
        return "bad-response"
    return None


def _line_end(b, p, n):
    # Index of the CR of the CRLF ending the line at p, or -1 when the line
    # holds a control byte, a bare CR or LF, or no CRLF before n.
    i = p
    while i < n:
        c = b[i]
        if c == _CR:
            return i if i + 1 < n and b[i + 1] == _LF else -1
        if (c < _SP and c != _HT) or c == 0x7F:
            return -1
        i += 1
    return -1


def _status_line(b, end, h):
    # HTTP/1.0 or HTTP/1.1, SP, three digits, then SP and a reason or nothing.
    if end < 12:
        return False
    proto = b"HTTP/1."
    for i in range(7):
        if b[i] != proto[i]:
            return False
    minor = b[7]
    if minor not in (0x30, 0x31) or b[8] != _SP:
        return False
    status = 0
    for i in range(9, 12):
        c = b[i]
        if not 0x30 <= c <= 0x39:
            return False
        status = status * 10 + c - 0x30
    if end > 12 and b[12] != _SP:
        return False
    if status < 200:
        return False  # we never ask for 1xx; an interim answer is unexpected
    h.status = status
    if minor == 0x30:
        h.close = True  # HTTP/1.0 closes after each response
    return True


def _field(b, p, end, h):
    if b[p] == _SP or b[p] == _HT:
        return "bad-response"  # obsolete line folding
    i = p
    while i < end and b[i] != _COLON:
        c = b[i]
        if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c in _TCHARS):
            return "bad-response"  # not a token: spaces before the colon, say
        i += 1
    if i == p or i == end:
        return "bad-response"
    vs = i + 1
    while vs < end and (b[vs] == _SP or b[vs] == _HT):
        vs += 1
    ve = end
    while ve > vs and (b[ve - 1] == _SP or b[ve - 1] == _HT):
        ve -= 1
    if same(b, p, i, b"content-length"):
        if h.length >= 0:
            return "bad-response"
        v = number(b, vs, ve)
        if v < 0:
            return "too-large" if v == -2 else "bad-response"
        h.length = v
    elif same(b, p, i, b"transfer-encoding"):
        # Bodies are framed by Content-Length only: chunked is refused, and
        # a server may not send both (RFC 9112, 6.3).
        return "bad-response"
    elif same(b, p, i, b"content-encoding"):
        if not same(b, vs, ve, b"identity"):
            return "bad-response"  # we asked for identity
    elif same(b, p, i, b"connection"):
        if _has_token(b, vs, ve, b"close"):
            h.close = True
    elif same(b, p, i, b"content-range"):
        if h.ranged:
            return "bad-response"
        h.ranged = True
        return _content_range(b, vs, ve, h)
    elif same(b, p, i, b"location"):
        if h.loc_end or vs == ve:
            return "bad-response"
        for k in range(vs, ve):
            if not 0x21 <= b[k] <= 0x7E:
                return "bad-response"
        h.loc_start = vs
        h.loc_end = ve
    return None


def same(b, s, e, word):
    """b[s:e] equals the lowercase ASCII `word`, ignoring case."""
    if e - s != len(word):
        return False
    for k in range(e - s):
        # | 0x20 folds A-Z onto a-z; no other byte folds onto a letter or '-'.
        if b[s + k] | 0x20 != word[k]:
            return False
    return True


def number(b, s, e):
    """The decimal b[s:e]: -1 if empty or not all digits, -2 if too large."""
    if s == e:
        return -1
    v = 0
    for k in range(s, e):
        c = b[k]
        if not 0x30 <= c <= 0x39:
            return -1
        v = v * 10 + c - 0x30
        if v > _MAX_LENGTH:
            return -2
    return v


def _has_token(b, s, e, word):
    # A comma-separated list holds `word` (case-insensitively).
    while s < e:
        k = s
        while k < e and b[k] != _COMMA:
            k += 1
        ts, te = s, k
        while ts < te and (b[ts] == _SP or b[ts] == _HT):
            ts += 1
        while te > ts and (b[te - 1] == _SP or b[te - 1] == _HT):
            te -= 1
        if same(b, ts, te, word):
            return True
        s = k + 1
    return False


def _content_range(b, s, e, h):
    # "bytes FIRST-LAST/TOTAL", "bytes FIRST-LAST/*" or "bytes */TOTAL".
    if e - s < 9 or not same(b, s, s + 5, b"bytes") or b[s + 5] != _SP:
        return "bad-response"
    p = s + 6
    slash = p
    while slash < e and b[slash] != _SLASH:
        slash += 1
    if slash >= e - 1:
        return "bad-response"
    if b[p] == _STAR and slash == p + 1:
        first = last = -1
    else:
        dash = p
        while dash < slash and b[dash] != _DASH:
            dash += 1
        first = number(b, p, dash)
        last = number(b, dash + 1, slash)
        if first < 0 or last < first:
            return "too-large" if first == -2 or last == -2 else "bad-response"
    if b[slash + 1] == _STAR and slash + 2 == e:
        total = -1
        if first < 0:
            return "bad-response"  # "*/*" says nothing
    else:
        total = number(b, slash + 1, e)
        if total < 0:
            return "too-large" if total == -2 else "bad-response"
        if last >= total:
            return "bad-response"
    h.first = first
    h.last = last
    h.total = total
    return None
