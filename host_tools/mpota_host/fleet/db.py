# SPDX-License-Identifier: MIT
"""Opening the fleet database: SQLite in WAL mode in a state directory by
default, or PostgreSQL (`--db postgresql://...`); schema migrations by
Alembic; the service-wide settings every process shares."""

import os
import secrets
import time

from sqlalchemy import create_engine, event, select
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from ..errors import CommandError
from . import models as M

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def url_for(db, state):
    """The SQLAlchemy URL for --db (or the state directory's SQLite file)."""
    if not db:
        os.makedirs(state, exist_ok=True)
        return "sqlite:///" + os.path.join(os.path.abspath(state), "fleet.db")
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    if db.startswith(("postgresql+psycopg://", "sqlite:///")):
        return db
    raise CommandError("--db {}: give postgresql://... (or nothing for SQLite)".format(
        db.split("://", 1)[0] + "://..." if "://" in db else db))


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    # WAL: readers never wait for the writer; NORMAL: a power cut may lose
    # the last transactions but never corrupts the file.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def engine_for(url):
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    # No pre-ping: it would cost a round trip per report; a dropped
    # connection fails one request and is replaced.
    return create_engine(url, pool_size=8, max_overflow=8, pool_recycle=3600)


def is_postgres(eng):
    return eng.dialect.name == "postgresql"


def upsert(eng, table):
    """INSERT ... ON CONFLICT for the engine's dialect (both have it)."""
    return (pg_dialect if is_postgres(eng) else sqlite_dialect).insert(table)


def migrate(eng):
    """Bring the schema to the newest migration; return its revision."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with eng.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    _ensure_settings(eng)
    return rev


def head():
    """The newest migration's revision."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    return ScriptDirectory.from_config(cfg).get_current_head()


def _ensure_settings(eng):
    # The session signing key lives in the database so that every process
    # behind a load balancer accepts the same cookies.
    with eng.begin() as conn:
        if conn.execute(select(M.settings.c.value).where(M.settings.c.key == "session_key")).first():
            return
        stmt = upsert(eng, M.settings).values(key="session_key", value=secrets.token_hex(32))
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


def get_setting(conn, key, default=None):
    row = conn.execute(select(M.settings.c.value).where(M.settings.c.key == key)).first()
    return default if row is None else row[0]


def set_setting(eng, conn, key, value):
    stmt = upsert(eng, M.settings).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def now():
    return time.time()
