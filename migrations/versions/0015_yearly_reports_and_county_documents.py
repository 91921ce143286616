"""Yearly supervision reports, and documents a county attaches to its self-report

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 08:00:00

yearly_reports: the 年度督导报告 of a county or a city, made by a job (content as JSON, the PDF and
the XLSX in blob storage). county_documents: files attached to a county self-report as evidence
(bytes in blob storage), cited from the report's `documents` by id.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import inspections.db

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'county_documents',
        sa.Column('jurisdiction_id', sa.Uuid(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('storage_key', sa.String(length=300), nullable=False),
        sa.Column('uploaded_by_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'],
                                name=op.f('fk_county_documents_jurisdiction_id_jurisdictions')),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_county_documents_uploaded_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_county_documents')),
    )
    op.create_index(op.f('ix_county_documents_jurisdiction_id'), 'county_documents', ['jurisdiction_id'], unique=False)
    op.create_table(
        'yearly_reports',
        sa.Column('jurisdiction_id', sa.Uuid(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('requested_by_id', sa.Uuid(), nullable=True),
        sa.Column('requested_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('generated_at', inspections.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('content', JSON, nullable=True),
        sa.Column('pdf_key', sa.String(length=300), nullable=True),
        sa.Column('xlsx_key', sa.String(length=300), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'],
                                name=op.f('fk_yearly_reports_jurisdiction_id_jurisdictions')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_yearly_reports_requested_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_yearly_reports')),
    )
    op.create_index('ix_yearly_reports_latest', 'yearly_reports', ['jurisdiction_id', 'year', 'requested_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_yearly_reports_latest', table_name='yearly_reports')
    op.drop_table('yearly_reports')
    op.drop_index(op.f('ix_county_documents_jurisdiction_id'), table_name='county_documents')
    op.drop_table('county_documents')
