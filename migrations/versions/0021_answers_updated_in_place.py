"""Answers and visits updated in place: room on their pages, no index that another one covers

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 23:30:00

An answer is created once and then changed (its value, note, flag, version), none of them indexed. On
full pages each change wrote the row's new version to another page and an entry into each of the
table's indexes; with pages filled to half the new version stays on the page (a HOT update) and no
index is written. A device edits a visit's answers together, so every row of a page may change at
once: measured on pushes of 500 updates, 276 of 9,500 answer updates were HOT on full pages, 4,062 of
14,250 at 80%, all of them at 50% (the database's CPU per push 31 -> 21 ms). The price is room: the
table takes about twice the space (a province's 10M answers, ~2.5 GB -> ~5 GB: docs/deployment.md).
Applies to pages written from now on; existing pages follow after a `VACUUM FULL` in a quiet hour.

ix_responses_visit_id and ix_visits_school_id are dropped: uq_responses_visit_id (visit_id, item_code,
section) and ix_visits_school_status (school_id, status) serve the same lookups, and every insert wrote
both. PostgreSQL only (SQLite has no fill factor; its indexes are dropped the same way).
"""
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_responses_visit_id", table_name="responses")
    op.drop_index("ix_visits_school_id", table_name="visits")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE responses SET (fillfactor = 50)")
        op.execute("ALTER TABLE visits SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE visits RESET (fillfactor)")
        op.execute("ALTER TABLE responses RESET (fillfactor)")
    op.create_index("ix_visits_school_id", "visits", ["school_id"])
    op.create_index("ix_responses_visit_id", "responses", ["visit_id"])
