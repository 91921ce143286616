"""Stored scores: each visit section and each county run, with the facts and template they used."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inspections.db import Base, IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow


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


class CountySelfReport(IdMixin, TimestampMixin, Base):
    """What a county reports once a year for the items no visit checks (areas B, C and D of the standard):
    the figures each item needs, the survey by respondent group, the veto items and its evidence."""

    __tablename__ = "county_self_reports"
    __table_args__ = (UniqueConstraint("jurisdiction_id", "year"),)

    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    year: Mapped[int]
    # County item code -> value (checked against the template's county items).
    facts: Mapped[dict] = mapped_column(JSONType)
    # Respondent group -> {"respondents": n, "satisfied": k}.
    survey: Mapped[dict] = mapped_column(JSONType)
    # Veto item -> true/false.
    vetoes: Mapped[dict] = mapped_column(JSONType)
    # [{"item": code, "title": ..., "reference": ...}]: where each supporting document is kept.
    documents: Mapped[list] = mapped_column(JSONType)
    reported_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)


class CountyDocument(IdMixin, Base):
    """A file a county attaches to its self-report as evidence (a pay table, a survey's minutes): the bytes
    are in blob storage under `storage_key`; the self-report's `documents` cite it by id."""

    __tablename__ = "county_documents"

    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    year: Mapped[int]
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class YearlyReport(IdMixin, Base):
    """The yearly supervision report (年度督导报告) of a county or a city, made by a job: its content as
    JSON and the printable PDF and the XLSX in blob storage. Every request makes a new one."""

    __tablename__ = "yearly_reports"
    __table_args__ = (Index("ix_yearly_reports_latest", "jurisdiction_id", "year", "requested_at"),)

    jurisdiction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jurisdictions.id"))
    year: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, ready, failed
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    content: Mapped[dict | None] = mapped_column(JSONType)
    pdf_key: Mapped[str | None] = mapped_column(String(300))
    xlsx_key: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
