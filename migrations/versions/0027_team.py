"""A team per organization: roles for people and API keys, invitations and password
resets (one-time links, system emails), and the audit log

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 17:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

ROLES = ('viewer', 'issuer', 'owner')
PURPOSES = ('delivery', 'reminder', 'expiry_notice', 'test')
TOKENS = ('invitation', 'password_reset')


def one_of(column, names):
    # Comparisons joined by OR, as the other checks (migration 0020 says why).
    return " OR ".join(f"{column} = '{name}'" for name in names)


def upgrade():
    # Everyone here so far made the organization's credentials and keys: owners.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('password_hash', existing_type=sa.String(256), nullable=True)
        batch_op.add_column(sa.Column('role', sa.String(8), server_default='owner',
                                      nullable=False))
        batch_op.add_column(sa.Column('invited_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('joined_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(), nullable=True))
        batch_op.create_check_constraint('role', one_of('role', ROLES))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(8), server_default='owner',
                                      nullable=False))
        batch_op.create_check_constraint('role', one_of('role', ROLES))
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_messages_purpose'), type_='check')
        batch_op.create_check_constraint('purpose', one_of('purpose', (*PURPOSES, *TOKENS)))
    op.create_table(
        'account_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(14), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('email_message_id', sa.Integer(), nullable=True),
        sa.CheckConstraint(one_of('purpose', TOKENS), name=op.f('ck_account_tokens_purpose')),
        sa.ForeignKeyConstraint(['email_message_id'], ['email_messages.id'],
                                name=op.f('fk_account_tokens_email_message_id_email_messages')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_account_tokens_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_tokens')),
        sa.UniqueConstraint('email_message_id', name=op.f('uq_account_tokens_email_message_id')),
    )
    op.create_index(op.f('ix_account_tokens_user_id'), 'account_tokens', ['user_id'])
    op.create_table(
        'reset_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(254), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reset_requests')),
    )
    op.create_table(
        'audit_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('action', sa.String(40), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('api_key_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(254), nullable=False),
        sa.Column('ip', sa.String(45), nullable=True),
        sa.Column('credential_id', sa.Integer(), nullable=True),
        sa.Column('changes', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'],
                                name=op.f('fk_audit_entries_api_key_id_api_keys')),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_audit_entries_org_id_organizations')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_audit_entries_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries')),
    )
    op.create_index('ix_audit_entries_org_at', 'audit_entries', ['org_id', 'at'])
    op.create_index(op.f('ix_audit_entries_credential_id'), 'audit_entries',
                    ['credential_id'])


def downgrade():
    op.drop_table('audit_entries')
    op.drop_table('reset_requests')
    op.drop_table('account_tokens')
    op.execute("DELETE FROM email_messages WHERE purpose IN ('invitation', 'password_reset')")
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_messages_purpose'), type_='check')
        batch_op.create_check_constraint('purpose', one_of('purpose', PURPOSES))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_api_keys_role'), type_='check')
        batch_op.drop_column('role')
    op.execute("DELETE FROM users WHERE password_hash IS NULL")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
        batch_op.drop_column('removed_at')
        batch_op.drop_column('joined_at')
        batch_op.drop_column('invited_at')
        batch_op.drop_column('role')
        batch_op.alter_column('password_hash', existing_type=sa.String(256), nullable=False)
