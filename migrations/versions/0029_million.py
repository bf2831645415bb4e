"""Fast at a million: the search's folded text and index, and the import's chunks

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 22:00:00

"""
from alembic import op
import sqlalchemy as sa

from models import search

# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    search_upgrade()
    import_upgrade()


def downgrade():
    import_downgrade()
    search_downgrade()


# ---- search: trigram index on names and addresses ----

def search_upgrade():
    # The folded name and address (models.search), for the credentials and for the rows of
    # an import checked but not issued yet; then the index, built once over the filled rows.
    for table in ('credentials', 'import_rows'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('search_text', sa.Text(), nullable=True))
    connection = op.get_bind()
    credentials = sa.table('credentials', sa.column('id'), sa.column('recipient_name'),
                           sa.column('recipient_email'), sa.column('search_text'))
    rows = sa.table('import_rows', sa.column('id'), sa.column('name'), sa.column('email'),
                    sa.column('token'), sa.column('search_text'))
    _fill_search(connection, credentials, credentials.c.recipient_name,
                 credentials.c.recipient_email)
    _fill_search(connection, rows, rows.c.name, rows.c.email, rows.c.token.is_not(None))
    search.create_index(connection)


def _fill_search(connection, table, name, email, *where):
    """Write search_text on every row, a batch of ids at a time (a million rows fit)."""
    update = sa.update(table).where(table.c.id == sa.bindparam('row_id')).values(
        search_text=sa.bindparam('text'))
    last = 0
    while batch := connection.execute(
            sa.select(table.c.id, name, email).where(table.c.id > last, *where)
            .order_by(table.c.id).limit(10_000)).all():
        connection.execute(update, [{'row_id': row_id, 'text': search.search_text(n, e)}
                                    for row_id, n, e in batch])
        last = batch[-1][0]


def search_downgrade():
    search.drop_index(op.get_bind())
    for table in ('import_rows', 'credentials'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('search_text')


# ---- import: chunked issuing ----

def import_upgrade():
    # An import issues a chunk at a time: its credentials carry its id (hidden while it is
    # issuing), and it notes how far it got and the groups it made.
    op.add_column('credentials', sa.Column('import_id', sa.Integer(), nullable=True))
    op.create_index('ix_credentials_import', 'credentials', ['import_id'],
                    sqlite_where=sa.text('import_id IS NOT NULL'),
                    postgresql_where=sa.text('import_id IS NOT NULL'))
    with op.batch_alter_table('imports') as batch:
        batch.add_column(sa.Column('issued_through', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('new_groups', sa.JSON(), nullable=True))


def import_downgrade():
    with op.batch_alter_table('imports') as batch:
        batch.drop_column('new_groups')
        batch.drop_column('issued_through')
    op.drop_index('ix_credentials_import', 'credentials')
    if op.get_bind().dialect.name == 'sqlite':  # in place (SQLite 3.35), not a table copy
        op.execute('ALTER TABLE credentials DROP COLUMN import_id')
    else:
        op.drop_column('credentials', 'import_id')

