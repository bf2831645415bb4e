"""Sender domains: verification of the custom sender's domain; the time a message was
handed to the mail server, for the per-organization daily limit

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 05:00:00

"""
from alembic import op
import sqlalchemy as sa

import models.types


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_domain', sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column('sender_domain_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sender_domain_verified_at', models.types.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('sender_domain_checked_at', models.types.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('sender_domain_check', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('sender_domain_found', sa.String(length=1000),
                                      nullable=True))
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handed_at', models.types.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_email_messages_org_handed', ['org_id', 'handed_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_email_messages_org_handed')
        batch_op.drop_column('handed_at')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('sender_domain_found')
        batch_op.drop_column('sender_domain_check')
        batch_op.drop_column('sender_domain_checked_at')
        batch_op.drop_column('sender_domain_verified_at')
        batch_op.drop_column('sender_domain_token')
        batch_op.drop_column('sender_domain')
