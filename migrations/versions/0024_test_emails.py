"""Test emails: an organization's email sent to the issuer who asked, through the queue
but of no credential (credential_id null, purpose 'test')

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 17:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

PURPOSES = ('delivery', 'reminder', 'expiry_notice')


def one_of(column, names):
    # Comparisons joined by OR, as the other checks (migration 0020 says why).
    return " OR ".join(f"{column} = '{name}'" for name in names)


def upgrade():
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.alter_column('credential_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(batch_op.f('ck_email_messages_purpose'), type_='check')
        batch_op.create_check_constraint('purpose', one_of('purpose', (*PURPOSES, 'test')))


def downgrade():
    op.execute("DELETE FROM email_messages WHERE purpose = 'test'")
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_messages_purpose'), type_='check')
        batch_op.create_check_constraint('purpose', one_of('purpose', PURPOSES))
        batch_op.alter_column('credential_id', existing_type=sa.Integer(), nullable=False)
