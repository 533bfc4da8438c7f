# SPDX-License-Identifier: MIT
"""raw reports are append-only in the database itself

A trigger refuses every UPDATE and DELETE on `reports`, so no code path,
bug or hand-typed statement can rewrite what a device sent.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        for what in ("UPDATE", "DELETE"):
            op.execute("CREATE TRIGGER reports_no_{0} BEFORE {1} ON reports "
                       "BEGIN SELECT RAISE(ABORT, 'reports are append-only'); END"
                       .format(what.lower(), what))
    else:
        op.execute("CREATE FUNCTION reports_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'reports are append-only'; END $$")
        op.execute("CREATE TRIGGER reports_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                   "ON reports FOR EACH STATEMENT EXECUTE FUNCTION reports_append_only()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER reports_no_update")
        op.execute("DROP TRIGGER reports_no_delete")
    else:
        op.execute("DROP TRIGGER reports_append_only ON reports")
        op.execute("DROP FUNCTION reports_append_only()")
