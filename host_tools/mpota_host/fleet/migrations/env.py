# SPDX-License-Identifier: MIT
"""Alembic environment: run on the connection db.migrate() hands over."""

from alembic import context

from mpota_host.fleet import models

target_metadata = models.metadata
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=target_metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
