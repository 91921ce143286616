"""offline sync: change log, commit clock, revisions, mutations, conflicts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 21:01:39.856231
"""
from alembic import op
import sqlalchemy as sa
import inspections.db
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('sync_changes',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('txn_id', sa.Uuid(), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('op', sa.String(length=8), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Uuid(), nullable=True),
    sa.Column('visit_id', sa.Uuid(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('changed_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_sync_changes'))
    )
    op.create_index(op.f('ix_sync_changes_entity_id'), 'sync_changes', ['entity_id'], unique=False)
    op.create_index('ix_sync_changes_txn_seq', 'sync_changes', ['txn_id', 'seq'], unique=False)
    op.create_table('sync_commits',
    sa.Column('txn_id', sa.Uuid(), nullable=False),
    sa.Column('commit_seq', sa.BigInteger(), nullable=False),
    sa.Column('committed_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('txn_id', name=op.f('pk_sync_commits')),
    sa.UniqueConstraint('commit_seq', name=op.f('uq_sync_commits_commit_seq'))
    )
    op.create_table('sync_revisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_revisions')),
    sa.UniqueConstraint('entity', 'entity_id', 'version', name=op.f('uq_sync_revisions_entity'))
    )
    op.create_table('sync_conflicts',
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Uuid(), nullable=False),
    sa.Column('visit_id', sa.Uuid(), nullable=True),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('server_version', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('mutation_id', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_by_id', sa.Uuid(), nullable=True),
    sa.Column('resolved_at', inspections.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_sync_conflicts_created_by_id_users')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_sync_conflicts_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_sync_conflicts_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_conflicts'))
    )
    op.create_index(op.f('ix_sync_conflicts_entity_id'), 'sync_conflicts', ['entity_id'], unique=False)
    op.create_index('ix_sync_conflicts_school_status', 'sync_conflicts', ['school_id', 'status'], unique=False)
    op.create_table('sync_mutations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('mutation_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('received_at', inspections.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sync_mutations_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_mutations')),
    sa.UniqueConstraint('device_id', 'mutation_id', name=op.f('uq_sync_mutations_device_id'))
    )



def downgrade() -> None:

    op.drop_table('sync_mutations')
    op.drop_index('ix_sync_conflicts_school_status', table_name='sync_conflicts')
    op.drop_index(op.f('ix_sync_conflicts_entity_id'), table_name='sync_conflicts')
    op.drop_table('sync_conflicts')
    op.drop_table('sync_revisions')
    op.drop_table('sync_commits')
    op.drop_index('ix_sync_changes_txn_seq', table_name='sync_changes')
    op.drop_index(op.f('ix_sync_changes_entity_id'), table_name='sync_changes')
    op.drop_table('sync_changes')

