# SPDX-License-Identifier: MIT
"""SHA-256 on every runtime, chosen once, at import:

  hashlib.sha256        MicroPython, CPython
  hashlib.new("sha256") CircuitPython boards with hashlib (espressif,
                        raspberrypi, web-workflow boards)
  adafruit_hashlib      CircuitPython boards without it (the pure-Python
                        library from the CircuitPython bundle: slow, and
                        it allocates at every update)

With none of them `import mpota` still works (status, provisioning
checks); every hash asks for raises AgentError('no-sha256').
"""


def _pick():
    try:
        import hashlib
    except ImportError:
        hashlib = None
    if hashlib is not None:
        # Looked up by name: each runtime's stubs describe only one of them.
        f = getattr(hashlib, "sha256", None)
        if f is not None:
            return f, "hashlib"
        new = getattr(hashlib, "new", None)
        if new is not None:
            try:
                new("sha256")
            except ValueError:
                pass
            else:
                return lambda: new("sha256"), "hashlib.new"
    try:
        import adafruit_hashlib
    except ImportError:
        return None, None
    return adafruit_hashlib.sha256, "adafruit_hashlib"


_SHA256, SOURCE = _pick()


def sha256():
    if _SHA256 is None:
        from .errors import AgentError

        raise AgentError("no-sha256")
    return _SHA256()
