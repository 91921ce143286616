"""photo uploads: resumable upload state, item, school scope, integrity flag

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:00:00
"""
from alembic import op
import sqlalchemy as sa
import inspections.db
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Batch mode: SQLite cannot add a foreign key with ALTER TABLE (it rebuilds the table instead).
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("item_code", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("school_id", sa.Uuid(), nullable=True))
        # Server defaults only fill rows that already exist; the application always sets these.
        batch.add_column(sa.Column("received_bytes", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("chunks", JSON, nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("expires_at", inspections.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("processed_at", inspections.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key(op.f("fk_photos_school_id_schools"), "schools", ["school_id"], ["id"])
        batch.create_index(op.f("ix_photos_school_id"), ["school_id"], unique=False)
        batch.create_index(op.f("ix_photos_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.drop_index(op.f("ix_photos_expires_at"))
        batch.drop_index(op.f("ix_photos_school_id"))
        batch.drop_constraint(op.f("fk_photos_school_id_schools"), type_="foreignkey")
        for column in ("flagged", "processed_at", "expires_at", "chunks", "received_bytes", "school_id", "item_code"):
            batch.drop_column(column)
