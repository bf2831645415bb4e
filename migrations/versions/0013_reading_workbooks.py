"""Imports: a workbook is read in the background, in the new state 'reading'

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 05:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

OLD = "state IN ('mapping', 'checking', 'checked', 'issuing', 'done', 'failed')"
NEW = "state IN ('reading', 'mapping', 'checking', 'checked', 'issuing', 'done', 'failed')"


def upgrade():
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_imports_state'), type_='check')
        batch_op.create_check_constraint('state', NEW)


def downgrade():
    # An import still being read has no header to map: it is dropped, as a failed upload.
    op.execute("DELETE FROM import_rows WHERE import_id IN "
               "(SELECT id FROM imports WHERE state = 'reading')")
    op.execute("DELETE FROM imports WHERE state = 'reading'")
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_imports_state'), type_='check')
        batch_op.create_check_constraint('state', OLD)
