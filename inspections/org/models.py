"""Jurisdictions (province > city > county) and schools."""
from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inspections.db import Base, ExactDecimal, IdMixin, TimestampMixin, VersionedMixin
from inspections.org.enums import JurisdictionLevel, Locale, SchoolKind, SchoolType


class Jurisdiction(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "jurisdictions"
    __table_args__ = (Index("ix_jurisdictions_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),)

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[JurisdictionLevel] = mapped_column(Enum(JurisdictionLevel, native_enum=False, length=16))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    # Materialised path of ids ("/a/b/c/"): a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(400))

    parent: Mapped[Jurisdiction | None] = relationship(remote_side="Jurisdiction.id")


class School(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "schools"
    __table_args__ = (
        CheckConstraint("enrolment_primary >= 0 AND enrolment_junior >= 0", name="enrolment_nonnegative"),
        # varchar_pattern_ops lets PostgreSQL use the index for LIKE 'prefix%' in any collation.
        Index("ix_schools_jurisdiction_path", "jurisdiction_path",
              postgresql_ops={"jurisdiction_path": "varchar_pattern_ops"}),
        # Codes are unique in any case (org._code_used), also for two requests at once.
        Index("uq_schools_code_folded", text("lower(code)"), unique=True),
    )

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    # Copy of the county's path so scope filters need no join; kept in step by the service.
    jurisdiction_path: Mapped[str] = mapped_column(String(400))
    kind: Mapped[SchoolKind] = mapped_column(Enum(SchoolKind, native_enum=False, length=16))
    locale: Mapped[Locale] = mapped_column(Enum(Locale, native_enum=False, length=16))
    # Ordinary school, teaching point (教学点) or special-education school: decides R1-R7 and the CV.
    school_type: Mapped[SchoolType] = mapped_column(Enum(SchoolType, native_enum=False, length=24),
                                                    default=SchoolType.ordinary, server_default="ordinary")
    enrolment_primary: Mapped[int] = mapped_column(default=0)
    enrolment_junior: Mapped[int] = mapped_column(default=0)
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[Decimal | None] = mapped_column(ExactDecimal(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(ExactDecimal(9, 6))
    active: Mapped[bool] = mapped_column(default=True)

    jurisdiction: Mapped[Jurisdiction] = relationship()
