"""Users, inspector assignments, devices and API tokens (only token hashes are stored)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inspections.accounts.enums import Role
from inspections.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow
from inspections.org.models import Jurisdiction, School


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'school' AND school_id IS NOT NULL AND jurisdiction_id IS NULL)"
            " OR (role <> 'school' AND school_id IS NULL)",
            name="binding_matches_role",
        ),
        # `OFFICE` beside `office` is refused by the service (username_taken); this refuses the pair made
        # by two requests at once.
        Index("uq_users_username_folded", text("lower(username)"), unique=True),
    )

    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    jurisdiction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("schools.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(String(10), default="zh-CN")
    # Raised when what this user may see shrinks in a way its role and anchors do not show (taken off
    # a visit, a school moved away): sync cursors issued before then are refused, and the device resyncs.
    sync_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # Carried by every signed-in web session and checked on each request: raising it (logout, password
    # change, deactivation) ends all of this user's sessions, which are signed cookies the server cannot recall.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    jurisdiction: Mapped[Jurisdiction | None] = relationship()
    school: Mapped[School | None] = relationship()


class InspectorAssignment(Base):
    """A responsibility inspector's (责任督学) standing assignment to a school."""

    __tablename__ = "inspector_assignments"

    inspector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Device(IdMixin, Base):
    """A field device; its id is generated on the device and registered on first login."""

    __tablename__ = "devices"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    platform: Mapped[str | None] = mapped_column(String(60))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(IdMixin, Base):
    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    # SHA-256 of a 256-bit random secret: a fast hash is safe for high-entropy tokens.
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
