# SPDX-License-Identifier: MIT
"""initial schema

Revision ID: 0001
Revises: 
"""

from alembic import op
import sqlalchemy as sa

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('plan_sha', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index('ix_audit_at', ['at'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('secret', sa.LargeBinary(length=32), nullable=False),
    sa.Column('device_class', sa.String(length=32), server_default='', nullable=False),
    sa.Column('hw_rev', sa.String(length=16), server_default='', nullable=False),
    sa.Column('enrolled', sa.Float(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), server_default='-1', nullable=False),
    sa.Column('last_ack', sa.BigInteger(), nullable=True),
    sa.Column('last_seen', sa.Float(), nullable=True),
    sa.Column('version', sa.BigInteger(), nullable=True),
    sa.Column('sha', sa.String(length=16), nullable=True),
    sa.Column('trial', sa.BigInteger(), nullable=True),
    sa.Column('reset', sa.String(length=64), nullable=True),
    sa.Column('dropped', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_kind', sa.String(length=16), nullable=True),
    sa.Column('last_reason', sa.String(length=32), nullable=True),
    sa.Column('reports', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id')
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index('ix_devices_version', ['version'], unique=False)

    op.create_table('rollouts',
    sa.Column('plan_sha', sa.String(length=64), nullable=False),
    sa.Column('plan_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('manifest_sha', sa.String(length=64), nullable=False),
    sa.Column('device_class', sa.String(length=32), nullable=False),
    sa.Column('hw_revs', sa.Text(), nullable=False),
    sa.Column('waves', sa.Text(), nullable=False),
    sa.Column('max_bp', sa.Integer(), nullable=False),
    sa.Column('canary', sa.Text(), nullable=False),
    sa.Column('first_seen', sa.Float(), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('cap_bp', sa.Integer(), nullable=False),
    sa.Column('poll_s', sa.BigInteger(), nullable=False),
    sa.Column('control_version', sa.BigInteger(), nullable=False),
    sa.Column('rules', sa.Text(), nullable=True),
    sa.Column('halt_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('plan_sha')
    )
    op.create_table('settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('pw_hash', sa.String(length=255), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device', sa.Integer(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('t', sa.BigInteger(), nullable=False),
    sa.Column('received', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['device'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_device', ['device', 'id'], unique=False)
        batch_op.create_index('ix_events_kind', ['kind', 'received'], unique=False)

    op.create_table('members',
    sa.Column('plan_sha', sa.String(length=64), nullable=False),
    sa.Column('device', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('canary', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['device'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('plan_sha', 'device')
    )
    op.create_table('progress',
    sa.Column('device', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('started', sa.Float(), nullable=True),
    sa.Column('downloaded', sa.Float(), nullable=True),
    sa.Column('trial', sa.Float(), nullable=True),
    sa.Column('confirmed', sa.Float(), nullable=True),
    sa.Column('rolled_back', sa.Float(), nullable=True),
    sa.Column('refused', sa.String(length=32), nullable=True),
    sa.Column('refused_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['device'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('device', 'version')
    )
    with op.batch_alter_table('progress', schema=None) as batch_op:
        batch_op.create_index('ix_progress_version', ['version'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device', sa.Integer(), nullable=False),
    sa.Column('received', sa.Float(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['device'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_device', ['device', 'id'], unique=False)
        batch_op.create_index('ix_reports_received', ['received'], unique=False)

    op.create_table('tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('digest')
    )


def downgrade():
    op.drop_table('tokens')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_received')
        batch_op.drop_index('ix_reports_device')

    op.drop_table('reports')
    with op.batch_alter_table('progress', schema=None) as batch_op:
        batch_op.drop_index('ix_progress_version')

    op.drop_table('progress')
    op.drop_table('members')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_kind')
        batch_op.drop_index('ix_events_device')

    op.drop_table('events')
    op.drop_table('users')
    op.drop_table('settings')
    op.drop_table('rollouts')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_version')

    op.drop_table('devices')
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_at')

    op.drop_table('audit')
