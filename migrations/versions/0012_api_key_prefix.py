"""API keys: a prefix to name them by, and when they were revoked

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 06:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prefix', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint('uq_api_keys_prefix', ['prefix'])


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint('uq_api_keys_prefix', type_='unique')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('prefix')
