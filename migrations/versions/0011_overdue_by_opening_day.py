"""Dashboard counts: open tickets overdue by opening day, so a summary of the overdue tickets reads them

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 23:30:00

`still_overdue` on the per-day count tables: of the tickets opened that day and still open, those
due before `as_of`. The counts are then rebuilt from the tickets. This is the last migration that
changes the count tables, so it is the one that counts the tickets already there (0008 used to):
the rebuild is the application's own code, which writes the tables as they stand now. A later
migration that changes them must take the rebuild over.
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
    from inspections.tickets.stats import rebuild
    rebuild(op.get_bind())


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('still_overdue')
