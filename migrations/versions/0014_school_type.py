"""School type in the register: ordinary, teaching point or special-education school

Revision ID: 0014
Revises: 0011
Create Date: 2026-11-30 04:30:00

Special-education schools and teaching points under 50 pupils are left out of R1-R7 and the
county's 差异系数 (教督〔2017〕6号; seed 000: 特殊教育学校及不足50人的教学点根据实际配备), so the
register says which a school is. Existing schools are ordinary.
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('schools') as batch_op:
        batch_op.add_column(sa.Column(
            'school_type', sa.Enum('ordinary', 'teaching_point', 'special_education', name='schooltype',
                                   native_enum=False, length=24),
            server_default='ordinary', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('schools') as batch_op:
        batch_op.drop_column('school_type')
