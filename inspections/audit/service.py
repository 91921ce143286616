"""Writing audit records; the caller's transaction commits them with the change."""
from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from inspections.audit.models import AuditRecord


def record(session: Session, *, actor_id: uuid.UUID | None, action: str, entity: str,
           entity_id, data: dict | None = None) -> AuditRecord:
    """Add an audit record for a change in the current transaction."""
    rec = AuditRecord(actor_id=actor_id, action=action, entity=entity, entity_id=str(entity_id), data=data or {})
    session.add(rec)
    return rec
