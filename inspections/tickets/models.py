"""Findings and the rectification tickets (整改单) they roll into, with immutable events."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, text
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
        # A summary narrowed to one indicator reads its tickets from this index alone (PostgreSQL).
        Index("ix_tickets_item_school", "item_code", "school_id",
              postgresql_include=["status", "due_date", "opened_at", "closed_at"]),
    )

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(64))
    section: Mapped[str] = mapped_column(String(16), default="")
    title: Mapped[str] = mapped_column(String(300))
    # active_history: the dashboard's counts (tickets.stats) need a changed field's old value at flush.
    status: Mapped[TicketStatus] = mapped_column(Enum(TicketStatus, native_enum=False, length=24),
                                                 default=TicketStatus.open, active_history=True)
    severity: Mapped[Severity] = mapped_column(Enum(Severity, native_enum=False, length=16), active_history=True)
    measured: Mapped[object | None] = mapped_column(JSONType)
    required: Mapped[object | None] = mapped_column(JSONType)
    shortfall: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 2))
    unit: Mapped[str | None] = mapped_column(String(32))
    # What the pages' words are made from, in any language: {"source", "name": {"zh", "en"}, "comparator",
    # "unit", "note"} (the stored `title` is one language's rendering, kept for the API).
    facts: Mapped[dict | None] = mapped_column(JSONType)
    due_date: Mapped[date | None] = mapped_column(active_history=True)
    inspector_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, active_history=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), active_history=True)

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


# The dashboard's counts, kept in the same transaction as every ticket change (inspections.tickets.stats).
# Each is a sum over tickets; `flask ticket-stats check` compares them with the tickets themselves.

class TicketSchoolStat(Base):
    """A school's tickets by status class; `overdue` counts open tickets due before TicketStatsState.as_of."""

    __tablename__ = "ticket_school_stats"

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    open: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)


class TicketItemStat(Base):
    """Tickets of a jurisdiction's schools by indicator/item, severity and status class."""

    __tablename__ = "ticket_item_stats"

    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    open: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)


class TicketDayStat(Base):
    """Per jurisdiction and UTC day: tickets opened that day, closed that day, opened that day and still
    open (for aging), and of those the overdue ones (due before TicketStatsState.as_of)."""

    __tablename__ = "ticket_day_stats"

    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    still_open: Mapped[int] = mapped_column(Integer, default=0)
    still_overdue: Mapped[int] = mapped_column(Integer, default=0)


class TicketCloseStat(Base):
    """Closed tickets per jurisdiction by time to close in tenths of a day (rounded down)."""

    __tablename__ = "ticket_close_stats"

    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"), primary_key=True)
    tenths: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


# The same counts for the tickets of one facet value: an indicator/item ("item", "R3") or a severity
# ("severity", "high"), for a summary narrowed to it.

class TicketSchoolFacetStat(Base):
    """A school's tickets of one item or one severity."""

    __tablename__ = "ticket_school_facet_stats"

    facet: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    open: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)


class TicketFacetDayStat(Base):
    """TicketDayStat for one item or one severity."""

    __tablename__ = "ticket_facet_day_stats"

    facet: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    still_open: Mapped[int] = mapped_column(Integer, default=0)
    still_overdue: Mapped[int] = mapped_column(Integer, default=0)


class TicketFacetCloseStat(Base):
    """TicketCloseStat for one item or one severity."""

    __tablename__ = "ticket_facet_close_stats"

    facet: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"), primary_key=True)
    tenths: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class TicketStatsState(Base):
    """One row: the day the `overdue` columns are counted against, and when the counts were last rebuilt."""

    __tablename__ = "ticket_stats_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date]
    rebuilt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
