"""A reused photo's flag keeps how many other visits hold the file, not which

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 02:30:00

The flag {"code": "reused", "visit_ids": [...]} named the other visits holding the same bytes, and every
reader of the photo saw it (its inspector, a device's pull), also when those visits were outside their
scope (another county's, or unannounced). Flags stored that way, on photos and in the change log rows
and revisions that carry photos to devices, become {"code": "reused", "visits": n}.
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def _counted(evidence):
    """The evidence with its reused flags counted, or None if it has none naming visits."""
    if isinstance(evidence, str):
        evidence = json.loads(evidence)
    flags = (evidence or {}).get("flags") if isinstance(evidence, dict) else None
    if not isinstance(flags, list) or not any(isinstance(f, dict) and "visit_ids" in f for f in flags):
        return None
    return {**evidence, "flags": [{"code": f.get("code"), "visits": len(f.get("visit_ids") or [])}
                                  if isinstance(f, dict) and "visit_ids" in f else f for f in flags]}


def upgrade() -> None:
    bind = op.get_bind()
    photos = sa.table("photos", sa.column("id"), sa.column("evidence", sa.JSON))
    for pid, evidence in bind.execute(sa.select(photos.c.id, photos.c.evidence)
                                      .where(sa.cast(photos.c.evidence, sa.Text).like('%"visit_ids"%'))).all():
        fixed = _counted(evidence)
        if fixed is not None:
            bind.execute(photos.update().where(photos.c.id == pid).values(evidence=fixed))
    for name, key in (("sync_changes", "seq"), ("sync_revisions", "id")):
        t = sa.table(name, sa.column(key), sa.column("entity"), sa.column("data", sa.JSON))
        for k, data in bind.execute(sa.select(t.c[key], t.c.data).where(
                t.c.entity == "photo", sa.cast(t.c.data, sa.Text).like('%"visit_ids"%'))).all():
            if isinstance(data, str):
                data = json.loads(data)
            fixed = _counted((data or {}).get("evidence")) if isinstance(data, dict) else None
            if fixed is not None:
                bind.execute(t.update().where(t.c[key] == k).values(data={**data, "evidence": fixed}))


def downgrade() -> None:
    pass  # which visits held the file is not kept; `reused_on` finds them again for a photo processed anew
