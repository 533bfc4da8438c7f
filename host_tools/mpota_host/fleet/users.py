# SPDX-License-Identifier: MIT
"""Operators: password hashes (Argon2id, argon2-cffi) and API tokens (only
their SHA-256 is stored)."""

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from ..errors import CommandError
from . import db as D
from . import models as M

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that the time of a
# failed login does not say whether the name is known.
_DUMMY = _hasher.hash("mpota-no-such-user")


def add(eng, name, password):
    if not name or len(name) > 64 or not name.isprintable() or " " in name:
        raise CommandError("user name: 1-64 printable characters, no space")
    if len(password) < 8:
        raise CommandError("password: at least 8 characters")
    u = M.users.c
    with eng.begin() as conn:
        if conn.execute(select(u.id).where(u.name == name)).first():
            raise CommandError("user {} exists".format(name))
        conn.execute(M.users.insert().values(name=name, pw_hash=_hasher.hash(password),
                                             created=D.now()))


def check_password(eng, name, password):
    """The user's name if the password is right, else None."""
    u = M.users.c
    with eng.connect() as conn:
        row = conn.execute(select(u.name, u.pw_hash).where(u.name == name)).first()
    try:
        _hasher.verify(_DUMMY if row is None else row.pw_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return None if row is None else row.name


def new_token(eng, name):
    """A new API token for the user: shown once, stored as its SHA-256."""
    u = M.users.c
    token = "mpf_" + secrets.token_urlsafe(32)
    with eng.begin() as conn:
        row = conn.execute(select(u.id).where(u.name == name)).first()
        if row is None:
            raise CommandError("no user {}".format(name))
        conn.execute(M.tokens.insert().values(
            user_id=row.id, digest=hashlib.sha256(token.encode()).hexdigest(), created=D.now()))
    return token


def user_for_token(eng, token):
    t = M.tokens.c
    digest = hashlib.sha256(token.encode()).hexdigest()
    with eng.connect() as conn:
        row = conn.execute(select(M.users.c.name).select_from(
            M.tokens.join(M.users, M.users.c.id == t.user_id)).where(t.digest == digest)).first()
    return None if row is None else row.name
