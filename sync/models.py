"""Change log, commit clock, revision history, idempotent mutations and stored conflicts."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, inspect, select
from sqlalchemy.orm import Mapped, mapped_column

from inspections.db import Base, IdMixin, JSONType, UTCDateTime, utcnow
from inspections.visits import service as visits_service

# SQLite only auto-increments an INTEGER PRIMARY KEY (its rowid); PostgreSQL gets a bigint identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class ChangeLog(Base):
    """One change to a synced record, written by the session hook in the data's own transaction.

    `seq` orders changes inside one transaction only; readers order by the commit sequence of
    the transaction (`SyncCommit.commit_seq`), which is handed out in commit order.
    """

    __tablename__ = "sync_changes"
    __table_args__ = (Index("ix_sync_changes_txn_seq", "txn_id", "seq"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    txn_id: Mapped[uuid.UUID]
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[uuid.UUID] = mapped_column(index=True)
    op: Mapped[str] = mapped_column(String(8))  # upsert | delete
    version: Mapped[int | None]
    school_id: Mapped[uuid.UUID | None]
    visit_id: Mapped[uuid.UUID | None]
    data: Mapped[dict | None] = mapped_column(JSONType)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SyncCommit(Base):
    """A committed transaction that wrote changes, numbered in commit order (the pull watermark)."""

    __tablename__ = "sync_commits"

    txn_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    commit_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    committed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecordRevision(Base):
    """Field values of a version of a mergeable record, the base of a three-way merge, kept here once its
    change row is pruned (and for a visit's first version written in bulk, which has no change row)."""

    __tablename__ = "sync_revisions"
    __table_args__ = (UniqueConstraint("entity", "entity_id", "version"),)

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[uuid.UUID]
    version: Mapped[int]
    data: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Mutation(Base):
    """A pushed mutation and the result it got: a retry returns this result as `duplicate`.

    Keyed by (device_id, mutation_id), which is what makes a retry fail to insert a second row.
    `user_id` is the authenticated account that pushed it; it has no foreign key, since a check per
    row (500 in a full batch) buys nothing for a value that is never anything else and accounts
    are never deleted.
    """

    __tablename__ = "sync_mutations"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mutation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID]
    result: Mapped[dict] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The record the mutation named (its `id`; a result may name another, e.g. a create merged into the
    # answer another inspector made first): the mutation id used again for another record is refused.
    # None on rows stored before it was kept.
    entity_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


class Conflict(IdMixin, Base):
    """Contested fields of one record: the server value stayed, the client value is kept here."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (Index("ix_sync_conflicts_school_status", "school_id", "status"),
                      # A visit is submitted only with none of its conflicts open (visits.transition).
                      Index("ix_sync_conflicts_visit_status", "visit_id", "status"))

    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[uuid.UUID] = mapped_column(index=True)
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id"))
    visit_id: Mapped[uuid.UUID | None]
    base_version: Mapped[int | None]
    server_version: Mapped[int]
    # {field: {"base": ..., "server": ..., "client": ...}}
    fields: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    device_id: Mapped[str | None] = mapped_column(String(64))
    mutation_id: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[dict | None] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(Text)



# A push pass that may submit visits reads their open conflicts once (prefetch_open_conflicts); the
# conflicts the pass records after that are counted from the session, flushed or not. Dropped when the
# pass ends (forget_open_conflicts): a pass rolled back takes its conflicts with it.
OPEN_AT_START = "sync.open_conflicts"
RECORDED = "sync.recorded_conflicts"


def prefetch_open_conflicts(session, visit_ids) -> None:
    """Before a batch that may submit these visits: how many open conflicts each has, in one query."""
    ids = list(visit_ids)
    counts = dict.fromkeys(ids, 0)
    if ids:
        with session.no_autoflush:
            counts |= dict(session.execute(select(Conflict.visit_id, func.count()).where(
                Conflict.visit_id.in_(ids), Conflict.status == "open").group_by(Conflict.visit_id)).all())
    session.info[OPEN_AT_START] = counts
    session.info[RECORDED] = []


def recorded(session, conflict: "Conflict") -> None:
    """A push recorded this conflict (counted against a submit later in the pass)."""
    if OPEN_AT_START in session.info:
        session.info[RECORDED].append(conflict)


def forget_open_conflicts(session) -> None:
    session.info.pop(OPEN_AT_START, None)
    session.info.pop(RECORDED, None)


def _open_conflicts(session, visit) -> int:
    """Open conflicts on a visit or its answers: those written, and those of this transaction not written yet
    (a push batch records them at its flush; an answer in the batch may have opened one before the submit)."""
    here = {id(obj): obj for obj in session.new if isinstance(obj, Conflict) and obj.visit_id == visit.id}
    known = session.info.get(OPEN_AT_START, {})
    if visit.id in known:
        here |= {id(c): c for c in session.info.get(RECORDED, []) if c.visit_id == visit.id
                 and (inspect(c).pending or inspect(c).persistent)}
        written = known[visit.id]
    else:
        with session.no_autoflush:
            written = session.scalar(select(func.count()).select_from(Conflict).where(
                Conflict.visit_id == visit.id, Conflict.status == "open")) or 0
    return written + sum(1 for c in here.values() if c.status in (None, "open"))


visits_service.OPEN_CONFLICTS[:] = [_open_conflicts]
