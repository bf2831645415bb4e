"""Credentials that can be corrected, revoked and expire, and verified anywhere: revocation
and expiry on credentials, each one's place in its organization's status lists, the
achievement on groups, signing keys, public ids of organizations, an email's purpose (the
reminder flag becomes one), cancelled emails, and the new event types

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 12:00:00

"""
import secrets

from alembic import op
import sqlalchemy as sa

import models.types

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

EVENT_TYPES = ('queued', 'sent', 'deferred', 'bounced', 'delivered', 'complained', 'opened',
               'auto_opened', 'viewed', 'downloaded', 'linkedin_clicked', 'share_viewed',
               'address_changed', 'resent')
NEW_EVENT_TYPES = ('name_changed', 'revoked', 'reinstated')
MESSAGE_STATES = ('queued', 'sending', 'retry', 'sent', 'bounced')
PURPOSES = ('delivery', 'reminder', 'expiry_notice')


def one_of(column, names):
    """As models.states.one_of: comparisons joined by OR."""
    return " OR ".join(f"{column} = {name!r}" for name in names)


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('status_next', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('status_version', sa.Integer(), server_default='0',
                                      nullable=False))
    connection = op.get_bind()
    for org_id in connection.execute(sa.text('SELECT id FROM organizations')).scalars():
        connection.execute(sa.text('UPDATE organizations SET public_id = :public_id, '
                                   'status_next = (SELECT count(*) FROM credentials '
                                   'WHERE org_id = :id) WHERE id = :id'),
                           {"public_id": secrets.token_urlsafe(16), "id": org_id})
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_organizations_public_id'),
                                          ['public_id'])

    with op.batch_alter_table('credential_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('criteria', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('validity_months', sa.Integer(), nullable=True))

    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('revocation_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('expires_at', models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('status_index', sa.Integer(), nullable=True))
    # Credentials issued before take their organization's first places, oldest first.
    connection.execute(sa.text(
        'UPDATE credentials SET status_index = (SELECT count(*) FROM credentials AS earlier '
        'WHERE earlier.org_id = credentials.org_id AND earlier.id < credentials.id)'))
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_credentials_org_id'),
                                          ['org_id', 'status_index'])
    op.create_index('ix_credentials_org_revoked', 'credentials', ['org_id', 'id'],
                    sqlite_where=sa.text('revoked_at IS NOT NULL'),
                    postgresql_where=sa.text('revoked_at IS NOT NULL'))

    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=14), server_default='delivery',
                                      nullable=False))
    connection.execute(sa.text("UPDATE email_messages SET purpose = 'reminder' "
                               "WHERE is_reminder"))
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_column('is_reminder')
        batch_op.drop_constraint(batch_op.f('ck_email_messages_state'), type_='check')
        batch_op.create_check_constraint('state', one_of('state', (*MESSAGE_STATES,
                                                                   'cancelled')))
        batch_op.create_check_constraint('purpose', one_of('purpose', PURPOSES))

    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_events_type'), type_='check')
        batch_op.create_check_constraint('type', one_of('type', EVENT_TYPES + NEW_EVENT_TYPES))

    op.create_table(
        'signing_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('algorithm', sa.String(length=10), nullable=False),
        sa.Column('private_key', sa.Text(), nullable=False),
        sa.Column('public_jwk', sa.JSON(), nullable=False),
        sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_signing_keys_org_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_keys')),
        sa.UniqueConstraint('org_id', 'number', name=op.f('uq_signing_keys_org_id')))
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_keys_org_id'), ['org_id'], unique=False)


def downgrade():
    op.drop_table('signing_keys')
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_events_type'), type_='check')
        batch_op.create_check_constraint('type', one_of('type', EVENT_TYPES))
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_reminder', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    op.get_bind().execute(sa.text("UPDATE email_messages SET is_reminder = "
                                  "(purpose = 'reminder')"))
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_messages_purpose'), type_='check')
        batch_op.drop_column('purpose')
        batch_op.drop_constraint(batch_op.f('ck_email_messages_state'), type_='check')
        batch_op.create_check_constraint('state', one_of('state', MESSAGE_STATES))
    op.drop_index('ix_credentials_org_revoked', table_name='credentials')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_credentials_org_id'), type_='unique')
        batch_op.drop_column('status_index')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('revocation_reason')
        batch_op.drop_column('revoked_at')
    with op.batch_alter_table('credential_groups', schema=None) as batch_op:
        batch_op.drop_column('validity_months')
        batch_op.drop_column('criteria')
        batch_op.drop_column('description')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_organizations_public_id'), type_='unique')
        batch_op.drop_column('status_version')
        batch_op.drop_column('status_next')
        batch_op.drop_column('public_id')
