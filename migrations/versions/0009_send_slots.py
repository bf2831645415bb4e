"""Send slots: hand-overs counted for MAIL_RATE_LIMIT

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 03:40:00

"""
from alembic import op
import sqlalchemy as sa

import models.types


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('send_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('counts_at', models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_send_slots'))
    )
    with op.batch_alter_table('send_slots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_send_slots_counts_at'), ['counts_at'], unique=False)


def downgrade():
    with op.batch_alter_table('send_slots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_send_slots_counts_at'))
    op.drop_table('send_slots')
