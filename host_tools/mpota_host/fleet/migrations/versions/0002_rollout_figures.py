# SPDX-License-Identifier: MIT
"""rollout figures kept by the monitor

Each monitor pass stores every rollout's figures, so a dashboard page
reads one row instead of counting 100,000 members per request.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('figures', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('figures_at', sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.drop_column('figures_at')
        batch_op.drop_column('figures')
