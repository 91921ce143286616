"""photos may be evidence for a ticket before the step that uses them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 00:25:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ticket_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_photos_ticket_id'), ['ticket_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_photos_ticket_id_tickets'), 'tickets', ['ticket_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_photos_ticket_id_tickets'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_photos_ticket_id'))
        batch_op.drop_column('ticket_id')
