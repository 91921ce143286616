"""Visit schedules (recurring plans per school) and the visits generated from them."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inspections.db import Base, IdMixin, TimestampMixin, UTCDateTime, VersionedMixin, utcnow
from inspections.org.models import School
from inspections.planning.enums import Recurrence
from inspections.visits.models import Visit


class ScheduleInspector(Base):
    """An inspector (usually the school's responsibility inspector) put on every generated visit."""

    __tablename__ = "visit_schedule_inspectors"

    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_schedules.id", ondelete="CASCADE"),
                                                   primary_key=True)
    inspector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class VisitSchedule(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A recurring (or one-off) plan to visit a school, e.g. monthly by its responsibility inspector."""

    __tablename__ = "visit_schedules"
    __table_args__ = (
        CheckConstraint("every >= 1 AND every <= 24", name="every_range"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="end_after_start"),
    )

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id"), index=True)
    recurrence: Mapped[Recurrence] = mapped_column(Enum(Recurrence, native_enum=False, length=16))
    every: Mapped[int] = mapped_column(default=1)  # every N months/quarters/terms
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    notes: Mapped[str | None] = mapped_column(Text)

    school: Mapped[School] = relationship()
    inspector_links: Mapped[list[ScheduleInspector]] = relationship(cascade="all, delete-orphan")

    @property
    def inspector_ids(self) -> list[uuid.UUID]:
        return [link.inspector_id for link in self.inspector_links]


class ScheduleOccurrence(Base):
    """One date of a schedule and the visit made for it: the key makes generation idempotent."""

    __tablename__ = "visit_schedule_occurrences"

    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_schedules.id", ondelete="CASCADE"),
                                                   primary_key=True)
    due_on: Mapped[date] = mapped_column(primary_key=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The upcoming/late/missed views filter visits on status and planned date.
Index("ix_visits_status_planned_for", Visit.status, Visit.planned_for)
