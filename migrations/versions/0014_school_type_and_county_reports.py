"""School type in the register, and the county self-report for the items no visit checks

Revision ID: 0014
Revises: 0011
Create Date: 2026-11-30 04:30:00

Special-education schools and teaching points under 50 pupils are left out of R1-R7 and the
county's 差异系数 (教督〔2017〕6号; seed 000: 特殊教育学校及不足50人的教学点根据实际配备), so the
register says which a school is. Existing schools are ordinary.

county_self_reports: once a year a county reports the figures for the government-guarantee and
education-quality items (B1, B2, B6-B15; C1, C2, C9), the survey by respondent group, the veto items
and where its evidence is kept.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import inspections.db

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('schools') as batch_op:
        batch_op.add_column(sa.Column(
            'school_type', sa.Enum('ordinary', 'teaching_point', 'special_education', name='schooltype',
                                   native_enum=False, length=24),
            server_default='ordinary', nullable=False))
    op.create_table(
        'county_self_reports',
        sa.Column('jurisdiction_id', sa.Uuid(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('facts', JSON, nullable=False),
        sa.Column('survey', JSON, nullable=False),
        sa.Column('vetoes', JSON, nullable=False),
        sa.Column('documents', JSON, nullable=False),
        sa.Column('reported_by_id', sa.Uuid(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'],
                                name=op.f('fk_county_self_reports_jurisdiction_id_jurisdictions')),
        sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_county_self_reports_reported_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_county_self_reports')),
        sa.UniqueConstraint('jurisdiction_id', 'year', name=op.f('uq_county_self_reports_jurisdiction_id')),
    )
    op.create_index(op.f('ix_county_self_reports_jurisdiction_id'), 'county_self_reports', ['jurisdiction_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_county_self_reports_jurisdiction_id'), table_name='county_self_reports')
    op.drop_table('county_self_reports')
    with op.batch_alter_table('schools') as batch_op:
        batch_op.drop_column('school_type')
