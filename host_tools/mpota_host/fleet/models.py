# SPDX-License-Identifier: MIT
"""The fleet service's tables (SQLAlchemy Core). The schema itself is made
and changed only by the migrations in migrations/versions/; this module
names the same tables for the code that reads and writes them."""

from sqlalchemy import (BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer,
                        LargeBinary, MetaData, String, Table, Text)

metadata = MetaData()

# Operators of the dashboard and the JSON API.
users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("pw_hash", String(255), nullable=False),
    Column("created", Float, nullable=False),
)

# API tokens: only their SHA-256 is kept.
tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created", Float, nullable=False),
)

# Service-wide settings shared by every process: the session signing key,
# the halt rules.
settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per enrolled device: its identity and its current state.
devices = Table(
    "devices", metadata,
    Column("id", Integer, primary_key=True),
    Column("device_id", String(32), nullable=False, unique=True),
    Column("secret", LargeBinary(32), nullable=False),
    Column("device_class", String(32), nullable=False, server_default=""),
    Column("hw_rev", String(16), nullable=False, server_default=""),
    Column("enrolled", Float, nullable=False),
    Column("last_seq", BigInteger, nullable=False, server_default="-1"),
    Column("last_ack", BigInteger, nullable=True),
    Column("last_seen", Float, nullable=True),
    Column("version", BigInteger, nullable=True),
    Column("sha", String(16), nullable=True),
    Column("trial", BigInteger, nullable=True),
    Column("reset", String(64), nullable=True),
    Column("dropped", BigInteger, nullable=False, server_default="0"),
    Column("last_kind", String(16), nullable=True),
    Column("last_reason", String(32), nullable=True),
    Column("reports", BigInteger, nullable=False, server_default="0"),
)
Index("ix_devices_version", devices.c.version)

# Every accepted report, as received; rows are only ever inserted.
reports = Table(
    "reports", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("device", Integer, ForeignKey("devices.id"), nullable=False),
    Column("received", Float, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
)
Index("ix_reports_device", reports.c.device, reports.c.id)
Index("ix_reports_received", reports.c.received)

# The events of the reports, one row each (the first time it arrives).
events = Table(
    "events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("device", Integer, ForeignKey("devices.id"), nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("t", BigInteger, nullable=False),
    Column("received", Float, nullable=False),
)
Index("ix_events_device", events.c.device, events.c.id)
Index("ix_events_kind", events.c.kind, events.c.received)

# Per device and image version: how far the update to it went.
progress = Table(
    "progress", metadata,
    Column("device", Integer, ForeignKey("devices.id"), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("started", Float, nullable=True),
    Column("downloaded", Float, nullable=True),
    Column("trial", Float, nullable=True),
    Column("confirmed", Float, nullable=True),
    Column("rolled_back", Float, nullable=True),
    Column("refused", String(32), nullable=True),
    Column("refused_at", Float, nullable=True),
)
Index("ix_progress_version", progress.c.version)

# The rollouts found in the published repository, and their rules.
rollouts = Table(
    "rollouts", metadata,
    Column("plan_sha", String(64), primary_key=True),
    Column("plan_id", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("manifest_sha", String(64), nullable=False),
    Column("device_class", String(32), nullable=False),
    Column("hw_revs", Text, nullable=False),  # JSON list
    Column("waves", Text, nullable=False),  # JSON [[basis points, opening time], ...]
    Column("max_bp", Integer, nullable=False),
    Column("canary", Text, nullable=False),  # JSON list of device ids
    Column("first_seen", Float, nullable=False),
    Column("state", String(8), nullable=False),  # run / pause / halt / absent
    Column("cap_bp", Integer, nullable=False),
    Column("poll_s", BigInteger, nullable=False),
    Column("control_version", BigInteger, nullable=False),
    Column("rules", Text, nullable=True),  # JSON: this rollout's own halt rules
    Column("halt_reason", Text, nullable=True),
    # The figures of the last monitor pass (JSON) and when (migration 0002).
    Column("figures", Text, nullable=True),
    Column("figures_at", Float, nullable=True),
)

# Who is in a rollout: the selected devices with their bucket.
members = Table(
    "members", metadata,
    Column("plan_sha", String(64), primary_key=True),
    Column("device", Integer, ForeignKey("devices.id"), primary_key=True),
    Column("bucket", Integer, nullable=False),
    Column("canary", Boolean, nullable=False),
)

# Every action on a rollout or the fleet, automatic or by whom.
audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("plan_sha", String(64), nullable=True),
    Column("detail", Text, nullable=False),
)
Index("ix_audit_at", audit.c.at)
