"""Indexes for the health checks: messages by sent time, events by type and time

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 05:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.create_index('ix_email_messages_sent_at', ['sent_at'], unique=False)
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.create_index('ix_email_events_type_at', ['type', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.drop_index('ix_email_events_type_at')
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_email_messages_sent_at')
