# SPDX-License-Identifier: MIT
"""URLs and names for HttpSource: what may go into a request line.

Only http and https URLs with a plain host (name, IPv4, or bracketed
IPv6) and a printable-ASCII path; only bundle paths made of letters,
digits, '.', '_', '-' and '/'. Everything else is refused, so nothing a
server or a configuration says can inject a header or a second request.
"""

from micropython import const


_MAX_NAME = const(200)
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/"


def parse_url(url):
    """(scheme, host, port, path) of an absolute http or https URL, or None.

    No user info, no fragment; the host is a name, an IPv4 address or a
    bracketed IPv6 address; the path is printable ASCII."""
    if url.startswith("https://"):
        scheme, p, port = "https", 8, 443
    elif url.startswith("http://"):
        scheme, p, port = "http", 7, 80
    else:
        return None
    slash = url.find("/", p)
    if slash < 0:
        slash = len(url)
    auth = url[p:slash]
    path = url[slash:] or "/"
    if auth.startswith("["):
        close = auth.find("]")
        if close < 0:
            return None
        host = auth[1:close]
        rest = auth[close + 1:]
        allowed = "0123456789abcdefABCDEF:."
    else:
        colon = auth.find(":")
        host = auth if colon < 0 else auth[:colon]
        rest = "" if colon < 0 else auth[colon:]
        allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"
    if not host or len(host) > 253:
        return None
    for c in host:
        if c not in allowed:
            return None
    if rest:
        if rest[0] != ":" or not 2 <= len(rest) <= 6:
            return None
        port = 0
        for c in rest[1:]:
            if not "0" <= c <= "9":
                return None
            port = port * 10 + ord(c) - 48
        if not 0 < port < 65536:
            return None
    if not valid_path(path):
        return None
    return scheme, host, port, path


def valid_path(path):
    """A request target we may send: starts with '/', printable ASCII, no
    fragment."""
    if not path.startswith("/") or len(path) > 1024:
        return False
    for c in path:
        if not "!" <= c <= "~" or c == "#":
            return False
    return True


def check_name(name):
    """Refuse (ValueError) a name that is not a plain bundle path."""
    if not 0 < len(name) <= _MAX_NAME or name[0] == "/" or name[-1] == "/":
        raise ValueError("name")
    for c in name:
        if c not in _NAME_CHARS:
            raise ValueError("name")
    wrapped = "/" + name + "/"
    if "//" in wrapped or "/./" in wrapped or "/../" in wrapped:
        raise ValueError("name")
