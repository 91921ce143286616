"""Site visits, the inspectors on them, and their checklist responses."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inspections.db import Base, IdMixin, JSONType, TimestampMixin, UTCDateTime, VersionedMixin
from inspections.org.models import School
from inspections.templates.models import TemplateVersion
from inspections.visits.enums import VisitStatus


class VisitInspector(Base):
    __tablename__ = "visit_inspectors"

    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True)
    inspector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class Visit(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "visits"
    # A school's visits are found by ix_visits_school_status (school_id first). Pages filled to half on
    # PostgreSQL leave room for a row's new version beside it (a HOT update: no index is written).
    __table_args__ = (Index("ix_visits_school_status", "school_id", "status"), {"postgresql_with": {"fillfactor": 50}})

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id"))
    template_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("template_versions.id"))
    status: Mapped[VisitStatus] = mapped_column(Enum(VisitStatus, native_enum=False, length=16), default=VisitStatus.planned)
    planned_for: Mapped[date | None]
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    notes: Mapped[str | None] = mapped_column(Text)

    school: Mapped[School] = relationship()
    template_version: Mapped[TemplateVersion] = relationship()
    inspector_links: Mapped[list[VisitInspector]] = relationship(cascade="all, delete-orphan")
    responses: Mapped[list[Response]] = relationship(back_populates="visit", cascade="all, delete-orphan")

    @property
    def inspector_ids(self) -> list[uuid.UUID]:
        return [link.inspector_id for link in self.inspector_links]


class Response(IdMixin, TimestampMixin, VersionedMixin, Base):
    """One answer: a visit x checklist item (x school section, for combined schools)."""

    __tablename__ = "responses"
    # A visit's answers are found by the unique key (visit_id first). Answers are written once by a create
    # and then changed in place: pages filled to half on PostgreSQL keep the new version of a changed
    # answer on its page (a HOT update), so no index entry is written again.
    __table_args__ = (UniqueConstraint("visit_id", "item_code", "section"), {"postgresql_with": {"fillfactor": 50}})

    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"))
    item_code: Mapped[str] = mapped_column(String(64))
    # "" for the whole school; "primary"/"junior" for a section of a nine/twelve-year school.
    section: Mapped[str] = mapped_column(String(16), default="")
    value: Mapped[object | None] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(Text)
    flagged: Mapped[bool] = mapped_column(default=False)
    answered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    visit: Mapped[Visit] = relationship(back_populates="responses")
