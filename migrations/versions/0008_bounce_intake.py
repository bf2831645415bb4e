"""Bounce intake: suppressions, receipts, intake status

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 00:32:11.731422

"""
from alembic import op
import sqlalchemy as sa

import models.types


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_receipts',
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('at', models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source', 'key', name=op.f('pk_intake_receipts'))
    )
    op.create_table('intake_status',
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('last_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', models.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_intake_status'))
    )
    op.create_table('suppressions',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('reason', sa.String(length=12), nullable=False),
    sa.Column('email_message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['email_message_id'], ['email_messages.id'], name=op.f('fk_suppressions_email_message_id_email_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_suppressions_org_id_organizations')),
    sa.PrimaryKeyConstraint('org_id', 'address', name=op.f('pk_suppressions'))
    )
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.create_index('ix_email_messages_to', ['to_address'], unique=False)



def downgrade():
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_email_messages_to')

    op.drop_table('suppressions')
    op.drop_table('intake_status')
    op.drop_table('intake_receipts')
