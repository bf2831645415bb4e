"""An organization's brand: its logo (PNG as drawn again by Pillow) with its size, its
colour, and the version that names the files pages and emails fetch

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 16:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('logo_png', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('logo_width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('logo_height', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('brand_colour', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('brand_version', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        for column in ('brand_version', 'brand_colour', 'logo_height', 'logo_width',
                       'logo_png'):
            batch_op.drop_column(column)
