"""Checklist templates and their versions; a published version is immutable."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inspections.db import Base, IdMixin, JSONType, TimestampMixin, UTCDateTime
from inspections.templates.enums import VersionStatus


class ChecklistTemplate(IdMixin, TimestampMixin, Base):
    __tablename__ = "checklist_templates"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # None for the national template; otherwise the city or county that owns the overlay.
    jurisdiction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checklist_templates.id"))

    versions: Mapped[list[TemplateVersion]] = relationship(back_populates="template", order_by="TemplateVersion.number")


class TemplateVersion(IdMixin, Base):
    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "number"),)

    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checklist_templates.id"), index=True)
    number: Mapped[int]
    status: Mapped[VersionStatus] = mapped_column(Enum(VersionStatus, native_enum=False, length=16), default=VersionStatus.draft)
    effective_from: Mapped[date | None]
    # The full resolved definition (items and indicators) this version scores with.
    definition: Mapped[dict] = mapped_column(JSONType)
    # For local templates: the overlay as written, and the exact parent version it was applied to.
    overlay: Mapped[dict | None] = mapped_column(JSONType)
    parent_version_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("template_versions.id"))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    template: Mapped[ChecklistTemplate] = relationship(back_populates="versions")


class ImmutableVersionError(Exception):
    """Raised when something tries to change a published template version."""


@event.listens_for(TemplateVersion, "before_update")
def _freeze_published(_mapper, _conn, target: TemplateVersion) -> None:
    # Visits pin versions and scores must be reproducible, so a published definition never changes.
    state = inspect(target)
    was_published = state.attrs.status.history.deleted or [target.status]
    if VersionStatus.published in was_published:
        for attr in ("definition", "overlay", "parent_version_id", "number", "template_id", "effective_from"):
            if state.attrs[attr].history.has_changes():
                raise ImmutableVersionError(f"template version {target.id} is published; {attr} cannot change")
