"""Dashboard counts: open tickets overdue by opening day, so a summary of the overdue tickets reads them

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 23:30:00

`still_overdue` on the per-day count tables: of the tickets opened that day and still open, those
due before `as_of`. The tickets already there are counted by 0016, which took the rebuild over
(the rebuild is the application's own code, which writes the tables as they stand now).
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TABLES = ('ticket_day_stats', 'ticket_facet_day_stats')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('still_overdue', sa.Integer(), server_default='0', nullable=False))
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column('still_overdue', server_default=None)
    # The counts are rebuilt by 0016 (days in the business zone), the last migration to change them.


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('still_overdue')
