"""the dashboard's ticket counts, kept with every ticket change (inspections.tickets.stats)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 04:30:00
"""
from alembic import op
import sqlalchemy as sa
import inspections.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_school_stats',
    sa.Column('school_id', sa.Uuid(), nullable=False),
    sa.Column('open', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_ticket_school_stats_school_id_schools')),
    sa.PrimaryKeyConstraint('school_id', name=op.f('pk_ticket_school_stats'))
    )
    op.create_table('ticket_item_stats',
    sa.Column('jurisdiction_id', sa.Uuid(), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('open', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_ticket_item_stats_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('jurisdiction_id', 'item_code', 'severity', name=op.f('pk_ticket_item_stats'))
    )
    op.create_table('ticket_day_stats',
    sa.Column('jurisdiction_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('opened', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('still_open', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_ticket_day_stats_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('jurisdiction_id', 'day', name=op.f('pk_ticket_day_stats'))
    )
    op.create_table('ticket_close_stats',
    sa.Column('jurisdiction_id', sa.Uuid(), nullable=False),
    sa.Column('tenths', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_ticket_close_stats_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('jurisdiction_id', 'tenths', name=op.f('pk_ticket_close_stats'))
    )
    op.create_table('ticket_school_facet_stats',
    sa.Column('facet', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('school_id', sa.Uuid(), nullable=False),
    sa.Column('open', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_ticket_school_facet_stats_school_id_schools')),
    sa.PrimaryKeyConstraint('facet', 'value', 'school_id', name=op.f('pk_ticket_school_facet_stats'))
    )
    op.create_table('ticket_facet_day_stats',
    sa.Column('facet', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('jurisdiction_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('opened', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('still_open', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_ticket_facet_day_stats_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('facet', 'value', 'jurisdiction_id', 'day', name=op.f('pk_ticket_facet_day_stats'))
    )
    op.create_table('ticket_facet_close_stats',
    sa.Column('facet', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('jurisdiction_id', sa.Uuid(), nullable=False),
    sa.Column('tenths', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_ticket_facet_close_stats_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('facet', 'value', 'jurisdiction_id', 'tenths', name=op.f('pk_ticket_facet_close_stats'))
    )
    op.create_table('ticket_stats_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('rebuilt_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_stats_state'))
    )
    op.create_index('ix_tickets_item_school', 'tickets', ['item_code', 'school_id'], unique=False,
                    postgresql_include=['status', 'due_date', 'opened_at', 'closed_at'])
    # The tickets already there are counted by the last migration that changes these tables (0011),
    # with the code as it stands then (`flask ticket-stats rebuild`).


def downgrade() -> None:
    op.drop_index('ix_tickets_item_school', table_name='tickets')
    op.drop_table('ticket_stats_state')
    op.drop_table('ticket_facet_close_stats')
    op.drop_table('ticket_facet_day_stats')
    op.drop_table('ticket_school_facet_stats')
    op.drop_table('ticket_close_stats')
    op.drop_table('ticket_day_stats')
    op.drop_table('ticket_item_stats')
    op.drop_table('ticket_school_stats')
