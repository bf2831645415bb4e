"""Analytics counts kept as they happen: when each credential was first sent and opened,
each group's count per stage, and opens and views per day

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 08:00:00

"""
from alembic import op
import sqlalchemy as sa

import models.types


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_sent_at', models.types.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('first_opened_at', models.types.UTCDateTime(),
                                      nullable=True))
    op.create_table('funnel_counts',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=12), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['credential_groups.id'], name=op.f('fk_funnel_counts_group_id_credential_groups')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_funnel_counts_org_id_organizations')),
    sa.PrimaryKeyConstraint('org_id', 'group_id', 'stage', name=op.f('pk_funnel_counts'))
    )
    op.create_table('daily_counts',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['credential_groups.id'], name=op.f('fk_daily_counts_group_id_credential_groups')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_daily_counts_org_id_organizations')),
    sa.PrimaryKeyConstraint('org_id', 'day', 'group_id', 'kind', name=op.f('pk_daily_counts'))
    )
    # Count what happened before this revision, with the repair's derivation (the tables
    # it touches are the ones created or altered up to here).
    from timeline.recount import recount_funnel
    connection = op.get_bind()
    for org_id in connection.execute(sa.text('SELECT id FROM organizations')).scalars():
        recount_funnel(connection, org_id)


def downgrade():
    op.drop_table('daily_counts')
    op.drop_table('funnel_counts')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_column('first_opened_at')
        batch_op.drop_column('first_sent_at')
