"""A failing webhook endpoint is paused as a whole: no try before paused_until

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa

import models.types


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_until', models.types.UTCDateTime(),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_column('paused_until')
