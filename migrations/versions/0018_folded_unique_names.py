"""Usernames and school codes are unique in any case, in the database too

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 17:40:00

The services refuse `OFFICE` beside `office` and `mdx-j01` beside `MDX-J01` (`accounts.username_taken`,
`org._code_used`), but two requests creating them at the same moment both passed that check: the plain
unique constraints compare case-sensitively. A unique index on `lower(...)` makes the second one fail
(409 in the API, nothing written). A database that already holds such a pair stops the upgrade with the
names to rename first.
"""
from alembic import op
import sqlalchemy as sa

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

INDEXES = (("uq_users_username_folded", "users", "username"), ("uq_schools_code_folded", "schools", "code"))


def upgrade() -> None:
    conn = op.get_bind()
    for _, table, column in INDEXES:
        clashes = conn.execute(sa.text(
            f"SELECT lower({column}) AS folded, count(*) AS n FROM {table} GROUP BY lower({column}) HAVING count(*) > 1"
        )).all()
        if clashes:
            names = ", ".join(row.folded for row in clashes[:20])
            raise RuntimeError(f"{table}.{column} holds values that differ only in case ({names}); "
                               f"rename all but one of each before upgrading")
    for name, table, column in INDEXES:
        op.create_index(name, table, [sa.text(f"lower({column})")], unique=True)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
