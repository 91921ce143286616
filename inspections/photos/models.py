"""Photo evidence metadata; the bytes live in blob storage under their content hash.

A row is created when the device declares an upload, so a visit knows which photos it still expects.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from inspections.db import Base, ExactDecimal, IdMixin, JSONType, UTCDateTime, utcnow


class Photo(IdMixin, Base):
    __tablename__ = "photos"

    visit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visits.id"), index=True)
    response_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("responses.id"), index=True)
    finding_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("findings.id"), index=True)
    ticket_event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ticket_events.id"), index=True)
    # Evidence a school sends for its ticket before the step that uses it (the event sets ticket_event_id).
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(60))
    blob_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="uploading")  # PhotoStatus
    status_reason: Mapped[str | None] = mapped_column(String(300))
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    latitude: Mapped[Decimal | None] = mapped_column(ExactDecimal(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(ExactDecimal(9, 6))
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    evidence: Mapped[dict] = mapped_column(JSONType, default=dict)
    # What it belongs to beyond the ids above: the checklist item (for completeness) and the school (scope).
    item_code: Mapped[str | None] = mapped_column(String(64))
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("schools.id"), index=True)
    # Resumable upload state: bytes received so far and the stored chunks ([offset, length, blob key]).
    received_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    chunks: Mapped[list] = mapped_column(JSONType, default=list)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Integrity warnings (time or place far from the visit); reasons are in evidence["flags"].
    flagged: Mapped[bool] = mapped_column(default=False)
