"""Writing audit records; the caller's transaction commits them with the change."""
from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from inspections.audit.models import AuditRecord
from inspections.db import utcnow

BATCH = "audit.batch"  # session.info key: the rows of a batch of changes in progress (start_batch)


def record(session: Session, *, actor_id: uuid.UUID | None, action: str, entity: str,
           entity_id, data: dict | None = None) -> None:
    """Add an audit record for a change in the current transaction."""
    rows = session.info.get(BATCH)
    if rows is not None:
        rows.append(dict(id=uuid.uuid4(), at=utcnow(), actor_id=actor_id, action=action, entity=entity,
                         entity_id=str(entity_id), data=data or {}))
        return
    session.add(AuditRecord(actor_id=actor_id, action=action, entity=entity, entity_id=str(entity_id),
                            data=data or {}))


def start_batch(session: Session) -> None:
    """From now on keep this session's audit records as rows, for the caller to write together with one
    multi-row INSERT (`take_batch`) instead of one ORM object each (a push of 500 changes)."""
    session.info[BATCH] = []


def take_batch(session: Session) -> list[dict]:
    """The rows kept since start_batch (the caller writes them, or drops them with its rolled-back
    changes); records are added one by one again."""
    return session.info.pop(BATCH, None) or []


def pending(session: Session) -> list[dict]:
    """Rows recorded in the batch in progress and not yet written."""
    return session.info.get(BATCH) or []
