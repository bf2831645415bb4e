"""Named states: the database checks the event types, bounce kinds and suppression reasons
as it already checked message states (models.states); outbound webhook messages record who
holds their lease

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
CHECKS = {  # table: (constraint name, column, names)
    'email_events': ('type', 'type', EVENT_TYPES),
    'email_messages': ('bounce_kind', 'bounce_kind', ('hard', 'soft')),
    'suppressions': ('reason', 'reason', ('bounced', 'complained')),
}


def upgrade():
    for table, (name, column, names) in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(
                name, f"{column} IN ({', '.join(repr(value) for value in names)})")
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.drop_column('lease_owner')
    for table, (name, _, _) in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_{name}'), type_='check')
