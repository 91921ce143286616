"""Open conflicts are found by visit: a visit is submitted only with none open

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 18:50:00

Every submission counts the open conflicts on the visit and its answers (`visits.transition`); without an
index on the visit that count read the whole table.
"""
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sync_conflicts_visit_status", "sync_conflicts", ["visit_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_sync_conflicts_visit_status", table_name="sync_conflicts")
