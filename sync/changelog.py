"""The change log: every synced record's changes, written in the same transaction as the data.

Ordering on PostgreSQL: a sequence number taken during a transaction says nothing about when
that transaction commits, so a reader paging by it could pass a lower number whose transaction
commits later and never see it. Instead each transaction that wrote changes takes a *commit
sequence* just before COMMIT while holding an EXCLUSIVE lock on `sync_commits` (readers are not
blocked; other committing writers wait). The lock is held until COMMIT, so commit sequence k+1
cannot be handed out before transaction k is visible: a reader that sees k+1 also sees every
lower commit sequence, and paging by (commit_seq, seq) never skips a late commit.
SQLite serialises writers for the whole transaction, so the same code is trivially ordered there.
"""
from __future__ import annotations

import functools
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum

from sqlalchemy import delete, event, func, inspect, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE

from inspections.accounts.models import User
from inspections.db import utcnow
from inspections.org.models import School
from inspections.photos.models import Photo
from inspections.templates.enums import VersionStatus
from inspections.templates.models import TemplateVersion
from inspections.tickets.models import Ticket, TicketEvent
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Response, Visit, VisitInspector
from sync.models import ChangeLog, RecordRevision, SyncCommit

ENTITY = {School: "school", TemplateVersion: "template_version", Visit: "visit", Response: "response",
          Ticket: "ticket", TicketEvent: "ticket_event", Photo: "photo"}
# Records a device may edit: their every version is kept for the three-way merge.
MERGEABLE = {"visit", "response"}
# Internal upload bookkeeping never leaves the server.
PHOTO_PRIVATE = {"blob_key", "chunks", "received_bytes", "expires_at", "upload_id", "storage_key"}
_INFO_TXN = "sync_txn_id"
_PLAIN = frozenset((str, int, float, bool, type(None), dict, list))


def jsonable(value):
    """A column value as JSON (ids and decimals as text, times as ISO 8601)."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def snapshot(obj, extra: dict | None = None) -> dict:
    """The record's column values as the wire shows them."""
    state = obj.__dict__  # a loaded column's value, as the attribute returns it; an unloaded one is loaded
    plain = _PLAIN
    data = {}
    for key in _snapshot_keys(type(obj)):
        value = state[key] if key in state else getattr(obj, key)
        data[key] = value if type(value) in plain else jsonable(value)
    return data | extra if extra else data


@functools.lru_cache(maxsize=None)
def _snapshot_keys(cls) -> tuple[str, ...]:
    """The column attributes `snapshot` shows, in the mapper's order (worked out once per class: a push of
    500 answers snapshots each twice, for its answer and for its change row)."""
    private = PHOTO_PRIVATE if issubclass(cls, Photo) else ()
    return tuple(c.key for c in inspect(cls).column_attrs if c.key not in private)


def _txn_id(session: Session) -> uuid.UUID:
    txn = session.info.get(_INFO_TXN)
    if txn is None:
        txn = session.info[_INFO_TXN] = uuid.uuid4()
    return txn


def _changed(obj) -> bool:
    # Upload bookkeeping (a photo's chunks) changes often and is never synced: no change row for it.
    state = inspect(obj)
    private = PHOTO_PRIVATE if isinstance(obj, Photo) else ()
    columns = _column_keys(state.mapper)
    # Only attributes set since the last flush have a committed value kept (state.attrs, by contrast,
    # builds a view of every attribute on each call: a third of a 500-update push's time).
    return any(state.manager[key].impl.get_history(state, state.dict, PASSIVE_NO_INITIALIZE).has_changes()
               for key in state.committed_state if key in columns and key not in private)


@functools.lru_cache(maxsize=None)
def _column_keys(mapper) -> frozenset[str]:
    return frozenset(a.key for a in mapper.column_attrs)


def _visit_school(session: Session, conn, visit_id, cache: dict):
    if visit_id not in cache:
        visit = session.identity_map.get(inspect(Visit).identity_key_from_primary_key((visit_id,)))
        if visit is not None and "school_id" in inspect(visit).dict:
            cache[visit_id] = visit.school_id
        else:
            cache[visit_id] = conn.scalar(select(Visit.school_id).where(Visit.id == visit_id))
    return cache[visit_id]


def _inspector_ids(conn, visits: list[Visit]) -> dict:
    """{visit id: its inspectors' ids as text, sorted}: from the visit's loaded links (the flush has just
    written them), the others in one query for all."""
    out = {}
    for v in visits:
        if "inspector_links" in inspect(v).dict:
            out[v.id] = sorted(str(link.inspector_id) for link in v.inspector_links)
    rest = [v.id for v in visits if v.id not in out]
    if rest:
        for vid in rest:
            out[vid] = []
        for vid, inspector_id in conn.execute(select(VisitInspector.visit_id, VisitInspector.inspector_id)
                                              .where(VisitInspector.visit_id.in_(rest))):
            out[vid].append(str(inspector_id))
        for vid in rest:
            out[vid].sort()
    return out


def rows_for(session: Session, new, dirty, deleted, *, changed=(), records: dict | None = None) -> list[dict]:
    """The change rows of these records about to be written: what a flush of them logs. The flush hook
    passes the session's; a batch that writes changed records itself passes those as `changed` (dirty
    records it found changed, `sync.bulk.write_updates`), with `records`, the fields of versions it has
    already shown ({(entity, id, version): record}): an answer's change row holds them, not a second
    snapshot of the same version.

    A version's change row holds its fields, which is where a three-way merge finds its base
    (`push.base_record`) until the prune job drops a superseded row, having first kept its fields as
    a revision: no revision row is written with each change."""
    conn = session.connection()
    visits_cache: dict = {}
    changes: list[dict] = []
    now = utcnow()
    touched_visits: dict[uuid.UUID, Visit] = {}
    for obj in list(new) + list(dirty) + list(deleted):
        if isinstance(obj, VisitInspector):
            v = session.identity_map.get(inspect(Visit).identity_key_from_primary_key((obj.visit_id,)))
            if v is not None and v not in deleted:
                touched_visits[v.id] = v
    seen: set = set()
    visit_rows: list[tuple[Visit, dict]] = []

    def emit(obj, op: str):
        entity = ENTITY[type(obj)]
        key = (entity, obj.id)
        if key in seen:
            return
        seen.add(key)
        school_id = visit_id = None
        if isinstance(obj, School):
            school_id = obj.id
        elif isinstance(obj, Visit):
            school_id, visit_id = obj.school_id, obj.id
        elif isinstance(obj, Response):
            visit_id = obj.visit_id
            school_id = _visit_school(session, conn, visit_id, visits_cache)
        elif isinstance(obj, Ticket):
            school_id = obj.school_id
        elif isinstance(obj, TicketEvent):
            school_id = conn.scalar(select(Ticket.school_id).where(Ticket.id == obj.ticket_id))
        elif isinstance(obj, Photo):
            school_id, visit_id = getattr(obj, "school_id", None), getattr(obj, "visit_id", None)
        data = None
        version = getattr(obj, "version", None)
        if op == "upsert":
            # A version's fields do not change once it is made (every change bumps the version).
            data = records.get((entity, obj.id, version)) if records and entity == "response" else None
            if data is None:
                data = snapshot(obj)
            if isinstance(obj, Visit):
                visit_rows.append((obj, data))  # its inspectors are added below, for all visits at once
        changes.append(dict(txn_id=_txn_id(session), entity=entity, entity_id=obj.id, op=op, version=version,
                            school_id=school_id, visit_id=visit_id, data=data, changed_at=now))

    for obj in new:
        if type(obj) in ENTITY and _visible(obj):
            emit(obj, "upsert")
    submitted = []
    for obj in changed:
        emit(obj, "upsert")
    for obj in dirty:
        if type(obj) in ENTITY and _visible(obj) and (_changed(obj) or obj in touched_visits.values()):
            emit(obj, "upsert")
            if isinstance(obj, Visit) and _became_submitted(obj):
                submitted.append(obj)
    for v in touched_visits.values():
        emit(v, "upsert")
    for obj in deleted:
        if type(obj) in ENTITY:
            emit(obj, "delete")
    if visit_rows:
        inspectors = _inspector_ids(conn, [v for v, _ in visit_rows])
        for v, data in visit_rows:
            data["inspector_ids"] = inspectors[v.id]
    if submitted:
        # A school sees a visit's answers only once it is submitted: send them again now, once each
        # (not those this flush or an earlier flush of this transaction already logged).
        _reemit_responses(session, conn, submitted, changes, now, seen)
    return changes


def _visible(obj) -> bool:
    # Draft template versions are private to their authors; only published ones are synced.
    return not isinstance(obj, TemplateVersion) or obj.status == VersionStatus.published


def _became_submitted(visit: Visit) -> bool:
    hist = inspect(visit).attrs.status.history
    return bool(hist.added) and visit.status == VisitStatus.submitted


def _reemit_responses(session, conn, visits: list[Visit], changes: list, now, seen: set) -> None:
    table = Response.__table__
    txn = _txn_id(session)
    schools = {v.id: v.school_id for v in visits}
    ids = list(schools)
    logged = set(conn.scalars(select(ChangeLog.entity_id).where(ChangeLog.txn_id == txn, ChangeLog.visit_id.in_(ids),
                                                                ChangeLog.entity == "response")))
    result = conn.execute(select(table).where(table.c.visit_id.in_(ids)))
    keys = list(result.keys())
    plain = _PLAIN
    for row in result:
        data = dict(zip(keys, [v if type(v) in plain else jsonable(v) for v in row]))  # every answer of 300 visits
        rid = row.id
        if ("response", rid) in seen or rid in logged:
            continue
        seen.add(("response", rid))
        changes.append(dict(txn_id=txn, entity="response", entity_id=rid, op="upsert",
                            version=row.version, school_id=schools[row.visit_id], visit_id=row.visit_id,
                            data=data, changed_at=now))


def _after_flush(session: Session, flush_context) -> None:
    changes = rows_for(session, session.new, session.dirty, session.deleted)
    if changes:
        from sync.bulk import insert_rows  # (sync.bulk reads this module)
        # COPY on PostgreSQL: a submit re-sends every answer
        insert_rows(session.connection(), ChangeLog.__table__, changes)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.flush()  # commit() flushes after this hook; flush first so no change escapes the clock
    txn = session.info.get(_INFO_TXN)
    if txn is None:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # Held until COMMIT: commit sequences become visible strictly in order (see module doc).
        conn.execute(text("LOCK TABLE sync_commits IN EXCLUSIVE MODE"))
    nxt = (conn.scalar(select(func.max(SyncCommit.commit_seq))) or 0) + 1
    conn.execute(insert(SyncCommit).values(txn_id=txn, commit_seq=nxt, committed_at=utcnow()))


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_INFO_TXN, None)


def _scope_shrinks(session: Session, flush_context) -> None:
    """Inspectors taken off a visit may no longer see it, and the change log (filtered by what they see
    now) would never tell their devices: raise their sync_epoch, so their cursors are refused and the
    devices resync (dropping the visit if it is out of their scope)."""
    removed = {o.inspector_id for o in session.deleted if isinstance(o, VisitInspector)}
    for obj in session.dirty:
        if isinstance(obj, Visit):
            removed |= {link.inspector_id for link in inspect(obj).attrs.inspector_links.history.deleted}
    if removed:
        bump_sync_epochs(session.connection(), User.id.in_(removed))


def bump_sync_epochs(conn, criterion) -> None:
    """Refuse the sync cursors of the users matching `criterion` (their scope shrank)."""
    conn.execute(update(User).where(criterion).values(sync_epoch=User.sync_epoch + 1))


def install(target=Session) -> None:
    """Hook the change log into a Session class or sessionmaker (called once from create_app)."""
    for name, fn in (("after_flush", _after_flush), ("after_flush", _scope_shrinks), ("before_commit", _before_commit),
                     ("after_transaction_end", _after_transaction_end)):
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)


def prune(session: Session, *, older_than_days: float) -> int:
    """Drop superseded changes (a newer one exists for the record) and old tombstones of records a device
    never creates (a visit's or an answer's tombstone is kept).

    A version's fields are in its change row only (no revision is written with a change), so a dropped
    row of a mergeable record is first kept as a revision (push.base_record). Copy and drop see one
    snapshot: on PostgreSQL they are one statement (a DELETE ... RETURNING feeding the INSERT); as two
    statements, a change committed between them could make a row superseded that the copy had passed
    over as the latest, and the drop would lose that version's fields while pushes run. SQLite runs one
    writer at a time, so its two statements see the same rows."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    if session.get_bind().dialect.name == "postgresql":
        n = session.execute(_PRUNE_SQL, {"cutoff": cutoff, "mergeable": sorted(MERGEABLE)}).scalar_one()
    else:
        n = _prune_portable(session, cutoff)
    # Tombstones of visits and answers stay (one small row per delete, and deletes are rare): they are how a
    # push knows an id was used before, so that a create arriving months later cannot bring it back.
    n += session.execute(delete(ChangeLog).where(ChangeLog.changed_at < cutoff, ChangeLog.op == "delete",
                                                 ChangeLog.entity.not_in(MERGEABLE))).rowcount or 0
    return n


# Row locks serialise writers of one record, so its latest change also has its highest seq.
_PRUNE_SQL = text("""
WITH doomed AS (
    DELETE FROM sync_changes
    WHERE changed_at < :cutoff
      AND seq NOT IN (SELECT max(seq) FROM sync_changes GROUP BY entity, entity_id)
    RETURNING seq, entity, entity_id, version, op, data, changed_at
), kept AS (
    INSERT INTO sync_revisions (entity, entity_id, version, data, created_at)
    SELECT DISTINCT ON (entity, entity_id, version) entity, entity_id, version, data, changed_at
    FROM doomed
    WHERE op = 'upsert' AND entity = ANY(:mergeable)
    ORDER BY entity, entity_id, version, seq DESC
    ON CONFLICT (entity, entity_id, version) DO NOTHING
)
SELECT count(*) FROM doomed
""")


def _prune_portable(session: Session, cutoff) -> int:
    latest = select(func.max(ChangeLog.seq)).group_by(ChangeLog.entity, ChangeLog.entity_id).scalar_subquery()
    doomed = [ChangeLog.changed_at < cutoff, ChangeLog.seq.not_in(latest)]
    has_revision = select(RecordRevision.id).where(RecordRevision.entity == ChangeLog.entity,
                                                   RecordRevision.entity_id == ChangeLog.entity_id,
                                                   RecordRevision.version == ChangeLog.version).exists()
    newest = select(func.max(ChangeLog.seq)).where(*doomed, ChangeLog.op == "upsert", ChangeLog.entity.in_(MERGEABLE),
                                                   ~has_revision) \
        .group_by(ChangeLog.entity, ChangeLog.entity_id, ChangeLog.version)
    keep = select(ChangeLog.entity, ChangeLog.entity_id, ChangeLog.version, ChangeLog.data,
                  ChangeLog.changed_at).where(ChangeLog.seq.in_(newest))
    session.execute(insert(RecordRevision).from_select(["entity", "entity_id", "version", "data", "created_at"],
                                                       keep))
    return session.execute(delete(ChangeLog).where(*doomed)).rowcount or 0
