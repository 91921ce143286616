"""Findings and the rectification tickets (整改单) they roll into, with immutable events."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inspections.db import Base, ExactDecimal, IdMixin, JSONType, TimestampMixin, UTCDateTime, VersionedMixin, utcnow
from inspections.tickets.enums import FindingSource, Severity, TicketStatus


class Ticket(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # At most one open ticket per school and item (and section): new findings attach to it.
        Index(
            "uq_tickets_open_per_item", "school_id", "item_code", "section", unique=True,
            postgresql_where=text("status NOT IN ('closed', 'cancelled')"),
            sqlite_where=text("status NOT IN ('closed', 'cancelled')"),
        ),
        Index("ix_tickets_status_due", "status", "due_date"),
        # The dashboard's drill-down lists walk tickets in (opened_at, id) keyset order.
        Index("ix_tickets_opened_id", "opened_at", "id"),
    )

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(64))
    section: Mapped[str] = mapped_column(String(16), default="")
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[TicketStatus] = mapped_column(Enum(TicketStatus, native_enum=False, length=24), default=TicketStatus.open)
    severity: Mapped[Severity] = mapped_column(Enum(Severity, native_enum=False, length=16))
    measured: Mapped[object | None] = mapped_column(JSONType)
    required: Mapped[object | None] = mapped_column(JSONType)
    shortfall: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 2))
    unit: Mapped[str | None] = mapped_column(String(32))
    due_date: Mapped[date | None]
    inspector_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    events: Mapped[list[TicketEvent]] = relationship(order_by="TicketEvent.at")


class Finding(IdMixin, Base):
    __tablename__ = "findings"

    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), index=True)
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(64))
    section: Mapped[str] = mapped_column(String(16), default="")
    source: Mapped[FindingSource] = mapped_column(Enum(FindingSource, native_enum=False, length=16))
    measured: Mapped[object | None] = mapped_column(JSONType)
    required: Mapped[object | None] = mapped_column(JSONType)
    shortfall: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 2))
    unit: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[Severity] = mapped_column(Enum(Severity, native_enum=False, length=16))
    note: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketEvent(IdMixin, Base):
    """An immutable transition or remark on a ticket."""

    __tablename__ = "ticket_events"

    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id"), index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
