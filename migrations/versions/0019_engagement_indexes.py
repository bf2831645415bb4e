"""A partial index per engagement filter of the Credentials page, so a rare one (added to
LinkedIn, shared) finds its page without reading every credential

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 10:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

# As models.funnel_count.REACHED says which credentials did each thing.
FILTERS = {'viewed': 'viewed_at IS NOT NULL', 'downloaded': 'downloaded_at IS NOT NULL',
           'linkedin': 'linkedin_clicked_at IS NOT NULL', 'shared': 'share_views > 0'}


def upgrade():
    for name, where in FILTERS.items():
        op.create_index(f'ix_credentials_org_{name}', 'credentials', ['org_id', 'id'],
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade():
    for name in FILTERS:
        op.drop_index(f'ix_credentials_org_{name}', table_name='credentials')
