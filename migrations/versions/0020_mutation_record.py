"""A stored push result names the record its mutation named

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 22:00:00

A mutation id used again by the same device for another record was answered `duplicate` with the first
record's result, and the change was dropped unseen. The idempotency row now keeps the record the
mutation named (`entity_id`), and such a reuse is `rejected`. Rows stored before have none and are
answered as before.
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sync_mutations", sa.Column("entity_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("sync_mutations", "entity_id")
