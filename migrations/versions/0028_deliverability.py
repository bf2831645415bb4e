"""Deliverability: the organization's DKIM key and DNS report, signed messages kept for
their retries, the reputation guard's pause, one-click unsubscribes from reminders and
their event

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 20:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

EVENT_TYPES = ('queued', 'sent', 'deferred', 'bounced', 'delivered', 'complained', 'opened',
               'auto_opened', 'viewed', 'downloaded', 'linkedin_clicked', 'share_viewed',
               'address_changed', 'resent', 'name_changed', 'revoked', 'reinstated')


def one_of(column, names):
    # Comparisons joined by OR, as the other checks (migration 0020 says why).
    return " OR ".join(f"{column} = '{name}'" for name in names)


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dkim_selector', sa.String(63), nullable=True))
        batch_op.add_column(sa.Column('dkim_private_key', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('dkim_found_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('dns_report', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('paused_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('paused_reason', sa.String(500), nullable=True))
        batch_op.add_column(sa.Column('guard_since', sa.DateTime(), nullable=True))
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_events_type'), type_='check')
        batch_op.create_check_constraint('type', one_of('type', EVENT_TYPES + ('unsubscribed',)))
    op.create_table(
        'signed_messages',
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['email_messages.id'],
                                name=op.f('fk_signed_messages_message_id_email_messages'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('message_id', name=op.f('pk_signed_messages')),
    )
    op.create_table(
        'unsubscribes',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(254), nullable=False),
        sa.Column('credential_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'],
                                name=op.f('fk_unsubscribes_credential_id_credentials'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_unsubscribes_org_id_organizations')),
        sa.PrimaryKeyConstraint('org_id', 'address', name=op.f('pk_unsubscribes')),
    )


def downgrade():
    op.drop_table('unsubscribes')
    op.drop_table('signed_messages')
    op.execute("DELETE FROM email_events WHERE type = 'unsubscribed'")
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_events_type'), type_='check')
        batch_op.create_check_constraint('type', one_of('type', EVENT_TYPES))
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        for column in ('guard_since', 'paused_reason', 'paused_at', 'dns_report',
                       'dkim_found_at', 'dkim_private_key', 'dkim_selector'):
            batch_op.drop_column(column)
