"""The issuer's own email: a subject and message template per organization, overridable
per group (null: the organization's, then ours)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

TABLES = ('organizations', 'credential_groups')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('email_subject', sa.String(length=200), nullable=True))
            batch_op.add_column(sa.Column('email_message', sa.Text(), nullable=True))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('email_message')
            batch_op.drop_column('email_subject')
