"""The supervisory office's view of tickets (督办): counts, aging, closure, trend, drill-down, exports.

Every function takes the principal and narrows to its scope first (the same school_filter as the API),
then applies the page's filters. Queries aggregate in the database; Python only folds per-school rows
into per-county totals, so the work grows with schools in scope, not with tickets.
"""
from __future__ import annotations

import statistics
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from inspections.accounts.scope import Principal, school_filter
from inspections.db import utcnow
from inspections.org.models import Jurisdiction, School
from inspections.tickets.enums import Severity, TicketStatus
from inspections.tickets.models import Ticket

T = TicketStatus
OPEN_STATES = (T.open, T.acknowledged, T.in_progress, T.awaiting_verification)
AGING_BUCKETS = ((0, 30, "0-30"), (31, 60, "31-60"), (61, 90, "61-90"), (91, None, ">90"))
STATES = ("open", "overdue", "closed", "cancelled")


@dataclass(frozen=True)
class Filters:
    county_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    item_code: str | None = None
    severity: Severity | None = None
    state: str | None = None            # open | overdue | closed | cancelled | a TicketStatus value
    opened_from: date | None = None
    opened_to: date | None = None

    def query_args(self) -> dict:
        """The filters as URL query arguments (for links that keep them)."""
        out = {k: (v.value if hasattr(v, "value") else str(v)) for k, v in self.__dict__.items() if v is not None}
        return out


@dataclass
class Counts:
    open: int = 0
    overdue: int = 0
    closed: int = 0
    cancelled: int = 0

    def add(self, other: Counts) -> None:
        self.open += other.open
        self.overdue += other.overdue
        self.closed += other.closed
        self.cancelled += other.cancelled

    @property
    def closure_rate(self) -> float | None:
        """Closed ÷ (open + closed): cancelled tickets are neither."""
        total = self.open + self.closed
        return None if total == 0 else self.closed / total


@dataclass
class Row:
    key: str
    label: str
    counts: Counts = field(default_factory=Counts)
    county: str | None = None


def _midnight(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time()).replace(tzinfo=timezone.utc)


def _today() -> date:
    return utcnow().date()


def criteria(p: Principal, f: Filters, *, today: date | None = None) -> list:
    """SQL criteria on Ticket: in the principal's scope and matching the filters."""
    today = today or _today()
    schools = select(School.id).where(school_filter(p))
    if f.county_id is not None:
        schools = schools.where(School.jurisdiction_id == f.county_id)
    out = [Ticket.school_id.in_(schools)]
    if f.school_id is not None:
        out.append(Ticket.school_id == f.school_id)
    if f.item_code:
        out.append(Ticket.item_code == f.item_code)
    if f.severity is not None:
        out.append(Ticket.severity == f.severity)
    if f.opened_from is not None:
        out.append(Ticket.opened_at >= _midnight(f.opened_from))
    if f.opened_to is not None:
        out.append(Ticket.opened_at < _midnight(f.opened_to + timedelta(days=1)))
    if f.state == "open":
        out.append(Ticket.status.in_(OPEN_STATES))
    elif f.state == "overdue":
        out.append(and_(Ticket.status.in_(OPEN_STATES), Ticket.due_date < today))
    elif f.state in ("closed", "cancelled"):
        out.append(Ticket.status == TicketStatus(f.state))
    elif f.state:
        out.append(Ticket.status == TicketStatus(f.state))
    return out


def _count_columns(today: date):
    is_open = Ticket.status.in_(OPEN_STATES)
    return (func.sum(case((is_open, 1), else_=0)).label("open"),
            func.sum(case((and_(is_open, Ticket.due_date < today), 1), else_=0)).label("overdue"),
            func.sum(case((Ticket.status == T.closed, 1), else_=0)).label("closed"),
            func.sum(case((Ticket.status == T.cancelled, 1), else_=0)).label("cancelled"))


def _counts(row) -> Counts:
    return Counts(int(row.open or 0), int(row.overdue or 0), int(row.closed or 0), int(row.cancelled or 0))


@dataclass
class Summary:
    totals: Counts
    by_county: list[Row]
    by_school: list[Row]
    by_indicator: list[Row]
    aging: list[tuple[str, int]]
    median_days_to_close: float | None
    trend: list[tuple[str, int, int]]          # (YYYY-MM, opened, closed)


def summary(session: Session, p: Principal, f: Filters, *, today: date | None = None, months: int = 12,
            top_schools: int = 50) -> Summary:
    """Everything the dashboard shows, for the principal's scope and the filters."""
    today = today or _today()
    where = criteria(p, f, today=today)
    per_school = session.execute(select(Ticket.school_id, *_count_columns(today)).where(*where)
                                 .group_by(Ticket.school_id)).all()
    names = {}
    if per_school:
        ids = [r.school_id for r in per_school]
        names = {s.id: (s.code, s.name, j.id, j.name) for s, j in session.execute(
            select(School, Jurisdiction).join(Jurisdiction, Jurisdiction.id == School.jurisdiction_id)
            .where(School.id.in_(ids))).all()}
    totals, counties, schools = Counts(), {}, []
    for r in per_school:
        c = _counts(r)
        totals.add(c)
        code, name, county_id, county = names[r.school_id]
        schools.append(Row(str(r.school_id), f"{code} {name}", c, county))
        counties.setdefault(county_id, Row(str(county_id), county)).counts.add(c)
    by_indicator = [Row(r.item_code, r.item_code, _counts(r)) for r in session.execute(
        select(Ticket.item_code, *_count_columns(today)).where(*where).group_by(Ticket.item_code)
        .order_by(Ticket.item_code)).all()]
    order = lambda row: (-row.counts.open, -row.counts.overdue, row.label)  # noqa: E731
    return Summary(totals=totals, by_county=sorted(counties.values(), key=order),
                   by_school=sorted(schools, key=order)[:top_schools], by_indicator=sorted(by_indicator, key=order),
                   aging=aging(session, where, today), median_days_to_close=median_days_to_close(session, where),
                   trend=trend(session, where, today, months))


def aging(session: Session, where: list, today: date) -> list[tuple[str, int]]:
    """Open tickets by days since opening: 0-30, 31-60, 61-90, >90."""
    now = _midnight(today) + timedelta(days=1)
    cols = []
    for low, high, label in AGING_BUCKETS:
        # Opened `low` to `high` whole days before the end of today.
        newest = now - timedelta(days=low)
        cond = [Ticket.opened_at < newest]
        if high is not None:
            cond.append(Ticket.opened_at >= now - timedelta(days=high + 1))
        cols.append(func.sum(case((and_(*cond), 1), else_=0)).label(f"b{low}"))
    row = session.execute(select(*cols).where(*where, Ticket.status.in_(OPEN_STATES))).one()
    return [(label, int(v or 0)) for (_, _, label), v in zip(AGING_BUCKETS, row)]


def median_days_to_close(session: Session, where: list) -> float | None:
    """Median of (closed_at - opened_at) in days over closed tickets, to 0.1 day."""
    closed = [*where, Ticket.status == T.closed, Ticket.closed_at.is_not(None)]
    if session.get_bind().dialect.name == "postgresql":
        days = func.extract("epoch", Ticket.closed_at - Ticket.opened_at) / 86400.0
        value = session.scalar(select(func.percentile_cont(0.5).within_group(days)).where(*closed))
        return None if value is None else round(float(value), 1)
    days = func.julianday(Ticket.closed_at) - func.julianday(Ticket.opened_at)
    values = session.scalars(select(days).where(*closed)).all()
    return round(statistics.median(values), 1) if values else None


def _month(session: Session, col):
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", col), "YYYY-MM")
    return func.strftime("%Y-%m", col)


def trend(session: Session, where: list, today: date, months: int) -> list[tuple[str, int, int]]:
    """Tickets opened and closed per month over the last `months` months (oldest first)."""
    first = date(today.year, today.month, 1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    start = _midnight(first)
    keys, d = [], first
    while d <= today:
        keys.append(f"{d:%Y-%m}")
        d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    opened_m, closed_m = _month(session, Ticket.opened_at), _month(session, Ticket.closed_at)
    opened = dict(session.execute(select(opened_m, func.count()).where(*where, Ticket.opened_at >= start)
                                  .group_by(opened_m)).all())
    closed = dict(session.execute(select(closed_m, func.count()).where(*where, Ticket.closed_at >= start,
                                                                      Ticket.status == T.closed)
                                  .group_by(closed_m)).all())
    return [(k, int(opened.get(k, 0)), int(closed.get(k, 0))) for k in keys]


def tickets(session: Session, p: Principal, f: Filters, *, after: tuple[datetime, uuid.UUID] | None = None,
            limit: int = 100, today: date | None = None):
    """The tickets behind a number (drill-down), oldest first, with school and county names.

    Keyset pages: pass the last row's (opened_at, id) as `after`.
    """
    q = (select(Ticket, School.code, School.name, Jurisdiction.name.label("county"))
         .join(School, School.id == Ticket.school_id).join(Jurisdiction, Jurisdiction.id == School.jurisdiction_id)
         .where(*criteria(p, f, today=today)).order_by(Ticket.opened_at, Ticket.id))
    if after is not None:
        q = q.where((Ticket.opened_at > after[0]) | and_(Ticket.opened_at == after[0], Ticket.id > after[1]))
    return session.execute(q.limit(limit)).all()


def export_pages(session: Session, p: Principal, f: Filters, today: date, size: int = 2000):
    """Export rows (plain lists) a page at a time. The session's transaction ends after each page, so a
    slow or vanished download never holds a transaction (or its locks) open between pages."""
    after = None
    while True:
        rows = tickets(session, p, f, after=after, limit=size, today=today)
        out = [export_row(r, today) for r in rows]
        if rows:
            after = (rows[-1].Ticket.opened_at, rows[-1].Ticket.id)
        session.rollback()
        yield out
        if len(rows) < size:
            return


EXPORT_COLUMNS = ("ticket_id", "school_code", "school", "county", "item_code", "title", "severity", "status",
                  "overdue", "opened_at", "due_date", "closed_at", "measured", "required", "shortfall", "unit")


def export_row(row, today: date) -> list:
    t = row.Ticket
    overdue = t.status in OPEN_STATES and t.due_date is not None and t.due_date < today
    return [str(t.id), row.code, row.name, row.county, t.item_code, t.title, t.severity.value, t.status.value,
            "yes" if overdue else "no", t.opened_at.isoformat(), t.due_date.isoformat() if t.due_date else "",
            t.closed_at.isoformat() if t.closed_at else "", _plain(t.measured), _plain(t.required),
            str(t.shortfall) if t.shortfall is not None else "", t.unit or ""]


def _plain(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        import json
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    return str(v)
