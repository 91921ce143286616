"""Append-only audit trail of changes made through the system."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from inspections.db import Base, IdMixin, JSONType, UTCDateTime, utcnow


class AuditRecord(IdMixin, Base):
    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_records_entity", "entity", "entity_id"),)

    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
