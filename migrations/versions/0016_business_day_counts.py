"""Dashboard counts by business day: opening and closing days in BUSINESS_TIMEZONE (default Asia/Shanghai)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 08:20:00

The per-day count tables used the UTC day; a ticket opened at 06:05 Beijing time on 24 January was
counted on 23 January. The tables keep their shape; the counts are rebuilt from the tickets with the
days of the business zone. This is the last migration that changes the count tables, so it is the one
that counts the tickets already there (0011 used to): a later migration that changes them must take
the rebuild over.
"""
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from inspections.tickets.stats import rebuild
    rebuild(op.get_bind())


def downgrade() -> None:
    # The UTC-day counts come back with a rebuild by the older code (`flask ticket-stats rebuild`).
    pass
