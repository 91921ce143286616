"""dashboard drill-down: tickets in (opened_at, id) order

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 01:30:00
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_tickets_opened_id', 'tickets', ['opened_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tickets_opened_id', table_name='tickets')
