"""The dashboard's counts, kept as tickets change (so a province-wide summary reads thousands of rows,
not millions of tickets).

Each ticket contributes fixed amounts to small tables (see `contributions`): its school's row (a count
per status class), its jurisdiction's row for its item and severity, its opening day (opened, still
open, still open and overdue), its closing day and its time to close; and, for a summary narrowed to
one indicator or one severity (a "facet"), the same per school, day and time to close for its item and
for its severity. The contributions are a pure function of the ticket's school, jurisdiction, item,
status, dates and one day, `as_of`, against which the overdue columns are counted. A flush that
inserts, changes or deletes tickets removes the old contributions and adds the new ones in the same
transaction (`install` hooks `after_flush`), so the counts are never ahead of or behind the tickets
that other transactions can see.

`overdue` depends on the day: the summary adds the tickets that fell due between `as_of` and today
(a short range scan of ix_tickets_status_due), and the daily `advance` job folds them in and moves
`as_of` forward. Writers hold a share lock on the state row until they commit and `advance` takes it
exclusively, so a contribution is always counted against the `as_of` it was made with.

`rebuild` recomputes everything from the tickets (after a bulk load, or to repair), and `check`
compares the tables with a rebuild without changing them.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, event, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from inspections import clock
from inspections.db import utcnow
from inspections.org.models import School
from inspections.tickets.enums import TicketStatus
from inspections.tickets.models import (Ticket, TicketCloseStat, TicketDayStat, TicketFacetCloseStat,
                                        TicketFacetDayStat, TicketItemStat, TicketSchoolFacetStat, TicketSchoolStat,
                                        TicketStatsState)

T = TicketStatus
OPEN, CLOSED, CANCELLED = "open", "closed", "cancelled"
OPEN_STATES = (T.open, T.acknowledged, T.in_progress, T.awaiting_verification)
TABLES = (TicketSchoolStat, TicketItemStat, TicketDayStat, TicketCloseStat,
          TicketSchoolFacetStat, TicketFacetDayStat, TicketFacetCloseStat)
FACETS = ("item", "severity")  # a summary narrowed to one item or one severity reads the facet tables
_FACT_ATTRS = ("school_id", "item_code", "severity", "status", "due_date", "opened_at", "closed_at")


def status_class(status) -> str:
    s = TicketStatus(status)
    return CLOSED if s == T.closed else CANCELLED if s == T.cancelled else OPEN


def local_day(at: datetime) -> date:
    """The business day (inspections.clock) an instant falls on: the days the counts are kept by."""
    return clock.day_of(at)


def _severity(value) -> str:
    return value.value if hasattr(value, "value") else str(value)


def close_tenths(opened_at: datetime, closed_at: datetime) -> int:
    """Time to close in tenths of a day, rounded down (never negative). Whole seconds, so exact."""
    d = closed_at - opened_at
    return max(0, (d.days * 86400 + d.seconds) // 8640)


def tenths_median_days(median_tenths: float | None) -> float | None:
    """A median of tenths (x or x.5) as days to one decimal, half up, the same on every path."""
    if median_tenths is None:
        return None
    from decimal import ROUND_HALF_UP, Decimal
    return float((Decimal(str(median_tenths)) / 10).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Facts:
    school_id: uuid.UUID
    jurisdiction_id: uuid.UUID
    item_code: str
    severity: str
    status: TicketStatus
    due_date: date | None
    opened_at: datetime
    closed_at: datetime | None


Delta = dict  # {(model, key tuple): {column: int}}


def _facts(values, jurisdiction_id) -> Facts:
    """A ticket's facts from its `_FACT_ATTRS` values (a row's mapping or a dict) and its school's jurisdiction."""
    return Facts(values["school_id"], jurisdiction_id, values["item_code"], _severity(values["severity"]),
                 TicketStatus(values["status"]), values["due_date"], values["opened_at"], values["closed_at"])


def contributions(f: Facts, as_of: date, sign: int, out: Delta) -> None:
    """Add (sign=+1) or remove (-1) one ticket's amounts."""
    cls = status_class(f.status)
    overdue = int(cls == OPEN and f.due_date is not None and f.due_date < as_of)

    def add(model, key, **cols):
        row = out.setdefault((model, key), defaultdict(int))
        for c, v in cols.items():
            row[c] += sign * v

    add(TicketSchoolStat, (f.school_id,), **{cls: 1}, overdue=overdue)
    add(TicketItemStat, (f.jurisdiction_id, f.item_code, f.severity), **{cls: 1}, overdue=overdue)
    opened = local_day(f.opened_at)
    add(TicketDayStat, (f.jurisdiction_id, opened), opened=1, still_open=int(cls == OPEN), still_overdue=overdue)
    closed = tenths = None
    if f.status == T.closed and f.closed_at is not None:
        closed, tenths = local_day(f.closed_at), close_tenths(f.opened_at, f.closed_at)
        add(TicketDayStat, (f.jurisdiction_id, closed), closed=1)
        add(TicketCloseStat, (f.jurisdiction_id, tenths), n=1)
    for facet, value in (("item", f.item_code), ("severity", f.severity)):
        add(TicketSchoolFacetStat, (facet, value, f.school_id), **{cls: 1}, overdue=overdue)
        add(TicketFacetDayStat, (facet, value, f.jurisdiction_id, opened), opened=1, still_open=int(cls == OPEN),
            still_overdue=overdue)
        if closed is not None:
            add(TicketFacetDayStat, (facet, value, f.jurisdiction_id, closed), closed=1)
            add(TicketFacetCloseStat, (facet, value, f.jurisdiction_id, tenths), n=1)


def _keys(model) -> list[str]:
    return [c.name for c in model.__table__.primary_key.columns]


def _counts(model) -> list[str]:
    pk = set(_keys(model))
    return [c.name for c in model.__table__.columns if c.name not in pk]


def apply(conn, delta: Delta) -> None:
    """Add a delta to the tables: one upsert per table, rows in key order (the same lock order in every
    transaction, so concurrent writers cannot deadlock on the counts)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for model in TABLES:
        keys, cols = _keys(model), _counts(model)
        rows = []
        for (m, key), amounts in delta.items():
            if m is model and any(amounts.values()):
                rows.append({**dict(zip(keys, key)), **{c: amounts.get(c, 0) for c in cols}})
        if not rows:
            continue
        rows.sort(key=lambda r: tuple(str(r[k]) for k in keys))
        table = model.__table__
        stmt = dialect.insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=keys,
                                          set_={c: table.c[c] + getattr(stmt.excluded, c) for c in cols})
        for i in range(0, len(rows), 5000):
            conn.execute(stmt, rows[i:i + 5000])


def as_of(conn, *, lock: str | None = None) -> date | None:
    """The state row's day (None if the counts were never built). lock: None, "share" or "update"."""
    q = select(TicketStatsState.as_of).where(TicketStatsState.id == 1)
    if lock is not None:
        q = q.with_for_update(read=(lock == "share"))
    return conn.scalar(q)


# -- kept in the ticket's own transaction ---------------------------------------------------------------------

def _old(state, attr):
    h = state.attrs[attr].history
    if h.deleted:
        return h.deleted[0]
    return h.unchanged[0] if h.unchanged else getattr(state.obj(), attr)


def _changed(state) -> bool:
    return any(state.attrs[a].history.has_changes() for a in _FACT_ATTRS)


def _after_flush(session: Session, flush_context) -> None:
    new = [o for o in session.new if isinstance(o, Ticket)]
    dirty = [o for o in session.dirty if isinstance(o, Ticket) and _changed(inspect(o))]
    gone = [o for o in session.deleted if isinstance(o, Ticket)]
    if not (new or dirty or gone):
        return
    conn = session.connection()
    day = as_of(conn, lock="share")
    if day is None:
        return  # never built: nothing to keep (a rebuild will count these tickets)
    olds = {id(o): {a: _old(inspect(o), a) for a in _FACT_ATTRS} for o in dirty + gone}
    school_ids = {o.school_id for o in new + dirty} | {v["school_id"] for v in olds.values()}
    juris = dict(conn.execute(select(School.id, School.jurisdiction_id).where(School.id.in_(school_ids))).all())
    delta: Delta = {}
    for o in new + dirty:
        contributions(_facts({a: getattr(o, a) for a in _FACT_ATTRS}, juris[o.school_id]), day, +1, delta)
    for o in dirty + gone:
        old = olds[id(o)]
        contributions(_facts(old, juris[old["school_id"]]), day, -1, delta)
    apply(conn, delta)


def install(target=Session) -> None:
    """Keep the counts in every flush of a Session class or sessionmaker (called once from create_app)."""
    if not event.contains(target, "after_flush", _after_flush):
        event.listen(target, "after_flush", _after_flush)


def school_moved(session: Session, school_id: uuid.UUID, old_jurisdiction_id: uuid.UUID) -> None:
    """A school changed jurisdiction: move its tickets' jurisdiction-level counts with it."""
    conn = session.connection()
    day = as_of(conn, lock="share")
    new_j = conn.scalar(select(School.jurisdiction_id).where(School.id == school_id))
    if day is None or new_j == old_jurisdiction_id:
        return
    delta: Delta = {}
    for t in conn.execute(select(*[getattr(Ticket, a) for a in _FACT_ATTRS]).where(Ticket.school_id == school_id)):
        for j, sign in ((old_jurisdiction_id, -1), (new_j, +1)):
            contributions(_facts(t._mapping, j), day, sign, delta)
    apply(conn, delta)


# -- the daily step and the rebuild ---------------------------------------------------------------------------

def _falling_due(conn, lo: date, hi: date):
    """Open tickets due in [lo, hi): their facts and their school's jurisdiction."""
    return conn.execute(
        select(*[getattr(Ticket, a) for a in _FACT_ATTRS], School.jurisdiction_id)
        .join(School, School.id == Ticket.school_id)
        .where(Ticket.status.in_(OPEN_STATES), Ticket.due_date >= lo, Ticket.due_date < hi)).all()


def advance(session: Session, today: date | None = None) -> int:
    """Count the tickets that fell due since `as_of` as overdue and move `as_of` to today.

    Returns how many tickets moved. Idempotent for a day; commits nothing itself.
    """
    today = today or clock.today()
    conn = session.connection()
    day = as_of(conn, lock="update")
    if day is None or day == today:
        return 0
    lo, hi = (day, today) if today > day else (today, day)
    delta: Delta = {}
    moving = _falling_due(conn, lo, hi)
    for r in moving:
        # Each ticket's contributions against the new day replace those against the old one: only its
        # overdue amounts differ (`apply` skips the rows that net to nothing).
        f = _facts(r._mapping, r.jurisdiction_id)
        contributions(f, today, +1, delta)
        contributions(f, day, -1, delta)
    apply(conn, delta)
    conn.execute(update(TicketStatsState).where(TicketStatsState.id == 1).values(as_of=today))
    return len(moving)


def compute(conn, day: date, *, progress=None) -> Delta:
    """Every ticket's contributions, streamed from the database."""
    juris = dict(conn.execute(select(School.id, School.jurisdiction_id)).all())
    delta: Delta = {}
    q = select(*[getattr(Ticket, a) for a in _FACT_ATTRS]).execution_options(yield_per=20_000)
    n = 0
    for part in conn.execute(q).partitions():
        for r in part:
            contributions(_facts(r._mapping, juris[r.school_id]), day, +1, delta)
        n += len(part)
        if progress:
            progress(n)
    return delta


def rebuild(conn, *, today: date | None = None, progress=None) -> int:
    """Recompute every count from the tickets and set `as_of` to today; returns the rows written.

    On PostgreSQL ticket writers wait (SHARE lock on tickets) until the caller commits, so no change
    falls between the count and its storage.
    """
    today = today or clock.today()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE tickets IN SHARE MODE")
    state = as_of(conn, lock="update")
    delta = compute(conn, today, progress=progress)
    for model in TABLES:
        conn.execute(delete(model))
    apply(conn, delta)
    if state is None:
        conn.execute(TicketStatsState.__table__.insert().values(id=1, as_of=today, rebuilt_at=utcnow()))
    else:
        conn.execute(update(TicketStatsState).where(TicketStatsState.id == 1)
                     .values(as_of=today, rebuilt_at=utcnow()))
    return sum(1 for amounts in delta.values() if any(amounts.values()))


def check(conn) -> list[str]:
    """Differences between the stored counts and the tickets (empty when they agree)."""
    day = as_of(conn)
    if day is None:
        return ["the counts were never built: run `flask ticket-stats rebuild`"]
    want: dict = {}
    for (model, key), amounts in compute(conn, day).items():
        if any(amounts.values()):
            want[(model.__tablename__, tuple(str(k) for k in key))] = {c: v for c, v in amounts.items()}
    have: dict = {}
    for model in TABLES:
        keys, cols = _keys(model), _counts(model)
        for r in conn.execute(select(model.__table__)):
            m = r._mapping
            if any(m[c] for c in cols):
                have[(model.__tablename__, tuple(str(m[k]) for k in keys))] = {c: m[c] for c in cols}
    out = []
    for k in sorted(set(want) | set(have)):
        w = {c: v for c, v in want.get(k, {}).items() if v}
        h = {c: v for c, v in have.get(k, {}).items() if v}
        if w != h:
            out.append(f"{k[0]} {'/'.join(k[1])}: stored {h or 0}, tickets say {w or 0}")
    return out
