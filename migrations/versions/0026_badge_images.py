"""A group's badge image (PNG as drawn again by Pillow) and the version that names it

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 19:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credential_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_png', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('image_width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('image_version', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('credential_groups', schema=None) as batch_op:
        batch_op.drop_column('image_version')
        batch_op.drop_column('image_width')
        batch_op.drop_column('image_png')
