"""Named states: the database checks the event types, bounce kinds and suppression reasons
as it already checked message states (models.states), each as comparisons joined by OR;
outbound webhook messages record who holds their lease; an email's events are indexed by
type too

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

# The names as this revision knows them (a later revision that adds one changes its check).
EVENT_TYPES = ('queued', 'sent', 'deferred', 'bounced', 'delivered', 'complained', 'opened',
               'auto_opened', 'viewed', 'downloaded', 'linkedin_clicked', 'share_viewed',
               'address_changed', 'resent')
MESSAGE_STATES = ('queued', 'sending', 'retry', 'sent', 'bounced')
CHECKS = {  # table: {column (and constraint name): names}
    'email_events': {'type': EVENT_TYPES},
    'email_messages': {'state': MESSAGE_STATES, 'bounce_kind': ('hard', 'soft')},
    'suppressions': {'reason': ('bounced', 'complained')},
}
CHECKED_BEFORE = {('email_messages', 'state')}  # as an IN list, since 0001


def one_of(column, names):
    """As models.states.one_of: comparisons joined by OR (SQLite checked an IN list on every
    row at twice the cost of an event's insert)."""
    return " OR ".join(f"{column} = {name!r}" for name in names)


def upgrade():
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, names in checks.items():
                if (table, column) in CHECKED_BEFORE:
                    batch_op.drop_constraint(batch_op.f(f'ck_{table}_{column}'), type_='check')
                batch_op.create_check_constraint(column, one_of(column, names))
            if table == 'email_events':  # the timeline's caps count an email's events by type
                batch_op.drop_index('ix_email_events_email_message_id')
                batch_op.create_index('ix_email_events_message_type',
                                      ['email_message_id', 'type'])
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.drop_column('lease_owner')
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == 'email_events':
                batch_op.drop_index('ix_email_events_message_type')
                batch_op.create_index('ix_email_events_email_message_id', ['email_message_id'])
            for column, names in checks.items():
                batch_op.drop_constraint(batch_op.f(f'ck_{table}_{column}'), type_='check')
                if (table, column) in CHECKED_BEFORE:
                    batch_op.create_check_constraint(
                        column, f"{column} IN ({', '.join(repr(name) for name in names)})")
