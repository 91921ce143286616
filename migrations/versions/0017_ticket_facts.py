"""Tickets keep the facts their words are made from (item name, comparator, unit, source), not just a title

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 08:30:00

`tickets.facts` (JSON, nullable): what the pages need to say, in the reader's language, what failed and
by how much, and in which direction (a shortfall below a minimum or an excess over a maximum). The stored
`title` stays for the API; tickets made before this column read their name and comparator from the
built-in standard by item code.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.add_column(sa.Column('facts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                                      'postgresql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.drop_column('facts')
