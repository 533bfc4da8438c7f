# SPDX-License-Identifier: MIT
"""The factory path: register devices and make their secrets
(`mpota fleet enroll`). No device ever registers itself."""

import os
import secrets

from sqlalchemy import select

from ..errors import CommandError
from . import db as D
from . import models as M
from . import protocol as P


def read_ids(path):
    """Device ids from a file, one a line (blank lines and # comments
    skipped), each checked, no duplicates."""
    try:
        with open(path, encoding="ascii") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CommandError("{}: {}".format(path, getattr(e, "strerror", None) or "not ASCII"))
    ids = []
    seen = set()
    for i, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not P.valid_id(line):
            raise CommandError("{}:{}: not a device id (1-32 printable ASCII, no space)".format(path, i))
        if "/" in line or "\\" in line or line in (".", ".."):
            # Each id names its secret's file: it may not leave SECRETS_DIR.
            raise CommandError("{}:{}: {} cannot name a file (no / or \\, not . or ..)".format(
                path, i, line))
        if line in seen:
            raise CommandError("{}:{}: {} is listed twice".format(path, i, line))
        seen.add(line)
        ids.append(line)
    if not ids:
        raise CommandError("{}: no device ids".format(path))
    return ids


def enroll(eng, ids, out_dir, device_class="", hw_rev="", now=None):
    """Register the devices and write <out_dir>/<id>.key (32 random bytes,
    mode 0600) for each; refuses if any id is enrolled already, before
    anything is written. Returns the number enrolled."""
    now = D.now() if now is None else now
    d = M.devices.c
    with eng.connect() as conn:
        have = set()
        for i in range(0, len(ids), 500):
            have.update(r[0] for r in conn.execute(
                select(d.device_id).where(d.device_id.in_(ids[i:i + 500]))))
    if have:
        raise CommandError("already enrolled: {}{}".format(
            ", ".join(sorted(have)[:5]), " and {} more".format(len(have) - 5) if len(have) > 5 else ""))
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    rows = []
    for device_id in ids:
        if os.path.exists(os.path.join(out_dir, device_id + ".key")):
            raise CommandError("{}: exists; give an empty directory".format(
                os.path.join(out_dir, device_id + ".key")))
    for device_id in ids:
        secret = secrets.token_bytes(P.SECRET_SIZE)
        path = os.path.join(out_dir, device_id + ".key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
        rows.append(dict(device_id=device_id, secret=secret, device_class=device_class,
                         hw_rev=hw_rev, enrolled=now))
    with eng.begin() as conn:
        for i in range(0, len(rows), 1000):
            conn.execute(M.devices.insert(), rows[i:i + 1000])
    from . import rollouts
    rollouts.refresh_members(eng)
    return len(rows)
