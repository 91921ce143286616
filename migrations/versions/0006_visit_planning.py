"""visit planning: schedules, their inspectors and occurrences; index for planned-visit states

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 00:20:00
"""
from alembic import op
import sqlalchemy as sa
import inspections.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('visit_schedules',
    sa.Column('school_id', sa.Uuid(), nullable=False),
    sa.Column('recurrence', sa.Enum('once', 'monthly', 'quarterly', 'termly', name='recurrence', native_enum=False, length=16), nullable=False),
    sa.Column('every', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_visit_schedules_end_after_start')),
    sa.CheckConstraint('every >= 1 AND every <= 24', name=op.f('ck_visit_schedules_every_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_visit_schedules_created_by_id_users')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_visit_schedules_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_schedules'))
    )
    op.create_index(op.f('ix_visit_schedules_school_id'), 'visit_schedules', ['school_id'], unique=False)
    op.create_table('visit_schedule_inspectors',
    sa.Column('schedule_id', sa.Uuid(), nullable=False),
    sa.Column('inspector_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['inspector_id'], ['users.id'], name=op.f('fk_visit_schedule_inspectors_inspector_id_users')),
    sa.ForeignKeyConstraint(['schedule_id'], ['visit_schedules.id'], name=op.f('fk_visit_schedule_inspectors_schedule_id_visit_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('schedule_id', 'inspector_id', name=op.f('pk_visit_schedule_inspectors'))
    )
    op.create_index(op.f('ix_visit_schedule_inspectors_inspector_id'), 'visit_schedule_inspectors', ['inspector_id'], unique=False)
    op.create_table('visit_schedule_occurrences',
    sa.Column('schedule_id', sa.Uuid(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('visit_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['visit_schedules.id'], name=op.f('fk_visit_schedule_occurrences_schedule_id_visit_schedules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_visit_schedule_occurrences_visit_id_visits'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('schedule_id', 'due_on', name=op.f('pk_visit_schedule_occurrences')),
    sa.UniqueConstraint('visit_id', name=op.f('uq_visit_schedule_occurrences_visit_id'))
    )
    op.create_index('ix_visits_status_planned_for', 'visits', ['status', 'planned_for'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_visits_status_planned_for', table_name='visits')
    op.drop_table('visit_schedule_occurrences')
    op.drop_index(op.f('ix_visit_schedule_inspectors_inspector_id'), table_name='visit_schedule_inspectors')
    op.drop_table('visit_schedule_inspectors')
    op.drop_index(op.f('ix_visit_schedules_school_id'), table_name='visit_schedules')
    op.drop_table('visit_schedules')
