"""The bulk path of a push: a batch of creates checked up front and written with multi-row INSERTs.

A device's typical batch plans visits and answers their checklists: only `create` mutations of
visits and answers. Such a batch is checked as a whole with a handful of `IN (...)` queries (the
domain rules come from `inspections.visits.service`: inspectors, id reuse, template pinning,
item codes, school sections and the values items take), then its visits, inspector links, answers,
change-log rows, the first versions of visits that the batch then started, idempotency rows (results
without their records, which are the versions' merge bases anyway) and audit records are written with
one COPY per table. A version whose fields are in its change row gets no revision row (`push.base_record`).

`apply` returns None when the batch is not such a batch, or when any mutation of it would not be
`applied` (a refusal, an answer that merges into another one, ...): nothing has been written
then, and the caller applies the batch one mutation at a time, which gives every mutation its own
result. A retry is refused by the database: the idempotency rows go first, and their unique
(device_id, mutation_id) key fails the COPY (a concurrent retry waits on that key until the first
push commits, then fails). That IntegrityError propagates for the caller to roll back its savepoint
and go one by one, which answers `duplicate`. Retries are rare, so the common batch saves a lookup.
"""
from __future__ import annotations

import functools
import json
import uuid
from enum import Enum
from types import SimpleNamespace

import orjson
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, func, inspect, insert, or_, select
from sqlalchemy import Enum as SAEnum
from sqlalchemy import types as sqltypes
from sqlalchemy.types import TypeDecorator
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import Principal, school_filter, visit_filter
from inspections.audit.models import AuditRecord
from inspections.db import among, utcnow
from inspections.errors import DomainError
from inspections.org.models import School
from inspections.templates import service as templates
from inspections.visits import service as visits
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Response, Visit, VisitInspector
from sync import fields as wire
from sync.changelog import _txn_id, jsonable
from sync.models import ChangeLog, Mutation, RecordRevision

_VISIT_KEYS = [a.key for a in inspect(Visit).column_attrs]
_RESPONSE_KEYS = [a.key for a in inspect(Response).column_attrs]
_STAFF = (Role.admin, Role.office, Role.inspector)
# SQLAlchemy type -> PostgreSQL type name for binary COPY (first match wins: BigInteger before Integer).
_PG_TYPES = ((sqltypes.Uuid, "uuid"), (postgresql.JSONB, "jsonb"), (sqltypes.JSON, "json"),
             (sqltypes.DateTime, lambda t: "timestamptz" if t.timezone else "timestamp"), (sqltypes.Date, "date"),
             (sqltypes.Boolean, "bool"), (sqltypes.BigInteger, "int8"), (sqltypes.SmallInteger, "int2"),
             (sqltypes.Integer, "int4"), (sqltypes.Text, "text"), (sqltypes.String, "varchar"))


_PLAIN = (str, int, bool, float, type(None))


def _wire(row: dict, keys: list[str], now, now_text: str, extra: dict | None = None, texts: dict | None = None) -> dict:
    """The row as the wire shows it (`changelog.jsonable`), with the batch's one timestamp formatted once and
    the text of ids many rows share (their visit, the inspector) kept in `texts` (id -> text)."""
    out = {}
    for k in keys:
        v = row.get(k)
        if v is now:
            out[k] = now_text
        elif type(v) in _PLAIN:
            out[k] = v
        elif texts is not None and type(v) is uuid.UUID:
            t = texts.get(v)
            out[k] = t if t is not None else texts.setdefault(v, str(v))
        else:
            out[k] = jsonable(v)
    return out | extra if extra else out


def _json_dumps(value) -> bytes | str:
    """JSON for a jsonb column: orjson (a tenth of the standard library's time), or json for what it
    refuses (an integer beyond 64 bits in an answer)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value)


def _pg_type(column, dialect) -> str | None:
    """The PostgreSQL type a binary COPY sends for a column, or None if not one of these."""
    t = column.type.dialect_impl(dialect)
    if isinstance(t, TypeDecorator):  # UTCDateTime, JSON (jsonb here), ...
        t = t.load_dialect_impl(dialect).dialect_impl(dialect)
    for kind, name in _PG_TYPES:
        if isinstance(t, kind):
            return name(t) if callable(name) else name
    return None


def _holds_json(t) -> bool:
    return isinstance(t, JSON) or isinstance(getattr(t, "impl_instance", None), JSON)


@functools.lru_cache(maxsize=64)
def _copy_plan(table, cols: tuple[str, ...], dialect) -> tuple[list, list[int], list[int]]:
    """For these columns of a table: the binary COPY types, and which hold JSON and which enums (worked
    out once per table and column list, not on every push)."""
    return ([_pg_type(table.c[c], dialect) for c in cols],
            [i for i, c in enumerate(cols) if _holds_json(table.c[c].type)],
            [i for i, c in enumerate(cols) if isinstance(table.c[c].type, SAEnum)])


def insert_rows(conn, table, rows: list[dict]) -> None:
    """Insert rows (all with the same keys): streamed with binary COPY on PostgreSQL, executemany elsewhere.

    COPY sends the whole batch in one round trip and skips per-row statement handling. In binary
    format the server parses no text either (uuids, timestamps, numbers arrive as they are stored);
    psycopg formats the rows in C. JSON columns go as jsonb (orjson), enums by their value. An
    IntegrityError (a retry, an id used meanwhile) is raised as SQLAlchemy's.
    """
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    cols = tuple(rows[0])
    types, json_at, enum_at = _copy_plan(table, cols, conn.dialect)
    binary = None not in types
    try:
        with conn.connection.driver_connection.cursor() as cursor, \
                cursor.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN"
                            + (" (FORMAT BINARY)" if binary else "")) as copy:
            if binary:
                copy.set_types(types)
            for row in rows:
                values = [row[c] for c in cols]
                for i in json_at:
                    values[i] = Jsonb(values[i], dumps=_json_dumps)
                for i in enum_at:
                    if isinstance(values[i], Enum):
                        values[i] = values[i].value
                copy.write_row(values)
    except psycopg.IntegrityError as e:
        raise IntegrityError(f"COPY {table.name}", None, e) from e


def _columns(conn, table, cols: tuple[str, ...], rows: list[dict]) -> tuple[str, list]:
    """`unnest(%b::type[], ...)` over these columns of a table, and its parameters: the rows as one array
    per column (JSON as jsonb, enums by their value), which PostgreSQL reads as one set of rows."""
    types, json_at, enum_at = _copy_plan(table, cols, conn.dialect)
    arrays = [[row[c] for row in rows] for c in cols]
    for i in json_at:
        arrays[i] = [Jsonb(v, dumps=_json_dumps) for v in arrays[i]]  # None is JSON null, as the ORM writes it
    for i in enum_at:
        arrays[i] = [v.value if isinstance(v, Enum) else v for v in arrays[i]]
    # %b: each array goes in binary (no quoting of every element, which took longer than the UPDATE)
    return "unnest(" + ", ".join(f"%b::{t}[]" for t in types) + ")", arrays


def update_rows(conn, table, cols: tuple[str, ...], rows: list) -> None:
    """`UPDATE table SET cols[1:] FROM unnest(...) WHERE id = ...`: these columns of these rows (mappings
    holding them; cols[0] is "id") in one statement (PostgreSQL). StaleDataError, and the caller's
    transaction rolls back, if any row is not there."""
    source, params = _columns(conn, table, cols, rows)
    sets = ", ".join(f'"{c}" = v."{c}"' for c in cols[1:])
    names = ", ".join(f'"{c}"' for c in cols)
    n = conn.exec_driver_sql(f"UPDATE {table.name} AS t SET {sets} FROM {source} AS v({names}) WHERE t.id = v.id",
                             tuple(params)).rowcount
    if n != len(rows):
        from sqlalchemy.orm.exc import StaleDataError
        raise StaleDataError(f"UPDATE {table.name} matched {n} rows of {len(rows)}")


def write_updates(session: Session, records: dict | None = None) -> None:
    """Write the changed columns of the session's changed visits and answers with one
    `UPDATE ... FROM unnest(...)` per table and set of columns, with the change rows a flush logs for
    them (`changelog.rows_for`), and mark them written, as a flush leaves them (also for
    a savepoint rolled back later, which expires them). PostgreSQL only; whatever else the session holds
    (new or deleted records, a visit's inspectors or answers changed, a visit submitted, whose flush
    logs more) is left to the next flush, as is everything on another database.

    `records` ({(entity, id, version): its fields as the wire shows them}) are versions the caller
    has already shown (a push's results): their change rows hold the same fields, not made twice.

    The flush of 500 changed answers sent 500 UPDATE statements (pipelined) and spent more time
    deciding what to write than the batch spent deciding its changes."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    linked = {o.visit_id for o in (*session.new, *session.deleted) if isinstance(o, VisitInspector)}
    groups: dict[tuple, list] = {}
    written = []
    for obj in session.dirty:
        cls = type(obj)
        if cls is not Response and cls is not Visit:
            continue
        state = inspect(obj)
        columns = _updatable(state.mapper)
        if state.deleted or not state.committed_state or any(k not in columns for k in state.committed_state):
            continue  # a relationship changed (answers, inspectors): the flush writes it
        keys = tuple(sorted(k for k in state.committed_state
                            if state.manager[k].impl.get_history(state, state.dict).has_changes()))
        if not keys or not _onupdate(state.mapper) <= set(keys):
            continue  # unchanged, or a column the flush stamps itself (updated_at, unless the service set it)
        if cls is Visit and (obj.id in linked or ("status" in keys and obj.status == VisitStatus.submitted)):
            continue  # its flush logs more (inspectors' scope, the answers a school now sees)
        groups.setdefault((cls, keys), []).append(obj)
        written.append(obj)
    if not written:
        return
    from sync.changelog import rows_for
    changes = rows_for(session, (), (), (), changed=written, records=records)
    for (cls, keys), objs in groups.items():
        table = cls.__table__
        cols = ("id", *(table.c[k].key for k in keys))
        # The written attributes are loaded (they were changed), as is the primary key.
        update_rows(conn, table, cols, [o.__dict__ for o in objs])
    if changes:
        insert_rows(conn, ChangeLog.__table__, changes)
    states = [inspect(o) for o in written]
    for state in states:
        state._commit_all(state.dict, session.identity_map)  # as a flush leaves what it wrote
    # Known to the transaction as written in it, so a rolled-back savepoint expires them (private API of
    # SQLAlchemy's Session, what its flush calls; tests/sync/test_batch_writes.py covers the rollback).
    session._register_altered(states)


@functools.lru_cache(maxsize=None)
def _onupdate(mapper) -> frozenset[str]:
    """The column attributes a flush sets on every UPDATE that does not set them (`onupdate`)."""
    return frozenset(a.key for a in mapper.column_attrs if a.columns[0].onupdate is not None)


@functools.lru_cache(maxsize=None)
def _updatable(mapper) -> frozenset[str]:
    """The column attributes a batch of updates writes itself (not the primary key)."""
    return frozenset(a.key for a in mapper.column_attrs if not a.columns[0].primary_key)


def apply(session: Session, *, user: User, principal: Principal, device_id: str, mutations: list[dict]):
    """Write an all-create batch in bulk and return its PushOutcome, or None (nothing written)."""
    from sync.push import PushOutcome
    p = principal
    if p.role not in _STAFF:
        return None
    mids = [m["mutation_id"] for m in mutations]
    ids = [m["id"] for m in mutations]
    if len(set(mids)) != len(mids) or len(set(ids)) != len(ids):
        return None
    if any(m["op"] != "create" or m["entity"] not in ("visit", "response") for m in mutations):
        return None
    if p.role != Role.inspector and any(m["entity"] == "response" for m in mutations):
        return None  # only inspectors answer checklists: refused one by one
    loaded = []
    for m in mutations:
        data, errors = wire.load(m["entity"], "create", m.get("fields") or {})
        if errors:
            return None
        loaded.append(data)

    # A retry of this batch (or of any mutation in it) is refused by the unique (device_id, mutation_id)
    # key of its idempotency rows, written first; a response id in use fails its INSERT. Either way the
    # caller rolls back and goes one by one. Ids of records deleted since (visits: in check_new) are
    # never used again.
    if visits.deleted_ids(session, "response", [m["id"] for m in mutations if m["entity"] == "response"]):
        return None

    # New visits: schools in scope (one query), then the domain's checks for all of them at once.
    new_visits: dict[uuid.UUID, dict] = {}
    specs = []
    school_ids = {d["school_id"] for m, d in zip(mutations, loaded) if m["entity"] == "visit"}
    schools = {s.id: s for s in session.scalars(select(School).where(School.id.in_(school_ids), school_filter(p)))} \
        if school_ids else {}
    for m, d in zip(mutations, loaded):
        if m["entity"] != "visit":
            continue
        if d["school_id"] not in schools or d.get("status", VisitStatus.planned) != VisitStatus.planned:
            return None
        inspector_ids = list(d.get("inspector_ids") or [])
        if p.role == Role.inspector and p.user_id not in inspector_ids:
            inspector_ids.insert(0, p.user_id)
        specs.append(dict(school=schools[d["school_id"]], inspector_ids=inspector_ids, planned_for=d.get("planned_for"),
                          template_version_id=d.get("template_version_id"), id=m["id"]))
    for sp, (version, errors) in zip(specs, visits.check_new(session, specs) if specs else []):
        if errors:
            return None
        new_visits[sp["id"]] = dict(spec=sp, version=version, answered=False)

    # Answers: to a visit created earlier in this batch, or to an existing open visit (locked).
    targets = {d["visit_id"] for m, d in zip(mutations, loaded) if m["entity"] == "response"}
    old_ids = targets - new_visits.keys()
    old_visits = {v.id: v for v in session.scalars(
        select(Visit).where(Visit.id.in_(old_ids), visit_filter(p)).with_for_update(of=Visit)
        .execution_options(populate_existing=True))} if old_ids else {}
    if len(old_visits) != len(old_ids):
        return None
    for v in old_visits.values():
        if p.user_id not in v.inspector_ids or v.status not in (VisitStatus.planned, VisitStatus.in_progress):
            return None
        try:
            visits.require_on_visit(p, v)  # still covering its school
        except DomainError:
            return None
    answered = {(r.visit_id, r.item_code, r.section) for r in session.scalars(
        select(Response).where(Response.visit_id.in_(old_ids)))} if old_ids else set()
    rules: dict = {}
    seen_visits: set = set()
    for m, d in zip(mutations, loaded):
        if m["entity"] == "visit":
            seen_visits.add(m["id"])
            continue
        vid = d["visit_id"]
        if vid not in rules:
            if vid in new_visits:
                if vid not in seen_visits:
                    return None  # answered before it is created: refused one by one
                checklist = templates.checklist(new_visits[vid]["version"])
                school = new_visits[vid]["spec"]["school"]
            else:
                checklist = templates.checklist_of(session, old_visits[vid].template_version_id)
                school = old_visits[vid].school
            rules[vid] = (checklist, visits.section_levels(school))
        checklist, sections = rules[vid]
        key = (vid, d["item_code"], d.get("section", ""))
        if key in answered or visits.key_errors(checklist, sections, key[1], key[2]):
            return None  # invalid, or merges into another answer: one by one
        if d.get("value") is not None and visits.value_problem(checklist, d["item_code"], d["value"]):
            return None  # a value its item does not take: refused one by one (visits.answer), the rest applied
        answered.add(key)

    # Everything is checked: write it.
    now = utcnow()
    now_text = jsonable(now)
    txn = _txn_id(session)
    visit_rows, link_rows, response_rows, changes, revisions, mutation_rows, audits, results = ([] for _ in range(8))
    wire_visits: dict = {}
    answer_audits: dict = {}
    texts: dict = {}  # id -> its text, for ids many answers share
    for m, d in zip(mutations, loaded):
        if m["entity"] == "visit":
            nv = new_visits[m["id"]]
            sp = nv["spec"]
            row = dict(id=m["id"], school_id=sp["school"].id, template_version_id=nv["version"].id,
                       status=VisitStatus.planned, planned_for=sp["planned_for"], started_at=None, submitted_at=None,
                       created_by_id=user.id, notes=d.get("notes"), version=1, created_at=now, updated_at=now)
            visit_rows.append(row)
            insp = list(dict.fromkeys(sp["inspector_ids"]))
            link_rows.extend(dict(visit_id=m["id"], inspector_id=i) for i in insp)
            record = _wire(row, _VISIT_KEYS, now, now_text, {"inspector_ids": sorted(str(i) for i in insp)})
            wire_visits[m["id"]] = (row, record)
            result = {"mutation_id": m["mutation_id"], "id": record["id"], "version": 1, "record": record,
                      "status": "applied"}
            audits.append(dict(id=uuid.uuid4(), at=now, actor_id=user.id, action="sync.create", entity="visit",
                               entity_id=str(m["id"]), data={}))
        else:
            vid = d["visit_id"]
            row = dict(id=m["id"], visit_id=vid, item_code=d["item_code"], section=d.get("section", ""),
                       value=d.get("value"), note=d.get("note"), flagged=d.get("flagged", False),
                       answered_by_id=user.id, version=1, created_at=now, updated_at=now)
            response_rows.append(row)
            record = _wire(row, _RESPONSE_KEYS, now, now_text, texts=texts)
            school_id = new_visits[vid]["spec"]["school"].id if vid in new_visits else old_visits[vid].school_id
            # Its version 1 is this change row (no separate revision row: see base_record).
            changes.append(dict(txn_id=txn, entity="response", entity_id=m["id"], op="upsert", version=1,
                                school_id=school_id, visit_id=vid, data=record, changed_at=now))
            result = {"mutation_id": m["mutation_id"], "id": record["id"], "version": 1, "record": record,
                      "status": "applied"}
            # One audit record per visit for the batch's answers to it, as PUT .../responses writes.
            if vid not in answer_audits:
                answer_audits[vid] = dict(id=uuid.uuid4(), at=now, actor_id=user.id, action="sync.answer",
                                          entity="visit", entity_id=str(vid),
                                          data={"items": [], "device_id": device_id})
                audits.append(answer_audits[vid])
            answer_audits[vid]["data"]["items"].append(d["item_code"])
            if vid in new_visits and not new_visits[vid]["answered"]:
                # The first answer starts the visit (planned -> in progress), as one by one.
                new_visits[vid]["answered"] = True
                row_v = wire_visits[vid][0]
                row_v.update(status=VisitStatus.in_progress, started_at=now, version=2)
            elif vid in old_visits and old_visits[vid].status == VisitStatus.planned:
                visits.transition(session, old_visits[vid], VisitStatus.in_progress)
                visits.bump(old_visits[vid])
        results.append(result)
        # Stored without the record, which stays available as that version's merge base.
        lean = {k: v for k, v in result.items() if k != "record"} | {"record_entity": m["entity"]}
        mutation_rows.append(dict(device_id=device_id, mutation_id=m["mutation_id"], user_id=user.id, result=lean,
                                  received_at=now, entity_id=m["id"]))
    visit_changes = []
    for vid, (row, record) in wire_visits.items():
        final = _wire(row, _VISIT_KEYS, now, now_text, {"inspector_ids": record["inspector_ids"]})
        if row["version"] > 1:
            # Version 1 (planned) has no change row of its own: keep it as a revision. The final
            # version is the change row below.
            revisions.append(dict(entity="visit", entity_id=vid, version=1, data=record, created_at=now))
        visit_changes.append(dict(txn_id=txn, entity="visit", entity_id=vid, op="upsert", version=row["version"],
                               school_id=row["school_id"], visit_id=vid, data=final, changed_at=now))
    changes = visit_changes + changes

    conn = session.connection()
    for model, rows in ((Mutation, mutation_rows), (Visit, visit_rows), (VisitInspector, link_rows),
                        (Response, response_rows), (ChangeLog, changes), (RecordRevision, revisions),
                        (AuditRecord, audits)):
        if rows:
            insert_rows(conn, model.__table__, rows)
    session.flush()  # started existing visits: the session hook logs their new version
    return PushOutcome(results=results)


# The answers' columns a push's update reads (as `_answer_record` shows them), and those it writes (all of
# them, so one UPDATE takes every answer of a batch).
_ANSWER_READS = ("id", "visit_id", "item_code", "section", "value", "note", "flagged", "version", "created_at")
_ANSWER_WRITES = ("id", "value", "note", "flagged", "answered_by_id", "version", "updated_at")


def _answer_record(row: dict, texts: dict, now_text: str) -> dict:
    """An answer's row as the wire shows it (`changelog.snapshot`, in the mapper's order); `texts` holds
    the text of the ids many answers share, the batch's time is `now_text`."""
    value = row["value"]
    return {"visit_id": texts[row["visit_id"]], "item_code": row["item_code"], "section": row["section"],
            "value": value if type(value) in _PLAIN else jsonable(value), "note": row["note"],
            "flagged": row["flagged"], "answered_by_id": texts[row["answered_by_id"]], "id": str(row["id"]),
            "created_at": row["created_at"].isoformat(), "updated_at": now_text, "version": row["version"]}


def apply_updates(session: Session, *, user: User, principal: Principal, device_id: str, mutations: list[dict]):
    """Write an all-update batch set-based and return its PushOutcome, or None (nothing written).

    The batch a device sends after editing answers it synced before: each mutation an `update` of an
    answer, or of a visit's notes, made on the version the server holds, or on an older one whose changes
    merge field by field (`three_way`) with nothing contested. Decided on plain rows by the
    services' own rules (`visits.require_may_answer`, `require_version`, `answer_changes` and, for a visit,
    `require_on_visit`, `require_open`, `edit_changes`), read in three queries: the visits, locked FOR
    UPDATE in id order with their inspectors (`visit_filter`: out of scope is not found), then their
    answers, then nothing else. Written with one `UPDATE ... FROM unnest(...)` per table and a COPY each
    of idempotency rows (first: a retry fails their unique key, as `apply` says), change rows (each
    version's fields, its merge base) and audit records: one per visit for the batch's answers to it,
    naming their items in order (as a bulk create and PUT .../responses write; the passes write one per
    answer), one per visit edit. Otherwise the batch leaves what one savepoint per mutation leaves.

    Anything else (another operation, a contested field, a record not found, a refusal, a change that
    changes nothing, a planned visit a first answer would start, a visit edit of more than its notes,
    another role than an inspector, a database other than PostgreSQL) answers None, and the caller's
    passes decide the batch mutation by mutation, which gives every mutation its own result.
    """
    from sync.merge import three_way
    from sync.push import RESPONSE_FIELDS, PushOutcome, base_records
    p = principal
    if p.role != Role.inspector or session.get_bind().dialect.name != "postgresql":
        return None
    if any(m["op"] != "update" or m["entity"] not in ("visit", "response") or type(m.get("base_version")) is not int
           or not isinstance(m["id"], uuid.UUID) for m in mutations):
        return None
    mids = [m["mutation_id"] for m in mutations]
    ids = [m["id"] for m in mutations]
    if len(set(mids)) != len(mids) or len(set(ids)) != len(ids):
        return None
    loaded = []
    for m in mutations:
        data, errors = wire.load(m["entity"], "update", m.get("fields") or {})
        if errors or not data or (m["entity"] == "visit" and set(data) != {"notes"}):
            return None
        loaded.append(data)
    answer_ids = [m["id"] for m in mutations if m["entity"] == "response"]
    edited_ids = [m["id"] for m in mutations if m["entity"] == "visit"]

    # The visits, locked in id order (as every push locks them), with their inspectors; then their answers,
    # read after the lock (another push to them has committed or waits).
    vt, rt, it = Visit.__table__, Response.__table__, VisitInspector.__table__
    inspectors = select(func.array_agg(it.c.inspector_id)).where(it.c.visit_id == vt.c.id).scalar_subquery()
    school_path = select(School.jurisdiction_path).where(School.id == vt.c.school_id).scalar_subquery()
    rows = session.execute(
        select(vt, inspectors.label("inspector_ids"), school_path.label("school_path"))
        .where(or_(vt.c.id.in_(select(rt.c.visit_id).where(among(session, rt.c.id, answer_ids))),
                   among(session, vt.c.id, edited_ids)),
               visit_filter(p))
        .order_by(vt.c.id).with_for_update(of=vt)).all()
    by_visit = {}
    for row in rows:
        v = SimpleNamespace(**row._mapping)
        v.inspector_ids = v.inspector_ids or []
        by_visit[v.id] = v
    answers = {}
    if answer_ids:
        # Plain tuples from the driver (its own C loaders for uuid, jsonb and timestamptz, which the
        # session's connection reads in UTC): the ORM's row processing took longer than the query.
        cursor = session.connection().exec_driver_sql(
            f"SELECT {', '.join(_ANSWER_READS)} FROM responses WHERE id = ANY(%(ids)s)", {"ids": answer_ids})
        for values in cursor:
            answers[values[0]] = SimpleNamespace(**dict(zip(_ANSWER_READS, values)))

    # Each record, and the merge base of an update made on an older version (a device's copy of a visit
    # it created is version 1, which its first answer moved on to 2 on the server).
    records = []
    for m in mutations:
        if m["entity"] == "response":
            record = answers.get(m["id"])
            visit = by_visit.get(record.visit_id) if record is not None else None
        else:
            record = visit = by_visit.get(m["id"])
        if visit is None:
            return None  # missing or out of scope: one by one says which
        records.append((record, visit))
    stale = {(m["entity"], m["id"], m["base_version"]) for m, (record, _) in zip(mutations, records)
             if record.version != m["base_version"]}
    bases = base_records(session, stale) if stale else {}

    # Every mutation decided by the services' rules before anything is written.
    now = utcnow()
    decided = []
    try:
        for m, d, (record, v) in zip(mutations, loaded, records):
            if m["entity"] == "response":
                if v.status == VisitStatus.planned:
                    return None  # a first answer starts it (never an answer's update): the passes move it
                visits.require_may_answer(p, v)
                fields = {k: jsonable(getattr(record, k)) for k in RESPONSE_FIELDS}
            else:
                visits.require_on_visit(p, v)
                visits.require_open(v)
                fields = {"notes": v.notes}
            if record.version != m["base_version"]:
                # Changed on the server since the device's copy: the fields the server has not changed
                # since that base are applied (`three_way`), as the passes merge them.
                base = bases.get((m["entity"], m["id"], m["base_version"]))  # None: every change contested
                apply, contested = three_way(base, fields, {k: jsonable(x) for k, x in d.items()})
                if contested:
                    return None  # kept as a conflict: one by one
                d = {k: d[k] for k in apply}
            if m["entity"] == "response":
                changes = visits.answer_changes(templates.checklist_of(session, v.template_version_id), record, d)
            else:
                changes = visits.edit_changes(v, d)
            if not changes:
                return None  # sent again as it stands (keeps its version), or merged into nothing: one by one
            decided.append((m, v, record if m["entity"] == "response" else None, changes))
    except DomainError:
        return None  # refused: the passes give it its own result, the rest applied

    # Write it.
    now_text = jsonable(now)
    texts = {user.id: str(user.id)} | {vid: str(vid) for vid in by_visit}  # each id's text made once
    txn = _txn_id(session)
    answer_rows, visit_rows, changes_rows, mutation_rows, results = [], [], [], [], []
    audits = []
    answer_audits: dict = {}
    for m, v, r, changes in decided:
        if r is not None:
            row = dict(r.__dict__) | changes | dict(answered_by_id=user.id, version=r.version + 1, updated_at=now)
            answer_rows.append(row)
            record = _answer_record(row, texts, now_text)
            changes_rows.append(dict(txn_id=txn, entity="response", entity_id=r.id, op="upsert", version=row["version"],
                                     school_id=v.school_id, visit_id=v.id, data=record, changed_at=now))
            if v.id not in answer_audits:
                answer_audits[v.id] = dict(id=uuid.uuid4(), at=now, actor_id=user.id, action="sync.answer",
                                           entity="visit", entity_id=texts[v.id],
                                           data={"items": [], "device_id": device_id})
                audits.append(answer_audits[v.id])
            answer_audits[v.id]["data"]["items"].append(r.item_code)
        else:
            inspector_ids = sorted(str(i) for i in v.inspector_ids)
            row = {k: getattr(v, k) for k in _VISIT_KEYS} | changes | dict(version=v.version + 1, updated_at=now)
            visit_rows.append(row)
            record = _wire(row, _VISIT_KEYS, now, now_text, {"inspector_ids": inspector_ids})
            changes_rows.append(dict(txn_id=txn, entity="visit", entity_id=v.id, op="upsert", version=row["version"],
                                     school_id=v.school_id, visit_id=v.id, data=record, changed_at=now))
            audits.append(dict(id=uuid.uuid4(), at=now, actor_id=user.id, action="sync.update", entity="visit",
                               entity_id=texts[v.id], data={"fields": sorted(changes), "device_id": device_id}))
        result = {"mutation_id": m["mutation_id"], "id": record["id"], "version": row["version"], "record": record,
                  "status": "applied" if m["base_version"] == row["version"] - 1 else "merged"}
        results.append(result)
        # Stored without the record: that version's change row holds it (`original_result`).
        lean = {k: x for k, x in result.items() if k != "record"} | {"record_entity": m["entity"]}
        mutation_rows.append(dict(device_id=device_id, mutation_id=m["mutation_id"], user_id=user.id, result=lean,
                                  received_at=now, entity_id=m["id"]))

    conn = session.connection()
    insert_rows(conn, Mutation.__table__, mutation_rows)
    for table, cols, rows in ((rt, _ANSWER_WRITES, answer_rows), (vt, ("id", "notes", "version", "updated_at"),
                                                                  visit_rows)):
        if rows:
            update_rows(conn, table, cols, rows)  # the visits are locked: every row is there
    insert_rows(conn, ChangeLog.__table__, changes_rows)
    insert_rows(conn, AuditRecord.__table__, audits)
    return PushOutcome(results=results)
