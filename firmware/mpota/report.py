# SPDX-License-Identifier: MIT
"""Tell the update server how the device is doing (best effort).

A source that can POST (mpota.source.http.HttpSource) sends a small JSON
status to /.mpota/status, the endpoint `mpota serve` keeps a log of.
Nothing depends on it arriving: a failure is ignored.
"""

import json

from .source import SourceError
from .state import log as L
from .state.fields import NONE

_TARGET = "/.mpota/status"


def status(dev, event):
    st = dev.load()
    last = st.last()
    return {
        "device": dev.cfg.get("name", dev.cfg.get("device_class")),
        "event": event,
        "version": st.active_version,
        "trial": None if st.trial == NONE else st.trial_version,
        "attempts": st.attempts,
        "min_security_counter": st.min_counter,
        "last_sequence": st.last_sequence,
        "root_version": st.root_version,
        "last_log": None if last is None else [L.event_name(last[0]), L.reason_name(last[1]),
                                               last[2]],
    }


def send(dev, src, event):
    """POST the status if src can; True if the server took it."""
    if not hasattr(src, "post"):
        return False
    try:
        code = src.post(_TARGET, json.dumps(status(dev, event)).encode())
    except (SourceError, OSError):
        return False
    finally:
        if hasattr(src, "close"):
            src.close()
    return 200 <= code < 300
