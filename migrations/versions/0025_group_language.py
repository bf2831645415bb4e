"""The language of a group's emails, pages and certificates (en, fr, de, es, pt, nl)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 18:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credential_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=5), server_default='en',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('credential_groups', schema=None) as batch_op:
        batch_op.drop_column('language')
