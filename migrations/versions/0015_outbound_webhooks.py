"""Outbound webhooks: endpoints, the outbox of messages for them, and the delivery log

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 05:42:50.213801

"""
from alembic import op
import sqlalchemy as sa

import models.types


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('failing_since', models.types.UTCDateTime(), nullable=True),
    sa.Column('disabled_at', models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_webhook_endpoints_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_org_id'), ['org_id'], unique=False)

    op.create_table('webhook_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=True),
    sa.Column('email_message_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('lease_until', models.types.UTCDateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'delivered', 'failed')", name=op.f('ck_webhook_messages_state')),
    sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'], name=op.f('fk_webhook_messages_credential_id_credentials'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['email_message_id'], ['email_messages.id'], name=op.f('fk_webhook_messages_email_message_id_email_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_messages_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_messages')),
    sa.UniqueConstraint('webhook_id', name=op.f('uq_webhook_messages_webhook_id'))
    )
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_messages_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_messages_endpoint', ['endpoint_id', 'id'], unique=False)

    op.create_table('webhook_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('at', models.types.UTCDateTime(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('answer', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_attempts_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['webhook_messages.id'], name=op.f('fk_webhook_attempts_message_id_webhook_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts'))
    )
    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_attempts_endpoint', ['endpoint_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_attempts_message_id'), ['message_id'], unique=False)



def downgrade():
    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_attempts_message_id'))
        batch_op.drop_index('ix_webhook_attempts_endpoint')

    op.drop_table('webhook_attempts')
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_messages_endpoint')
        batch_op.drop_index('ix_webhook_messages_due')

    op.drop_table('webhook_messages')
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoints_org_id'))

    op.drop_table('webhook_endpoints')
