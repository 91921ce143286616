"""Applying a device's batch of mutations: idempotent, one savepoint each, merged field by field.

Each mutation ends in exactly one result, stored with its (device_id, mutation_id) so that a
retry is answered `duplicate` with the original result and nothing is applied twice:
applied | merged | conflict | duplicate | rejected.
"""
from __future__ import annotations


import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import orjson
from sqlalchemy import ARRAY, String, Uuid, bindparam, delete, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import Principal, school_filter, visit_filter
from inspections.audit import service as audit
from inspections.audit.models import AuditRecord
from inspections.db import JSONType, among, utcnow
from inspections.errors import DomainError, family_code
from inspections.org.models import School
from inspections.templates import service as templates
from inspections.tickets import service as tickets
from inspections.tickets.models import Ticket, TicketEvent
from inspections.visits import service as visits
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Response, Visit
from sync import bulk
from sync import fields as wire
from sync.changelog import jsonable, snapshot
from sync.merge import same, three_way
from sync.models import ChangeLog, Conflict, Mutation, RecordRevision, forget_open_conflicts, prefetch_open_conflicts
from sync.models import recorded as conflicts_kept

VISIT_FIELDS = ("planned_for", "notes", "inspector_ids", "status")
RESPONSE_FIELDS = ("value", "note", "flagged")
# Both sides of a double create started from an unanswered item.
EMPTY_ANSWER = {"value": None, "note": None, "flagged": False}


class Rejected(Exception):
    """A mutation refused with a readable reason and/or field errors, and the refusal's stable code (what a
    device tells its user from, in the user's language); nothing of it is written."""

    def __init__(self, reason: str, errors: dict | None = None, *, code: str):
        super().__init__(reason)
        self.reason, self.errors, self.code = reason, errors or {}, code


@dataclass
class PushOutcome:
    results: list[dict]
    # Visits locked FOR UPDATE by a committed savepoint stay locked until the batch commits,
    # so later mutations of the batch need not lock (and reload) them again.
    locked_visits: dict = field(default_factory=dict)
    pending_locks: dict = field(default_factory=dict)
    seen: dict = field(default_factory=dict)  # mutation_id -> stored Mutation
    # The optimistic pass: visits whose answers were read after their lock (no re-read per answer),
    # merge bases read for the whole batch, and the records changed since the last flush.
    fresh: set = field(default_factory=set)
    bases: dict = field(default_factory=dict)
    touched: set = field(default_factory=set)
    mutation_rows: list = field(default_factory=list)
    refused: dict = field(default_factory=dict)  # mutation_id -> its refusal, found by an earlier pass
    # (entity, id, version) -> the record a result of the pass shows: that version's change row holds it.
    records: dict = field(default_factory=dict)
    answers: dict = field(default_factory=dict)  # id -> answer, of the visits the pass locked


class _SlowPath(Exception):
    """The optimistic pass cannot go on: redo the batch one savepoint at a time."""


class _Refused(Exception):
    """A mutation of the optimistic pass was refused: the pass is rolled back and run again with that
    mutation answered by its refusal and nothing else of it, as its own savepoint would have left it."""

    def __init__(self, mutation_id: str, result: dict):
        super().__init__(mutation_id)
        self.mutation_id, self.result = mutation_id, result


# Refusals the optimistic pass absorbs (one more pass each) before the batch goes one savepoint at a time.
MAX_REFUSALS_IN_PASS = 3


def push(session: Session, *, user: User, principal: Principal, device_id: str, mutations: list[dict],
         wire: bool = False) -> PushOutcome:
    """Apply mutations in order; the caller commits. One bad mutation never sinks the batch.

    A batch of creates only (new visits and their answers), or of updates only (answers and visit
    notes), is first checked as a whole and written in bulk (`sync.bulk`). Otherwise, or if any of it
    would not simply be applied, an optimistic pass applies the whole batch inside one savepoint with no
    per-mutation savepoints: what it needs is read in a few set-based queries (`_lock_visits_of`), every mutation is decided
    by the same service functions as one by one, and the batch is written at the end (`_write`): its
    changed visits and answers by one `UPDATE ... FROM unnest(...)` per table (`bulk.write_updates`,
    PostgreSQL), the rest by one flush, its log rows by COPY. A mutation it refuses rolls the pass back, and the pass runs again with
    that mutation answered by its refusal alone (exactly what its own savepoint leaves one by one),
    up to MAX_REFUSALS_IN_PASS times. Past that, or if the database refuses the batch, the batch is
    applied with a savepoint per mutation, which isolates the bad ones.

    With `wire`, on PostgreSQL, a batch whose every mutation was applied before is answered by one
    query that builds each `duplicate` answer's JSON (`orjson.Fragment`s, for a response written by
    orjson; `_replayed_in_database`); otherwise results are dicts.
    """
    if session.get_bind().dialect.name == "postgresql" and len(mutations) > 1:
        # A batch's set-based queries carry per-row subplans (a replay's records) and row estimates that
        # lag a growing log: their estimated cost passes the JIT threshold, and compiling them took
        # 10-20 ms of a replay whose query runs in 9 (until the transaction ends, as pull does).
        session.execute(text("SET LOCAL jit = off"))
    # A replayed batch (its first mutation was applied before) skips the bulk COPY, which would only
    # fail on the idempotency key and roll back; the passes below answer it (`_replayed`).
    replay = len(mutations) > 1 and _stored(session, device_id, mutations[0]["mutation_id"]) is not None
    if replay and wire and session.get_bind().dialect.name == "postgresql":
        answers = _replayed_in_database(session, user, device_id, mutations)
        if answers is not None:
            return PushOutcome(results=answers)
    if not replay:
        sp = session.begin_nested()
        try:
            whole = bulk.apply_updates if all(m.get("op") == "update" for m in mutations) else bulk.apply
            out = whole(session, user=user, principal=principal, device_id=device_id, mutations=mutations)
        except (Rejected, DomainError, IntegrityError):
            out = None
        if out is not None:
            sp.commit()
            return out
        sp.rollback()
    refused: dict[str, dict] = {}
    while len(mutations) > 1 and len(refused) <= MAX_REFUSALS_IN_PASS:
        sp = session.begin_nested()
        audit.start_batch(session)
        try:
            out = _run(session, user, principal, device_id, mutations, fast=True, refused=refused)
            _write(session, out.records)
            # The pass's append-only rows go by COPY: its audit records, then its idempotency rows (whose
            # unique key refuses a concurrent retry: the pass rolls back and goes one by one).
            conn = session.connection()
            for table, rows in ((AuditRecord.__table__, audit.take_batch(session)),
                                (Mutation.__table__, out.mutation_rows)):
                if rows:
                    bulk.insert_rows(conn, table, rows)
            sp.commit()
            return out
        except _Refused as r:
            sp.rollback()
            refused[r.mutation_id] = r.result
        except (_SlowPath, Rejected, DomainError, IntegrityError):
            sp.rollback()  # also releases the row locks taken inside it
            break
        finally:
            audit.take_batch(session)
            visits.forget_prepared(session)
            forget_open_conflicts(session)
    return _run(session, user, principal, device_id, mutations, fast=False)


def _run(session, user, principal, device_id, mutations, *, fast: bool, refused: dict | None = None) -> PushOutcome:
    out = PushOutcome(results=[], refused=refused or {})
    # One query for the retries of the whole batch; a concurrent retry is still caught by the unique key.
    ids = [m["mutation_id"] for m in mutations]
    # Plain rows (who stored it, its result), not ORM objects: a replayed batch reads 500 of them.
    out.seen = {r.mutation_id: r for r in _stored_results(session, device_id, ids)}
    if len(out.seen) == len(mutations) > 1:
        out.results = _replayed(session, user, mutations, out.seen)
        return out
    if fast:
        _lock_visits_of(session, principal, mutations, out)
    for m in mutations:
        out.results.append(_fast_one(session, user, principal, device_id, m, out) if fast
                           else _one(session, user, principal, device_id, m, out))
    return out


def _fast_one(session: Session, user: User, p: Principal, device_id: str, m: dict, out: PushOutcome) -> dict:
    mid = m["mutation_id"]
    prior = out.seen.get(mid)
    if prior is not None:
        return _duplicate(session, user, m, prior)
    if mid in out.refused:
        result = out.refused[mid]  # refused in an earlier pass: nothing of it is applied
    else:
        # The pass writes at the end (`_write`); a record changed a second time is written first,
        # so each of its versions has its change row and merge base, as one by one.
        keys = _records_of(m)
        if keys & out.touched:
            _write(session, out.records)
            out.touched.clear()
        out.touched |= keys
        try:
            result = {"mutation_id": mid} | _apply(session, user, p, device_id, m, out)
        except (Rejected, DomainError) as e:
            raise _Refused(mid, _refusal(m, e)) from e
    # Kept as a row (written by COPY when the pass ends); the object answers a repeat within the batch.
    out.mutation_rows.append(dict(device_id=device_id, mutation_id=mid, user_id=user.id, result=result,
                                  received_at=utcnow(), entity_id=_uuid(m["id"])))
    out.seen[mid] = SimpleNamespace(user_id=user.id, result=result, entity_id=_uuid(m["id"]))
    # Locks taken now are held until the enclosing savepoint ends; the slow path starts afresh.
    out.locked_visits.update(out.pending_locks)
    out.pending_locks.clear()
    return result


def _write(session: Session, records: dict | None = None) -> None:
    """The optimistic pass's flush: its changed visits and answers in a few set-based UPDATEs
    (`bulk.write_updates`, PostgreSQL; with the records its results show, `PushOutcome.records`), then
    whatever else it holds by the session's flush."""
    bulk.write_updates(session, records)
    session.flush()


def _records_of(m: dict) -> set:
    """The records a mutation may change: itself, and for an answer its visit (started by a first answer)."""
    keys = {m.get("id")}
    visit_id = (m.get("fields") or {}).get("visit_id") if m.get("entity") == "response" else None
    if visit_id is not None:
        keys.add(_uuid(visit_id))
    return {_uuid(k) for k in keys if k is not None}


def _uuid(value):
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return value


def _stored_results(session: Session, device_id: str, ids: list[str]):
    """(mutation_id, user_id, result, entity_id) of those of these mutation ids this device stored."""
    cols = (Mutation.mutation_id, Mutation.user_id, Mutation.result, Mutation.entity_id)
    if session.get_bind().dialect.name != "postgresql":
        return session.execute(select(*cols).where(Mutation.device_id == device_id, Mutation.mutation_id.in_(ids)))
    # One key lookup per id (LIMIT 1 keeps the join a loop over the ids): as `IN (...)`, or as a plain
    # join, PostgreSQL may read every row the device ever stored and filter them (it read 5,500 rows for
    # 500 ids while the table's statistics lagged behind its growth).
    return session.execute(_STORED_SQL, {"device_id": device_id, "ids": list(dict.fromkeys(ids))})


# The stored rows of a device's mutation ids (PostgreSQL), for `_stored_results` and `_REPLAY_SQL`.
_BY_IDS = """unnest(:ids) AS given(mutation_id)
  CROSS JOIN LATERAL (SELECT * FROM sync_mutations s WHERE s.device_id = :device_id
                         AND s.mutation_id = given.mutation_id LIMIT 1) m"""
_STORED_SQL = text(f"SELECT m.mutation_id, m.user_id, m.result, m.entity_id FROM {_BY_IDS}").bindparams(
    bindparam("ids", type_=ARRAY(String)), bindparam("device_id", type_=String)).columns(
    mutation_id=String, user_id=Uuid, result=JSONType, entity_id=Uuid)


def _stored(session: Session, device_id: str, mutation_id: str) -> Mutation | None:
    return session.scalar(select(Mutation).where(Mutation.device_id == device_id, Mutation.mutation_id == mutation_id))


def _for_other_record(named, m: dict) -> bool:
    """Whether a stored mutation named another record than `m` does (`named` None: stored before the
    record was kept, taken as the same)."""
    return named is not None and named != _uuid(m["id"])


def _duplicate(session: Session, user: User, m: dict, rec: Mutation) -> dict:
    """A retry of a stored mutation: `duplicate` with the original result; `rejected` when the stored one
    was another account's, or named another record (nothing of this one is applied: the device gives
    it a new mutation id)."""
    if rec.user_id != user.id:
        return {"mutation_id": m["mutation_id"], "status": "rejected", "id": str(m["id"]),
                "reason": "this mutation id was already used by another account on this device",
                "errors": {"mutation_id": ["is already used by another account on this device"]}, "code": "sync.id_used"}
    if _for_other_record(getattr(rec, "entity_id", None), m):
        return {"mutation_id": m["mutation_id"], "status": "rejected", "id": str(m["id"]),
                "reason": "this mutation id was already used on this device for another record",
                "errors": {"mutation_id": ["is already used on this device for another record"]}, "code": "sync.id_used"}
    return {"mutation_id": m["mutation_id"], "status": "duplicate", "id": rec.result.get("id"),
            "original": original_result(session, rec.result)}


def original_result(session: Session, stored: dict) -> dict:
    """A stored result as it was answered. The bulk path stores an applied create without its record
    (`record_entity` instead): the record is that version's merge base, kept anyway."""
    if "record_entity" not in stored:
        return stored
    out = {k: v for k, v in stored.items() if k != "record_entity"}
    out["record"] = base_record(session, stored["record_entity"], uuid.UUID(stored["id"]), stored["version"])
    return out


def _replayed(session: Session, user: User, mutations: list[dict], seen: dict[str, Mutation]) -> list[dict]:
    """Every mutation of the batch was applied before: the answers `_duplicate` gives, one by one, with
    the records the bulk path left out read in two set-based queries (revisions, then change rows)."""
    need = {(r.result["record_entity"], uuid.UUID(r.result["id"]), r.result["version"])
            for r in seen.values() if r.user_id == user.id and "record_entity" in (r.result or {})}
    found = base_records(session, need)
    out = []
    for m in mutations:
        rec = seen[m["mutation_id"]]
        if rec.user_id != user.id or "record_entity" not in (rec.result or {}) or _for_other_record(rec.entity_id, m):
            out.append(_duplicate(session, user, m, rec))
            continue
        stored = rec.result
        original = {k: v for k, v in stored.items() if k != "record_entity"}
        original["record"] = found.get((stored["record_entity"], uuid.UUID(stored["id"]), stored["version"]))
        out.append({"mutation_id": m["mutation_id"], "status": "duplicate", "id": stored.get("id"),
                    "original": original})
    return out


_REPLAY_SQL = text("""
SELECT m.mutation_id, m.user_id,
       CASE WHEN m.user_id = :user_id THEN json_build_object(
           'id', m.result -> 'id', 'mutation_id', m.mutation_id,
           'original', CASE WHEN m.result ? 'record_entity' THEN (m.result - 'record_entity') || jsonb_build_object(
               'record', coalesce(
                   (SELECT rev.data FROM sync_revisions rev
                     WHERE rev.entity = m.result ->> 'record_entity' AND rev.entity_id = (m.result ->> 'id')::uuid
                       AND rev.version = (m.result ->> 'version')::int),
                   (SELECT chg.data FROM sync_changes chg
                     WHERE chg.entity_id = (m.result ->> 'id')::uuid AND chg.entity = m.result ->> 'record_entity'
                       AND chg.version = (m.result ->> 'version')::int AND chg.op = 'upsert'
                     ORDER BY chg.seq DESC LIMIT 1)))
           ELSE m.result END,
           'status', 'duplicate')::text END AS answer,
       CASE WHEN m.user_id = :user_id THEN NULL ELSE m.result END AS other, m.entity_id
  FROM """ + _BY_IDS).bindparams(bindparam("user_id", type_=Uuid), bindparam("ids", type_=ARRAY(String)),
                bindparam("device_id", type_=String)).columns(other=JSONType, entity_id=Uuid)


def _replayed_in_database(session: Session, user: User, device_id: str, mutations: list[dict]) -> list | None:
    """`_replayed`'s answers, each one's JSON built by PostgreSQL in one query: the stored results with,
    for a create the bulk path stored without its record, that version's record found as `base_record`
    finds it (its revision, else its latest change row). None unless every mutation was stored. The
    same JSON values as `_replayed` (tests/sync/test_replay.py); spacing and key order differ."""
    ids = list(dict.fromkeys(m["mutation_id"] for m in mutations))
    rows = session.execute(_REPLAY_SQL, {"user_id": user.id, "device_id": device_id, "ids": ids}).all()
    found = {row.mutation_id: row for row in rows}
    if len(found) < len(set(ids)):
        return None
    out = []
    for m in mutations:
        row = found[m["mutation_id"]]
        if row.answer is None:  # stored by another account on this device
            out.append(_duplicate(session, user, m, SimpleNamespace(user_id=row.user_id, result=row.other)))
        elif _for_other_record(row.entity_id, m):
            out.append(_duplicate(session, user, m, SimpleNamespace(user_id=row.user_id, result=None,
                                                                   entity_id=row.entity_id)))
        else:
            out.append(orjson.Fragment(row.answer))
    return out


def _one(session: Session, user: User, p: Principal, device_id: str, m: dict, out: PushOutcome) -> dict:
    mid = m["mutation_id"]
    prior = out.seen.get(mid)
    if prior is not None:
        return _duplicate(session, user, m, prior)
    sp = session.begin_nested()
    try:
        result = {"mutation_id": mid} | _apply(session, user, p, device_id, m, out)
        # Stored in the same savepoint as the change: a concurrent retry of this mutation blocks on
        # the unique key until we commit, then fails it and answers `duplicate`; never applied twice.
        rec = Mutation(device_id=device_id, mutation_id=mid, user_id=user.id, result=result, entity_id=_uuid(m["id"]))
        session.add(rec)
        session.flush()
        sp.commit()
        out.seen[mid] = rec
        out.locked_visits.update(out.pending_locks)
        out.pending_locks.clear()
        return result
    except IntegrityError:
        sp.rollback()
        out.pending_locks.clear()
        prior = _stored(session, device_id, mid)
        if prior is not None:
            return _duplicate(session, user, m, prior)
        result = _rejected(m, "the change breaks a database rule (e.g. a duplicate answer)")
    except (Rejected, DomainError) as e:
        sp.rollback()
        out.pending_locks.clear()
        result = _refusal(m, e)
    # Store the refusal too, so a retry gets the same answer.
    sp = session.begin_nested()
    try:
        rec = Mutation(device_id=device_id, mutation_id=mid, user_id=user.id, result=result, entity_id=_uuid(m["id"]))
        session.add(rec)
        session.flush()
        sp.commit()
        out.seen[mid] = rec
    except IntegrityError:
        sp.rollback()
        prior = _stored(session, device_id, mid)
        if prior is not None:
            return _duplicate(session, user, m, prior)
    return result


def prune_results(session: Session, *, older_than_days: float) -> int:
    """Drop stored push results older than the retention. A device retries a push within minutes or
    days; a retry older than this is still safe: its create finds its id taken (rejected, nothing
    written twice) and its update merges against a server that already has its values."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    return session.execute(delete(Mutation).where(Mutation.received_at < cutoff)).rowcount or 0


def _refusal(m: dict, e: Rejected | DomainError) -> dict:
    """The result of a mutation refused by the push (Rejected) or by the domain's rules (DomainError):
    `reason` (English), `errors` (field -> messages) and `code` (the refusal's kind, e.g. "visit.frozen",
    "answer.invalid_value"; "refused" for a rule that has no kind of its own)."""
    if isinstance(e, Rejected):
        return _rejected(m, e.reason, e.errors, e.code)
    return _rejected(m, e.message, {f"fields.{k}": v for k, v in e.fields.items()}, e.code or family_code(e.status))


def _rejected(m: dict, reason: str, errors: dict | None = None, code: str = "refused") -> dict:
    return {"mutation_id": m["mutation_id"], "status": "rejected", "id": str(m["id"]), "reason": reason,
            "errors": errors or {}, "code": code}


def _apply(session, user, p, device_id, m, out) -> dict:
    entity, op = m["entity"], m["op"]
    if entity not in wire.WRITABLE:
        raise Rejected(f"{entity!r} records cannot be changed through sync", {"entity": ["is not writable"]},
                       code="sync.not_writable")
    if entity != "ticket_event" and p.role not in (Role.admin, Role.office, Role.inspector):
        raise Rejected("this role cannot change visits or answers", code="forbidden")
    data, errors = wire.load(entity, op, m.get("fields") or {})
    if errors:
        raise Rejected("invalid fields", errors, code="invalid")
    ctx = _Ctx(session, user, p, device_id, m, out)
    return {"visit": _visit, "response": _response, "ticket_event": _ticket_event}[entity](ctx, op, data)


@dataclass
class _Ctx:
    session: Session
    user: User
    p: Principal
    device_id: str
    m: dict
    out: PushOutcome

    @property
    def id(self) -> uuid.UUID:
        return self.m["id"]


def _was_deleted(session, entity: str, entity_id) -> bool:
    return session.scalar(select(ChangeLog.seq).where(ChangeLog.entity == entity, ChangeLog.entity_id == entity_id,
                                                      ChangeLog.op == "delete").limit(1)) is not None


def _deleted_in_scope(ctx: _Ctx, record_id, entity: str = "visit") -> bool:
    """Whether a record of a school in the caller's scope was deleted under this id (one elsewhere is "not
    found", as one there that exists: no id outside the scope is told apart)."""
    if not isinstance(record_id, uuid.UUID):
        return False
    school_id = ctx.session.scalar(select(ChangeLog.school_id).where(
        ChangeLog.entity == entity, ChangeLog.entity_id == record_id, ChangeLog.op == "delete").limit(1))
    return school_id is not None and ctx.session.scalar(
        select(School.id).where(School.id == school_id, school_filter(ctx.p))) is not None


def _missing(ctx: _Ctx, entity: str):
    if _deleted_in_scope(ctx, _uuid(ctx.id), entity):
        raise Rejected(f"this {entity} was deleted on the server; your copy is kept on the device", code="sync.deleted")
    raise Rejected(f"no {entity} {ctx.id} here", {"id": ["not found"]}, code="not_found")


def _base(ctx: _Ctx, entity: str, entity_id, version: int | None) -> dict | None:
    if version is None:
        return None
    # Read ahead for the batch (`_lock_visits_of`); a version made earlier in this batch was not there yet.
    found = ctx.out.bases.get((entity, entity_id, version))
    return found if found is not None else base_record(ctx.session, entity, entity_id, version)


def base_records(session, keys) -> dict:
    """`base_record` for many (entity, id, version) keys in two queries: change rows, then the revisions
    of the versions that have none. A key with neither maps to None.

    Change rows are read first: the prune job keeps a change row's fields as a revision and drops the
    row in one transaction, so a row missing from the first read has its revision committed by then and
    the second read finds it (in the other order, a prune committing between the two reads would hide
    the version from both)."""
    keys = set(keys)
    if not keys:
        return {}
    found: dict[tuple, dict | None] = {}
    for entity, entity_id, version, data in session.execute(
            select(ChangeLog.entity, ChangeLog.entity_id, ChangeLog.version, ChangeLog.data)
            .where(ChangeLog.entity_id.in_(list({k[1] for k in keys})), ChangeLog.op == "upsert")
            .order_by(ChangeLog.seq)):
        if (entity, entity_id, version) in keys:
            found[(entity, entity_id, version)] = data  # ascending seq: the latest change row stays
    rest = keys - found.keys()
    if rest:
        for entity, entity_id, version, data in session.execute(
                select(RecordRevision.entity, RecordRevision.entity_id, RecordRevision.version, RecordRevision.data)
                .where(RecordRevision.entity.in_({k[0] for k in rest}),
                       RecordRevision.entity_id.in_(list({k[1] for k in rest})))):
            if (entity, entity_id, version) in rest:
                found[(entity, entity_id, version)] = data
    return {k: found.get(k) for k in keys}


def base_record(session, entity: str, entity_id, version: int) -> dict | None:
    """A mergeable record's fields at a version: from that version's change row, or from its revision
    (the same fields). Changes write no revision: the prune job keeps a superseded change row's fields
    as a revision before it drops the row, and the bulk path keeps a visit's first version, which has no
    change row of its own. Read in that order for the reason `base_records` gives."""
    data = session.scalar(select(ChangeLog.data).where(ChangeLog.entity_id == entity_id, ChangeLog.entity == entity,
                                                       ChangeLog.version == version, ChangeLog.op == "upsert")
                          .order_by(ChangeLog.seq.desc()).limit(1))
    if data is not None:
        return data
    return session.scalar(select(RecordRevision.data).where(RecordRevision.entity == entity,
                                                            RecordRevision.entity_id == entity_id,
                                                            RecordRevision.version == version))


def _visit_wire(visit: Visit) -> dict:
    return snapshot(visit, {"inspector_ids": sorted(str(i) for i in visit.inspector_ids)})


def _visit_fields(visit: Visit) -> dict:
    """The fields a device may change (VISIT_FIELDS) and the version, as `_visit_wire` shows them."""
    return {"planned_for": jsonable(visit.planned_for), "notes": visit.notes,
            "inspector_ids": sorted(str(i) for i in visit.inspector_ids), "status": visit.status.value,
            "version": visit.version}


def _client_values(data: dict) -> dict:
    vals = {k: jsonable(v) for k, v in data.items()}
    if "inspector_ids" in vals:
        vals["inspector_ids"] = sorted({str(i) for i in data["inspector_ids"]})
    return vals


def _lock_visits_of(session: Session, p: Principal, mutations: list[dict], out: PushOutcome) -> None:
    """The optimistic pass reads what the whole batch needs in a few set-based queries instead of a few
    per mutation: it locks every visit the batch changes (updated or deleted, or whose answers are
    written) in one query, in id order, with their answers, inspectors, schools and template versions;
    then the merge bases of the updates not made on the current version, and the outbox records the
    batch's submits may ask for. Locks are held until the pass's savepoint ends, as those `_lock_visit`
    takes; a visit not found here (out of scope, missing) is looked up again by `_lock_visit`, which
    says why."""
    visit_ids = {_uuid(m["id"]) for m in mutations if m.get("entity") == "visit" and m.get("op") in ("update", "delete")}
    answer_ids = {_uuid(m["id"]) for m in mutations if m.get("entity") == "response" and m.get("op") != "create"}
    visit_ids |= {_uuid(m["fields"]["visit_id"]) for m in mutations if m.get("entity") == "response"
                  and m.get("op") == "create" and (m.get("fields") or {}).get("visit_id") is not None}
    visit_ids = {i for i in visit_ids if isinstance(i, uuid.UUID)}
    answer_ids = {i for i in answer_ids if isinstance(i, uuid.UUID)}
    if answer_ids:
        visit_ids |= set(session.scalars(select(Response.visit_id).where(among(session, Response.id, answer_ids))))
    if not visit_ids:
        return
    # A batch of visit edits only (a push submitting 300 visits) needs not their answers, only whether
    # they have any (visits.prepare_submits).
    answers_too = any(m.get("entity") == "response" for m in mutations)
    # The school: whether an inspector still covers it (`visits.require_on_visit`), and for answers its sections.
    loads = [selectinload(Visit.inspector_links), selectinload(Visit.school)]
    if answers_too:  # what answering checks: the answers there (the template's items: `visits.answer_rules`)
        loads += [selectinload(Visit.responses)]
    for visit in session.scalars(select(Visit).where(Visit.id.in_(visit_ids), visit_filter(p)).order_by(Visit.id)
                                 .with_for_update(of=Visit)
                                 .options(*loads)
                                 .execution_options(populate_existing=True)):
        out.locked_visits[visit.id] = visit
        if answers_too:
            out.fresh.add(visit.id)  # its answers were read after the lock
    answers = out.answers = {r.id: r for v in out.locked_visits.values() for r in v.responses} if answers_too else {}
    wanted = set()
    for m in mutations:
        base_version = m.get("base_version")
        if m.get("op") not in ("update", "delete") or not isinstance(base_version, int):
            continue
        rid = _uuid(m["id"])
        record = out.locked_visits.get(rid) if m.get("entity") == "visit" else answers.get(rid)
        if record is not None and record.version != base_version:
            wanted.add((m["entity"], rid, base_version))
    out.bases = base_records(session, wanted)
    submits = [v for v in out.locked_visits.values() if v.status in visits.OPEN]
    if any(m.get("entity") == "visit" and (m.get("fields") or {}).get("status") == VisitStatus.submitted.value
           for m in mutations):
        visits.prepare_submits(session, submits)
        prefetch_open_conflicts(session, [v.id for v in submits])


def _lock_visit(ctx: _Ctx, visit_id) -> Visit | None:
    # FOR UPDATE: concurrent pushes to one visit (or its answers) merge one after another, no lost update.
    visit = ctx.out.locked_visits.get(visit_id)
    if visit is None:
        visit = ctx.session.scalar(select(Visit).where(Visit.id == visit_id, visit_filter(ctx.p))
                                   .with_for_update(of=Visit).execution_options(populate_existing=True))
        if visit is not None:
            ctx.out.pending_locks[visit_id] = visit
    return visit


def _conflict(ctx: _Ctx, entity: str, entity_id, school_id, visit_id, version: int, contested: dict) -> Conflict:
    c = Conflict(id=uuid.uuid4(), entity=entity, entity_id=entity_id, school_id=school_id, visit_id=visit_id,
                 base_version=ctx.m.get("base_version"), server_version=version, fields=contested,
                 device_id=ctx.device_id, mutation_id=ctx.m["mutation_id"], created_by_id=ctx.user.id)
    ctx.session.add(c)  # written with the batch's flush
    conflicts_kept(ctx.session, c)  # a submit later in the batch counts it
    return c


def _outcome(ctx: _Ctx, *, record: dict, version: int, base_version, contested: dict, conflict: Conflict | None,
             merged: bool) -> dict:
    res = {"id": record["id"], "version": version, "record": record}
    if conflict is not None:
        return res | {"status": "conflict", "conflict": {"id": str(conflict.id), "fields": contested}}
    return res | {"status": "merged" if merged else "applied"}


def _device(ctx: _Ctx) -> dict:
    return {"device_id": ctx.device_id}


def _already_there(server: dict, client: dict) -> bool:
    """Every value the device sends is the server's already (e.g. two inspectors both submitted)."""
    return all(same(server.get(k), v) for k, v in client.items())


# --- visits -------------------------------------------------------------------------------------
# The rules of every change live in inspections.visits.service; this translates a mutation into
# its calls: which fields to write after the three-way merge, and how the outcome reads on the wire.

def _visit(ctx: _Ctx, op: str, data: dict) -> dict:
    s = ctx.session
    if op == "create":
        if s.get(Visit, ctx.id) is not None or _was_deleted(s, "visit", ctx.id):
            raise Rejected("this visit id is already used", {"id": ["is already used"]}, code="sync.id_used")
        try:
            visit = visits.create_in_scope(s, actor=ctx.p, school_id=data["school_id"],
                                           inspector_ids=list(data.get("inspector_ids") or []),
                                           planned_for=data.get("planned_for"),
                                           template_version_id=data.get("template_version_id"),
                                           notes=data.get("notes"), id=ctx.id, via="sync")
        except DomainError as e:
            raise Rejected("the school is not in your scope" if "school_id" in e.fields else e.message,
                           {f"fields.{k}": v for k, v in e.fields.items()},
                           code="not_found" if "school_id" in e.fields else e.code or family_code(e.status)) from None
        ctx.out.pending_locks[visit.id] = visit  # created (hence row-locked) by this transaction
        status = data.get("status")
        if status is not None and status != visit.status:
            visits.edit(s, visit, actor=ctx.p, changes={"status": status}, via="sync", context=_device(ctx))
        return _outcome(ctx, record=_visit_wire(visit), version=visit.version, base_version=None, contested={},
                        conflict=None, merged=False)

    visit = _lock_visit(ctx, ctx.id)
    if visit is None:
        _missing(ctx, "visit")
    visits.require_on_visit(ctx.p, visit)
    base_version = ctx.m.get("base_version")
    client = _client_values(data)
    server = _visit_fields(visit)  # what merges (the whole record only where answered with it)
    if visit.status not in visits.OPEN and op == "update" and _already_there(server, client):
        return _outcome(ctx, record=_visit_wire(visit), version=visit.version, base_version=base_version, contested={},
                        conflict=None, merged=base_version != visit.version)
    visits.require_open(visit)
    if op == "delete":
        if base_version != visit.version:
            c = _conflict(ctx, "visit", visit.id, visit.school_id, visit.id, visit.version,
                          {"_deleted": {"base": False, "server": False, "client": True}})
            return _outcome(ctx, record=_visit_wire(visit), version=visit.version, base_version=base_version,
                            contested=c.fields, conflict=c, merged=False)
        visits.delete(s, visit, actor=ctx.p, expected_version=base_version, via="sync", context=_device(ctx))
        ctx.out.locked_visits.pop(visit.id, None)
        return {"status": "applied", "id": str(visit.id), "version": None, "deleted": True}

    wanted_status = client.pop("status", None)
    base = None
    if base_version == visit.version:
        apply, contested = {k: v for k, v in client.items() if not same(server.get(k), v)}, {}
    else:
        base = _base(ctx, "visit", visit.id, base_version)
        apply, contested = three_way(base, server, client)
    if wanted_status is not None:
        # A status is a lifecycle, not free text: moves along it compose (visits.merge_status).
        base_status = server["status"] if base_version == visit.version else (base or {}).get("status")
        verdict = visits.merge_status(VisitStatus(base_status) if base_status else None, visit.status,
                                      VisitStatus(wanted_status))
        if verdict == "keep" and base_version == visit.version and wanted_status != server["status"]:
            # The device saw the current status and asked to go back along the lifecycle (in_progress ->
            # planned): a move no way in allows, refused as PATCH refuses it, never silently kept.
            raise Rejected(f"a {server['status']} visit cannot become {wanted_status}",
                           {"fields.status": [f"cannot go back from {server['status']}"]}, code="visit.cannot_go_back")
        if verdict == "apply":
            apply["status"] = wanted_status
        elif verdict == "conflict":
            contested["status"] = {"base": base_status, "server": server["status"], "client": wanted_status}
    if contested and apply.get("status") == VisitStatus.submitted.value:
        # Submitting would freeze the visit with this very conflict open (visits.transition refuses a
        # submit over open conflicts): refused whole, nothing written; the device pulls, settles, submits.
        names = ", ".join(sorted(contested))
        raise Rejected(f"the visit cannot be submitted: its {names} changed on the server since your copy; "
                       f"pull, settle the difference, then submit",
                       {f"fields.{n}": ["changed on the server since your copy"] for n in contested},
                       code="visit.submit_contested")
    if apply:
        visits.edit(s, visit, actor=ctx.p, changes={k: data[k] for k in apply}, via="sync", context=_device(ctx))
    conflict = None
    if contested:
        conflict = _conflict(ctx, "visit", visit.id, visit.school_id, visit.id, visit.version, contested)
    return _outcome(ctx, record=_visit_wire(visit), version=visit.version, base_version=base_version,
                    contested=contested, conflict=conflict, merged=base_version != server["version"])


# --- responses ----------------------------------------------------------------------------------

def _visit_for_answers(ctx: _Ctx, visit_id, field_name: str | None) -> Visit:
    """The answer's visit, locked, if the caller may answer it; a frozen one is returned too (see
    _frozen_answer), after the same role and membership checks."""
    visit = _lock_visit(ctx, visit_id)
    if visit is None:
        if field_name and _deleted_in_scope(ctx, _uuid(visit_id)):
            raise Rejected("the visit was deleted on the server; your answers are kept on the device",
                           {f"fields.{field_name}": ["is a visit deleted on the server"]}, code="sync.deleted")
        if field_name:
            raise Rejected("the visit is not in your scope", {f"fields.{field_name}": ["is not a visit in your scope"]},
                           code="not_found")
        _missing(ctx, "response")
    try:
        visits.require_may_answer(ctx.p, visit)
    except visits.Frozen:
        pass  # checked last, after role and membership: decided by _frozen_answer
    return visit


def _frozen_answer(ctx: _Ctx, visit: Visit, r: Response | None, data: dict) -> dict | None:
    """On a submitted or cancelled visit, an answer the device sends again as the server has it (both
    inspectors synced the same checklist) is `merged`; any other change is refused as frozen."""
    if visit.status in visits.OPEN:
        return None
    client = _client_values({k: v for k, v in data.items() if k in RESPONSE_FIELDS})
    if r is not None and _already_there(snapshot(r), client):
        return _outcome(ctx, record=snapshot(r), version=r.version, base_version=ctx.m.get("base_version"),
                        contested={}, conflict=None, merged=True)
    visits.require_open(visit)


def _response(ctx: _Ctx, op: str, data: dict) -> dict:
    s = ctx.session
    base_version = ctx.m.get("base_version")
    if op == "create":
        visit = _visit_for_answers(ctx, data["visit_id"], "visit_id")
        section = data.get("section", "")
        errors = visits.check_answer_keys(s, visit, [(data["item_code"], section)])
        if errors:
            raise Rejected("invalid answer", {f"fields.{k}": v for k, v in errors.items()}, code="invalid")
        # The visit is locked, so its loaded answers are complete (read once per batch).
        existing = next((x for x in visit.responses if x.item_code == data["item_code"] and x.section == section), None)
        frozen = _frozen_answer(ctx, visit, existing, data)
        if frozen is not None:
            return frozen
        if existing is not None:
            # Someone else answered this item first (two inspectors on one checklist): merge into
            # their record with no common base; the result names the server's id for the device.
            return _update_response(ctx, visit, existing, None, data, base=EMPTY_ANSWER)
        r, _ = visits.answer(s, visit, actor=ctx.p, item_code=data["item_code"], section=section,
                             changes={k: data[k] for k in RESPONSE_FIELDS if k in data}, id=ctx.id, via="sync",
                             context=_device(ctx))
        return _outcome(ctx, record=snapshot(r), version=r.version, base_version=None, contested={}, conflict=None,
                        merged=False)

    # The answers the pass read with their locked visits (the session's own objects), else the session's.
    r = ctx.out.answers.get(ctx.id)
    if r is None or inspect(r).was_deleted:
        r = s.get(Response, ctx.id)
    if r is None:
        _missing(ctx, "response")
    visit = _visit_for_answers(ctx, r.visit_id, None)
    frozen = _frozen_answer(ctx, visit, r, data) if op == "update" else visits.require_open(visit)
    if frozen is not None:
        return frozen
    if op == "delete":
        if base_version != r.version:
            c = _conflict(ctx, "response", r.id, visit.school_id, visit.id, r.version,
                          {"_deleted": {"base": False, "server": False, "client": True}})
            return _outcome(ctx, record=snapshot(r), version=r.version, base_version=base_version,
                            contested=c.fields, conflict=c, merged=False)
        visits.delete_answer(s, visit, r, actor=ctx.p, expected_version=base_version, via="sync")
        return {"status": "applied", "id": str(r.id), "version": None, "deleted": True}
    return _update_response(ctx, visit, r, base_version, data)


def _update_response(ctx: _Ctx, visit: Visit, r: Response, base_version, data: dict, base: dict | None = None) -> dict:
    s = ctx.session
    if inspect(r).pending:
        s.flush()  # created earlier in this batch (two creates of one item): write it before merging into it
    if visit.id not in ctx.out.fresh:
        s.refresh(r)  # read again now that the visit is locked: another push may just have committed
    server = {k: jsonable(getattr(r, k)) for k in RESPONSE_FIELDS} | {"version": r.version}  # what merges
    client = _client_values({k: v for k, v in data.items() if k in RESPONSE_FIELDS})
    if base_version is not None and base_version == r.version:
        apply, contested = {k: v for k, v in client.items() if not same(server.get(k), v)}, {}
    else:
        apply, contested = three_way(base or _base(ctx, "response", r.id, base_version), server, client)
    if "value" in contested:
        # A value the item does not take is refused, not kept as a conflict for someone to choose later
        # (a value applied is checked by visits.answer).
        visits.require_answer_value(s, visit, r.item_code, data["value"])
    if apply:
        visits.answer(s, visit, actor=ctx.p, item_code=r.item_code, section=r.section,
                      changes={k: data[k] for k in apply}, via="sync", context=_device(ctx))
    conflict = None
    if contested:
        conflict = _conflict(ctx, "response", r.id, visit.school_id, visit.id, r.version, contested)
    record = ctx.out.records[("response", r.id, r.version)] = snapshot(r)
    return _outcome(ctx, record=record, version=r.version, base_version=base_version, contested=contested,
                    conflict=conflict, merged=base_version != server["version"])


# --- ticket events ------------------------------------------------------------------------------

def _ticket_event(ctx: _Ctx, op: str, data: dict) -> dict:
    """A step on a ticket taken offline (e.g. a school answering it): append-only, so never merged
    and never a conflict; the ticket's state machine decides, and its refusal is the reason.
    The event keeps the id the device gave it; an id used before is refused."""
    s = ctx.session
    ticket = s.scalar(select(Ticket).where(Ticket.id == data["ticket_id"],
                                           Ticket.school_id.in_(select(School.id).where(school_filter(ctx.p))))
                      .options(selectinload(Ticket.events)).with_for_update(of=Ticket))
    if ticket is None:
        raise Rejected("the ticket is not in your scope", {"fields.ticket_id": ["is not a ticket in your scope"]},
                       code="not_found")
    plan = [{"milestone": x["milestone"], "due": x["due"].isoformat()} for x in data["plan"]] if data["plan"] else None
    if s.get(TicketEvent, ctx.id) is not None:
        raise Rejected("this step id was already used", {"id": ["is already used by another ticket step"]}, code="sync.id_used")
    ev = tickets.transition(s, ticket, to=data["to"], actor=ctx.p, note=data["note"], plan=plan,
                            photo_ids=data["photo_ids"], event_id=ctx.id)
    audit.record(s, actor_id=ctx.user.id, action="transition", entity="ticket", entity_id=ticket.id,
                 data={"from": ev.from_status, "to": ev.to_status, "device_id": ctx.device_id})
    s.flush()
    return {"status": "applied", "id": str(ev.id), "version": None, "record": snapshot(ev),
            "ticket": {"id": str(ticket.id), "status": ticket.status.value, "version": ticket.version}}
