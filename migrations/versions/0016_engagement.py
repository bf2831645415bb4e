"""Engagement after the email: the public verification id, and when the recipient viewed,
downloaded or added the credential to LinkedIn, and how often the public page was seen

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 06:00:00

"""
import secrets

from alembic import op
import sqlalchemy as sa

import models.types


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('viewed_at', models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('downloaded_at', models.types.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('linkedin_clicked_at', models.types.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('share_views', sa.Integer(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('import_rows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
    credentials = sa.table('credentials', sa.column('id', sa.Integer),
                           sa.column('public_id', sa.String),
                           sa.column('viewed_at', models.types.UTCDateTime()))
    import_rows = sa.table('import_rows', sa.column('id', sa.Integer),
                           sa.column('token', sa.String), sa.column('public_id', sa.String))
    connection = op.get_bind()
    _give_public_ids(connection, credentials, sa.true())
    _give_public_ids(connection, import_rows, import_rows.c.token.is_not(None))  # staged, good
    # Views recorded before this revision (the link in the email) keep their first time.
    events = sa.table('email_events', sa.column('credential_id', sa.Integer),
                      sa.column('type', sa.String), sa.column('at', models.types.UTCDateTime()))
    first_view = (sa.select(sa.func.min(events.c.at))
                  .where(events.c.credential_id == credentials.c.id, events.c.type == 'viewed')
                  .scalar_subquery())
    connection.execute(credentials.update().values(viewed_at=first_view))
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint('uq_credentials_public_id', ['public_id'])


def _give_public_ids(connection, table, which):
    """A fresh public id for each row of the table that the condition selects."""
    ids = connection.execute(sa.select(table.c.id).where(which)).scalars().all()
    if ids:
        connection.execute(
            table.update().where(table.c.id == sa.bindparam('row_id'))
            .values(public_id=sa.bindparam('new_id')),
            [{'row_id': row_id, 'new_id': secrets.token_urlsafe(16)} for row_id in ids])


def downgrade():
    with op.batch_alter_table('import_rows', schema=None) as batch_op:
        batch_op.drop_column('public_id')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_constraint('uq_credentials_public_id', type_='unique')
        batch_op.drop_column('share_views')
        batch_op.drop_column('linkedin_clicked_at')
        batch_op.drop_column('downloaded_at')
        batch_op.drop_column('viewed_at')
        batch_op.drop_column('public_id')
