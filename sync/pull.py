"""Pulling changes: the caller's slice of the change log in commit order, paged by opaque cursors."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import orjson
from sqlalchemy import Text, and_, cast, func, literal_column, or_, select, text, true
from sqlalchemy.orm import Session

from inspections.accounts.enums import Role
from inspections.accounts.scope import Principal, school_filter, visit_filter
from inspections.org.models import School
from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate, TemplateVersion
from inspections.visits.models import Visit
from sync.models import ChangeLog, SyncCommit

SCHOOL_BOUND = ("school", "ticket", "ticket_event")
END_OF_COMMIT = 2**62  # a seq past every change of a commit
VISIT_BOUND = ("visit", "response", "photo")


class CursorGone(Exception):
    """The cursor is unknown, tampered with or too old: the device must resync from scratch."""


@dataclass
class Position:
    commit_seq: int = 0
    seq: int = 0


def encode_cursor(pos: Position, *, secret: str, now: float | None = None, scope: str = "") -> str:
    """An opaque, signed cursor for a position in the log, with the time it was issued and the scope
    fingerprint of the caller it was issued to (`Principal.scope_tag`)."""
    body = json.dumps([pos.commit_seq, pos.seq, int(now if now is not None else time.time()), scope]).encode()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(body + b"." + sig).decode().rstrip("=")


def decode_cursor(cursor: str, *, secret: str, max_age_days: float, scope: str = "") -> Position:
    """The position a cursor stands for, or CursorGone.

    A cursor issued under another scope is gone too: the change log is filtered by what the caller
    may see now, so records that left the caller's scope would never reach it as deletes. A full
    resync makes the device drop them.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body, sig = raw[:-13], raw[-12:]
        if raw[-13:-12] != b"." or not hmac.compare_digest(
                sig, hmac.new(secret.encode(), body, hashlib.sha256).digest()[:12]):
            raise CursorGone("this cursor was not issued by this server")
        commit_seq, seq, issued, issued_scope = json.loads(body)
        if not all(isinstance(x, int) for x in (commit_seq, seq, issued)) or not isinstance(issued_scope, str):
            raise ValueError
    except CursorGone:
        raise
    except (ValueError, TypeError, json.JSONDecodeError):
        raise CursorGone("this cursor is not one this server issued") from None
    if time.time() - issued > max_age_days * 86400:
        # Tombstones older than the retention may have been pruned: the device could miss a delete.
        raise CursorGone(f"this cursor is older than {max_age_days:g} days; resync from scratch")
    if issued_scope != scope:
        raise CursorGone("what this account may see has changed since this cursor was issued (schools, "
                         "jurisdiction or visits); resync from scratch")
    return Position(commit_seq, seq)


def scope_criterion(session: Session, p: Principal):
    """SQL criterion on ChangeLog rows the principal may see (evaluated against current data)."""
    if p.role == Role.admin:
        return true()
    # Template versions as the templates API shows them (templates.visible_filter, the one rule): national
    # ones, the overlays on the path of every school the caller sees, and those below it (what it oversees).
    templates_in_scope = ChangeLog.entity_id.in_(
        select(TemplateVersion.id).join(ChecklistTemplate).where(templates.visible_filter(session, p)))
    in_schools = ChangeLog.school_id.in_(select(School.id).where(school_filter(p)))
    in_visits = ChangeLog.visit_id.in_(select(Visit.id).where(visit_filter(p)))
    clauses = [
        and_(ChangeLog.entity == "template_version", templates_in_scope),
        and_(ChangeLog.entity.in_(SCHOOL_BOUND), in_schools),
        and_(ChangeLog.entity.in_(VISIT_BOUND), ChangeLog.op == "upsert", in_visits),
        and_(ChangeLog.entity == "photo", ChangeLog.visit_id.is_(None), in_schools),
    ]
    if p.role != Role.school:
        # A deleted visit is gone from visit_filter; its tombstone goes to everyone in the school's scope.
        # (Schools never need one: only planned, never-submitted visits can be deleted.)
        clauses.append(and_(ChangeLog.entity.in_(VISIT_BOUND), ChangeLog.op == "delete", in_schools))
    return or_(*clauses)


def change_out(row) -> dict:
    """A change as the wire shows it."""
    return {"entity": row.entity, "id": str(row.entity_id), "op": row.op, "version": row.version,
            "data": row.data, "changed_at": row.changed_at.isoformat()}


def wire_json(c):
    """SQL for a change as the wire shows it (`change_out`), as JSON text built by PostgreSQL: the stored
    jsonb goes out without being decoded and encoded again in Python. Keys in sorted order, as the API
    writes them; `changed_at` in Python's isoformat (UTC, microseconds only when not zero). The same
    JSON values as `change_out` (tests/sync/test_pull_wire.py); only the spacing and the order of keys
    inside `data` differ."""
    # One to_char, then the whole-second case (isoformat writes no ".000000"); cheaper than two to_chars.
    changed_at = func.replace(func.to_char(func.timezone("UTC", c.changed_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
                              ".000000+", "+")
    return cast(func.json_build_object(literal_column("'changed_at'"), changed_at, literal_column("'data'"), c.data,
                                       literal_column("'entity'"), c.entity, literal_column("'id'"), c.entity_id,
                                       literal_column("'op'"), c.op, literal_column("'version'"), c.version),
                Text).label("wire")


def _page_query(session: Session, principal: Principal, pos: Position, last: int, limit: int, *, wire: bool = False):
    in_window = SyncCommit.commit_seq.between(pos.commit_seq, last)
    if session.get_bind().dialect.name != "postgresql":
        return (select(ChangeLog.__table__, SyncCommit.commit_seq)
                .join(SyncCommit, SyncCommit.txn_id == ChangeLog.txn_id)
                .where(in_window, or_(SyncCommit.commit_seq > pos.commit_seq, ChangeLog.seq > pos.seq),
                       scope_criterion(session, principal))
                .order_by(SyncCommit.commit_seq, ChangeLog.seq).limit(limit + 1))
    # LATERAL: walk the window's commits in order and fetch each one's changes by (txn_id, seq);
    # a plain join lets the planner hash-join the whole log, which grows with its size.
    k = select(SyncCommit.txn_id, SyncCommit.commit_seq).where(in_window).subquery("k")
    # (ORDER BY + LIMIT inside also keeps the planner from flattening the LATERAL back into a join.)
    # The cursor's place inside its own commit applies *inside* the LATERAL, before its LIMIT: a commit
    # with more visible changes than a page is read on from where the last page stopped.
    c = (select(ChangeLog.__table__)
         .where(ChangeLog.txn_id == k.c.txn_id, or_(k.c.commit_seq > pos.commit_seq, ChangeLog.seq > pos.seq),
                scope_criterion(session, principal))
         .order_by(ChangeLog.seq).limit(limit + 1).lateral("c"))
    # With `wire`, a row is what the page needs besides the change's JSON: its place and what evidence reads.
    cols = [c.c.seq, c.c.entity, c.c.op, c.c.visit_id, wire_json(c.c)] if wire else [c]
    return (select(*cols, k.c.commit_seq).select_from(k).join(c, true())
            .order_by(k.c.commit_seq, c.c.seq).limit(limit + 1))


def pull(session: Session, principal: Principal, *, cursor: str | None, limit: int, secret: str,
         max_age_days: float, wire: bool = False) -> dict:
    """One page of changes after the cursor (from the start when None), oldest commit first.

    With `wire`, on PostgreSQL, the changes are `orjson.Fragment`s: their JSON text built by the
    database (`wire_json`), for a response written by orjson; elsewhere, and without it, dicts."""
    scope = principal.scope_tag()
    pos = decode_cursor(cursor, secret=secret, max_age_days=max_age_days, scope=scope) if cursor else Position()
    if pos.commit_seq > (session.scalar(select(func.max(SyncCommit.commit_seq))) or 0):
        raise CursorGone("this cursor points past the end of this server's log")
    # Work per page is bounded by a window of commits (not by how many changes are out of scope):
    # commit sequences only grow in commit order, so nothing can appear later inside the window.
    # A cursor past the end of its commit starts the window at the next one: otherwise a page of one
    # commit with nothing visible to the caller would be that same commit again, forever.
    start = SyncCommit.commit_seq > pos.commit_seq if pos.seq >= END_OF_COMMIT else SyncCommit.commit_seq >= pos.commit_seq
    window = session.scalars(select(SyncCommit.commit_seq).where(start)
                             .order_by(SyncCommit.commit_seq).limit(limit)).all()
    if not window:
        return {"changes": [], "has_more": False, "cursor": encode_cursor(pos, secret=secret, scope=scope),
                "snapshot": cursor is None, "evidence": {}}
    last = window[-1]
    if session.get_bind().dialect.name == "postgresql":
        # The per-commit subplans inflate the estimated cost past the JIT threshold; compiling
        # costs ~1 s and the page itself takes a few ms.
        session.execute(text("SET LOCAL jit = off"))
    wire = wire and session.get_bind().dialect.name == "postgresql"
    rows = session.execute(_page_query(session, principal, pos, last, limit, wire=wire)).all()
    if len(rows) > limit:
        rows = rows[:limit]
        has_more = True
        pos = Position(rows[-1].commit_seq, rows[-1].seq)
    else:
        # Every visible change of the window was returned: move past the whole window.
        has_more = len(window) == limit
        pos = Position(last, END_OF_COMMIT)
    changes = [orjson.Fragment(r.wire) for r in rows] if wire else [change_out(r) for r in rows]
    return {"changes": changes, "has_more": has_more,
            "cursor": encode_cursor(pos, secret=secret, scope=scope), "snapshot": cursor is None,
            "evidence": page_evidence(session, rows)}


def page_evidence(session: Session, rows) -> dict:
    """Photo evidence of the visits this page touches: what each still lacks (an answer never silently
    loses its photo). Keyed by visit id; only visits whose visit or photo records changed here."""
    from inspections.photos.service import evidence_for_visits
    ids = {r.visit_id for r in rows if r.op == "upsert" and r.entity in ("visit", "photo") and r.visit_id}
    out = {}
    for vid, ev in evidence_for_visits(session, ids).items():
        out[str(vid)] = {"complete": ev["complete"], "photos": ev["photos"],
                         "missing": [{**m, "photo_id": str(m["photo_id"]) if m["photo_id"] else None}
                                     for m in ev["missing"]],
                         "flagged": [str(f) for f in ev["flagged"]]}
    return out
