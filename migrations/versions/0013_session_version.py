"""users.session_version: signed-in web sessions end on logout, password change and deactivation

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-30 04:30:00

A web session is a signed cookie: nothing on the server forgot it when the user logged out. The
cookie now carries the user's session_version, checked on every request; raising it ends every
session of that user at once.
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('session_version')
