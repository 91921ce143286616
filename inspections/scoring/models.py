"""Stored scores: each visit section and each county run, with the facts and template they used."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inspections.db import Base, IdMixin, JSONType, UTCDateTime, utcnow


class VisitScore(IdMixin, Base):
    """The result of scoring one visit (one section, for combined schools) at one visit version."""

    __tablename__ = "visit_scores"
    __table_args__ = (UniqueConstraint("visit_id", "section"),)

    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id"), index=True)
    section: Mapped[str] = mapped_column(String(16), default="")
    level: Mapped[str] = mapped_column(String(16))
    template_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("template_versions.id"))
    template_sha256: Mapped[str] = mapped_column(String(64))
    visit_version: Mapped[int]
    # The exact inputs, so anyone can recompute the result from the row alone.
    facts: Mapped[dict] = mapped_column(JSONType)
    verdict: Mapped[str] = mapped_column(String(16))
    result: Mapped[dict] = mapped_column(JSONType)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CountyScore(IdMixin, Base):
    """One county-level judgement (差异系数 and school rule) for a level; history is kept."""

    __tablename__ = "county_scores"
    __table_args__ = (Index("ix_county_scores_latest", "jurisdiction_id", "level", "computed_at"),)

    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"))
    level: Mapped[str] = mapped_column(String(16))
    template_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("template_versions.id"))
    verdict: Mapped[str] = mapped_column(String(16))
    # Which visit scores went in: {school_id: visit_score_id}.
    inputs: Mapped[dict] = mapped_column(JSONType)
    result: Mapped[dict] = mapped_column(JSONType)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
