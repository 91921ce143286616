"""sync_mutations keyed by (device_id, mutation_id), without a surrogate id or a foreign key to users

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 23:00:00

A push writes one idempotency row per mutation: 500 for a full batch. The surrogate id (a
sequence and an index of its own) was never read, and the foreign key to users ran a check per
row for a value that is always the authenticated account (accounts are deactivated, never
deleted). The unique key becomes the primary key.
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_mutations') as batch_op:
        batch_op.drop_constraint('fk_sync_mutations_user_id_users', type_='foreignkey')
        batch_op.drop_constraint('uq_sync_mutations_device_id', type_='unique')
        batch_op.drop_constraint('pk_sync_mutations', type_='primary')
        batch_op.drop_column('id')
        batch_op.create_primary_key('pk_sync_mutations', ['device_id', 'mutation_id'])


def downgrade() -> None:
    with op.batch_alter_table('sync_mutations') as batch_op:
        batch_op.drop_constraint('pk_sync_mutations', type_='primary')
    # A surrogate id again, numbered in arrival order.
    op.add_column('sync_mutations', sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                              nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("CREATE SEQUENCE sync_mutations_id_seq OWNED BY sync_mutations.id")
        op.execute("UPDATE sync_mutations SET id = nextval('sync_mutations_id_seq')")
        op.execute("ALTER TABLE sync_mutations ALTER COLUMN id SET DEFAULT nextval('sync_mutations_id_seq')")
    else:
        op.execute("UPDATE sync_mutations SET id = rowid")
    with op.batch_alter_table('sync_mutations') as batch_op:
        batch_op.alter_column('id', nullable=False)
        batch_op.create_primary_key('pk_sync_mutations', ['id'])
        batch_op.create_unique_constraint('uq_sync_mutations_device_id', ['device_id', 'mutation_id'])
        batch_op.create_foreign_key('fk_sync_mutations_user_id_users', 'users', ['user_id'], ['id'])
