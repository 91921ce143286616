"""The supervisory office's view of tickets (督办): counts, aging, closure, trend, drill-down, exports.

Every function takes the principal and narrows to its scope first (the same school_filter as the API),
then applies the page's filters. Queries aggregate in the database; Python only folds per-school rows
into per-county totals, so the work grows with schools in scope, not with tickets.
"""
from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ARRAY, Uuid, and_, any_, bindparam, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from inspections.accounts.enums import Role
from inspections.accounts.scope import Principal, jurisdiction_filter, school_filter
from inspections import clock
from inspections.db import UTCDateTime
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
    """The instant business day `d` starts (days are the business zone's, inspections.clock)."""
    return clock.day_start(d)


def _today() -> date:
    return clock.today()


def criteria(p: Principal, f: Filters, *, today: date | None = None, session: Session | None = None) -> list:
    """SQL criteria on Ticket: in the principal's scope and matching the filters.

    Given the session, the scope's schools are looked up first and passed as a list: PostgreSQL then
    walks `ix_tickets_school_id` for a county's hundred schools instead of hash-joining every ticket
    against a sub-select it cannot size.
    """
    today = today or _today()
    out = []
    if f.school_id is None and (p.role != Role.admin or f.county_id is not None):  # admin: every school
        schools = select(School.id).where(school_filter(p))
        if f.county_id is not None:
            schools = schools.where(School.jurisdiction_id == f.county_id)
        if session is None:
            out.append(Ticket.school_id.in_(schools))
        else:
            ids = list(session.scalars(schools))
            if session.get_bind().dialect.name == "postgresql":
                out.append(Ticket.school_id == any_(bindparam("scope_school_ids", ids, type_=ARRAY(Uuid()))))
            else:
                out.append(Ticket.school_id.in_(ids))
    elif f.school_id is not None:  # one school: in scope (and in the county, if one is chosen) or nothing
        visible = select(School.id).where(School.id == f.school_id, school_filter(p))
        if f.county_id is not None:
            visible = visible.where(School.jurisdiction_id == f.county_id)
        out.append(Ticket.school_id.in_(visible))
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
    """Everything the dashboard shows, for the principal's scope and the filters.

    An office or admin looking at its whole area or one county, for every indicator or one, every
    severity or one, all tickets, the open ones or the overdue ones, reads the kept counts
    (`tickets.stats`); other filters (a school, another state, opening dates, an indicator and a
    severity together) count the matching tickets themselves.
    Both give the same answer (tested).
    """
    today = today or _today()
    if uses_counts(p, f):
        out = counted_summary(session, p, f, today=today, months=months, top_schools=top_schools)
        if out is not None:
            return out
    return live_summary(session, p, f, today=today, months=months, top_schools=top_schools)


def uses_counts(p: Principal, f: Filters) -> bool:
    return (p.role in (Role.admin, Role.office) and (p.role == Role.admin or bool(p.jurisdiction_path))
            and all(getattr(f, k) is None for k in ("school_id", "opened_from", "opened_to"))
            and f.state in (None, "open", "overdue")  # columns of every kept count
            and not (f.item_code and f.severity is not None))  # one facet at a time


def _sorted(by_county: dict, schools: list, by_indicator: list, top_schools: int):
    order = lambda row: (-row.counts.open, -row.counts.overdue, row.label)  # noqa: E731
    return (sorted(by_county.values(), key=order), sorted(schools, key=order)[:top_schools],
            sorted(by_indicator, key=order))


def live_summary(session: Session, p: Principal, f: Filters, *, today: date | None = None, months: int = 12,
                 top_schools: int = 50) -> Summary:
    """The summary counted from the tickets (any filters)."""
    today = today or _today()
    where = criteria(p, f, today=today, session=session)
    # Per school in one statement with the names joined on; only the top schools become Rows.
    per = select(Ticket.school_id, *_count_columns(today)).where(*where).group_by(Ticket.school_id).subquery()
    rows = session.execute(
        select(per.c.school_id, per.c.open, per.c.overdue, per.c.closed, per.c.cancelled, School.code, School.name,
               School.jurisdiction_id, Jurisdiction.name.label("county"))
        .select_from(per).join(School, School.id == per.c.school_id)
        .join(Jurisdiction, Jurisdiction.id == School.jurisdiction_id)).all()
    totals, counties, ranked = Counts(), {}, []
    for r in rows:
        c = _counts(r)
        totals.add(c)
        if r.jurisdiction_id not in counties:
            counties[r.jurisdiction_id] = Row(str(r.jurisdiction_id), r.county)
        counties[r.jurisdiction_id].counts.add(c)
        ranked.append((-c.open, -c.overdue, f"{r.code} {r.name}", r, c))
    ranked.sort(key=lambda x: x[:3])
    schools = [Row(str(r.school_id), label, c, r.county) for _o, _d, label, r, c in ranked[:top_schools]]
    by_indicator = [Row(r.item_code, r.item_code, _counts(r)) for r in session.execute(
        select(Ticket.item_code, *_count_columns(today)).where(*where).group_by(Ticket.item_code)
        .order_by(Ticket.item_code)).all()]
    by_county, by_school, by_indicator = _sorted(counties, schools, by_indicator, top_schools)
    return Summary(totals=totals, by_county=by_county, by_school=by_school, by_indicator=by_indicator,
                   aging=aging(session, where, today), median_days_to_close=median_days_to_close(session, where),
                   trend=trend(session, where, today, months))


def counted_summary(session: Session, p: Principal, f: Filters, *, today: date, months: int = 12,
                    top_schools: int = 50) -> Summary | None:
    """The summary from the kept counts (None if they were never built). A few thousand rows for a
    whole province, however many tickets there are, and only the top schools leave the database."""
    from inspections.tickets import stats as st
    # Shared, like a ticket writer's: the daily advance cannot move as_of (and fold in the tickets
    # fallen due) between this read and the count queries, which would count those tickets twice.
    as_of = st.as_of(session.connection(), lock="share")
    if as_of is None:
        return None
    S, I, D, C = st.TicketSchoolStat, st.TicketItemStat, st.TicketDayStat, st.TicketCloseStat
    only = {S: [], I: [], D: [], C: []}
    narrow = []  # the same condition on Ticket, for the tickets that fell due since as_of
    facet = ("item", f.item_code) if f.item_code else ("severity", f.severity.value) if f.severity else None
    if facet is not None:  # the same figures from the facet tables, for that item or severity
        S, D, C = st.TicketSchoolFacetStat, st.TicketFacetDayStat, st.TicketFacetCloseStat
        only = {m: [m.facet == facet[0], m.value == facet[1]] for m in (S, D, C)}
        only[I] = [I.item_code == f.item_code] if f.item_code else [I.severity == f.severity.value]
        narrow = [Ticket.item_code == f.item_code] if f.item_code else [Ticket.severity == f.severity]
    in_schools = [school_filter(p)] + ([School.jurisdiction_id == f.county_id] if f.county_id else [])
    in_areas = [jurisdiction_filter(p)] + ([Jurisdiction.id == f.county_id] if f.county_id else [])

    # Open tickets that fell due between as_of and today are overdue now (or, before as_of, not yet).
    lo, hi, sign = (as_of, today, 1) if today >= as_of else (today, as_of, -1)
    late = (select(Ticket.school_id, Ticket.item_code, (sign * func.count()).label("n"))
            .where(Ticket.status.in_(OPEN_STATES), Ticket.due_date >= lo, Ticket.due_date < hi, *narrow)
            .group_by(Ticket.school_id, Ticket.item_code).subquery()) if lo != hi else None

    # Schools: the top ones by open, then overdue, then label; counties and totals summed in SQL.
    school_overdue, school_from = S.overdue, S.__table__
    if late is not None:
        per_late = select(late.c.school_id, func.sum(late.c.n).label("n")).group_by(late.c.school_id).subquery()
        school_overdue = S.overdue + func.coalesce(per_late.c.n, 0)
        school_from = S.__table__.outerjoin(per_late, per_late.c.school_id == S.school_id)
    label = (School.code + " " + School.name)
    if session.get_bind().dialect.name == "postgresql":
        label = label.collate("C")  # code point order, as Python sorts the labels
    # Open (or overdue) tickets only: the other classes count nothing, an overdue ticket is open, and a
    # school with none of them is no row.
    open_only, overdue_only = f.state == "open", f.state == "overdue"
    narrowed = open_only or overdue_only
    s_open = school_overdue if overdue_only else S.open
    s_closed, s_cancelled = (literal(0), literal(0)) if narrowed else (S.closed, S.cancelled)
    base = (select(S.school_id, School.code, School.name, School.jurisdiction_id, Jurisdiction.name.label("county"),
                   s_open.label("open"), school_overdue.label("overdue"), s_closed.label("closed"),
                   s_cancelled.label("cancelled"))
            .select_from(school_from).join(School, School.id == S.school_id)
            .join(Jurisdiction, Jurisdiction.id == School.jurisdiction_id)
            .where(*in_schools, *only[S], (s_open if narrowed else S.open + S.closed + S.cancelled) > 0))
    top = session.execute(base.order_by(s_open.desc(), school_overdue.desc(), label).limit(top_schools)).all()
    by_school = [Row(str(r.school_id), f"{r.code} {r.name}",
                     Counts(int(r.open), int(r.overdue), int(r.closed), int(r.cancelled)), r.county) for r in top]
    per = base.subquery()
    totals, by_county = Counts(), []
    for r in session.execute(select(per.c.jurisdiction_id, per.c.county, func.sum(per.c.open),
                                    func.sum(per.c.overdue), func.sum(per.c.closed), func.sum(per.c.cancelled))
                             .group_by(per.c.jurisdiction_id, per.c.county)):
        c = Counts(*(int(v or 0) for v in r[2:]))
        totals.add(c)
        by_county.append(Row(str(r.jurisdiction_id), r.county, c))

    # Indicators, summed over the jurisdictions in scope (their late tickets come from the scoped schools).
    extra = {}
    if late is not None:
        extra = dict(session.execute(select(late.c.item_code, func.sum(late.c.n))
                                     .join(School, School.id == late.c.school_id).where(*in_schools)
                                     .group_by(late.c.item_code)).all())
    q = (select(I.item_code, func.sum(I.open), func.sum(I.overdue), func.sum(I.closed), func.sum(I.cancelled))
         .join(Jurisdiction, Jurisdiction.id == I.jurisdiction_id).where(*in_areas, *only[I]).group_by(I.item_code))
    by_indicator = []
    for r in session.execute(q):
        overdue = int(r[2] or 0) + int(extra.get(r.item_code, 0))
        c = Counts(overdue if overdue_only else int(r[1] or 0), overdue,
                   0 if narrowed else int(r[3] or 0), 0 if narrowed else int(r[4] or 0))
        if c.open or c.closed or c.cancelled:
            by_indicator.append(Row(r.item_code, r.item_code, c))
    order = lambda row: (-row.counts.open, -row.counts.overdue, row.label)  # noqa: E731
    by_county.sort(key=order)
    by_indicator.sort(key=order)

    # Days: aging of open tickets by whole days since their opening day, and the monthly trend.
    days = {day: [int(o or 0), int(c or 0), int(still or 0), int(over or 0)] for day, o, c, still, over in
            session.execute(select(D.day, func.sum(D.opened), func.sum(D.closed), func.sum(D.still_open),
                                   func.sum(D.still_overdue))
                            .join(Jurisdiction, Jurisdiction.id == D.jurisdiction_id)
                            .where(*in_areas, *only[D]).group_by(D.day))}
    if overdue_only and lo != hi:  # the tickets that fell due since as_of, by their opening day
        for (at,) in session.execute(select(Ticket.opened_at).join(School, School.id == Ticket.school_id)
                                     .where(Ticket.status.in_(OPEN_STATES), Ticket.due_date >= lo,
                                            Ticket.due_date < hi, *narrow, *in_schools)):
            days.setdefault(st.local_day(at), [0, 0, 0, 0])[3] += sign
    keys, start = _months(today, months)
    opened, closed = defaultdict(int), defaultdict(int)
    ages = [0] * len(AGING_BUCKETS)
    for day, (o, c, still, over) in days.items():
        # Of the open (overdue) tickets: those opened that day and still open (overdue); none is closed.
        still = over if overdue_only else still
        if day >= clock.day_of(start):
            opened[f"{day:%Y-%m}"] += still if narrowed else o
            closed[f"{day:%Y-%m}"] += 0 if narrowed else c
        age = (today - day).days
        for i, (low, high, _label) in enumerate(AGING_BUCKETS):
            if age >= low and (high is None or age <= high):
                ages[i] += still
    aging_rows = [(label, n) for (_, _, label), n in zip(AGING_BUCKETS, ages)]

    hist = session.execute(select(C.tenths, func.sum(C.n)).join(Jurisdiction, Jurisdiction.id == C.jurisdiction_id)
                           .where(*in_areas, *only[C]).group_by(C.tenths).order_by(C.tenths)).all()
    median = None if narrowed else st.tenths_median_days(_histogram_median([(int(t), int(n)) for t, n in hist]))
    return Summary(totals=totals, by_county=by_county, by_school=by_school, by_indicator=by_indicator,
                   aging=aging_rows, median_days_to_close=median,
                   trend=[(k, opened.get(k, 0), closed.get(k, 0)) for k in keys])


def _histogram_median(hist: list[tuple[int, int]]) -> float | None:
    """Median of the values in a sorted (value, count) histogram; the mean of the middle two if even."""
    total = sum(n for _, n in hist)
    if total == 0:
        return None
    wanted = [(total - 1) // 2, total // 2]
    found, seen = [], 0
    for value, n in hist:
        while len(found) < 2 and wanted[len(found)] < seen + n:
            found.append(value)
        seen += n
        if len(found) == 2:
            break
    return (found[0] + found[1]) / 2


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
    """Median days to close over closed tickets. Each ticket's time to close is counted in tenths of a
    day, rounded down; the median of those (the mean of the middle two when even) is shown to 0.1 day,
    half up. The kept counts use the same definition, so both paths agree to the digit."""
    from inspections.tickets.stats import close_tenths, tenths_median_days
    closed = [*where, Ticket.status == T.closed, Ticket.closed_at.is_not(None)]
    if session.get_bind().dialect.name == "postgresql":
        tenths = func.greatest(0, func.floor(func.extract("epoch", Ticket.closed_at - Ticket.opened_at) / 8640))
        value = session.scalar(select(func.percentile_cont(0.5).within_group(tenths)).where(*closed))
        return tenths_median_days(None if value is None else float(value))
    values = [close_tenths(o, c) for o, c in session.execute(select(Ticket.opened_at, Ticket.closed_at)
                                                              .where(*closed))]
    return tenths_median_days(statistics.median(values)) if values else None


def _month(session: Session, col):
    """The business month (YYYY-MM) of a stored instant, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(clock.zone().key, col), "YYYY-MM")
    # SQLite knows no zones: shift by the zone's offset today (exact for zones without daylight saving,
    # such as Asia/Shanghai).
    offset = int(clock.utc_offset_at(clock.today()).total_seconds())
    return func.strftime("%Y-%m", col, f"{offset:+d} seconds")


def _months(today: date, months: int) -> tuple[list[str], datetime]:
    """The YYYY-MM keys of the last `months` months (oldest first) and the first one's start."""
    first = date(today.year, today.month, 1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    keys, d = [], first
    while d <= today:
        keys.append(f"{d:%Y-%m}")
        d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return keys, _midnight(first)


def trend(session: Session, where: list, today: date, months: int) -> list[tuple[str, int, int]]:
    """Tickets opened and closed per month over the last `months` months (oldest first)."""
    keys, start = _months(today, months)
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
        # A row-value comparison: PostgreSQL starts the (opened_at, id) index scan right at the key.
        q = q.where(tuple_(Ticket.opened_at, Ticket.id) > tuple_(literal(after[0], UTCDateTime()),
                                                                 literal(after[1], Uuid())))
    return session.execute(q.limit(limit)).all()


NO_DUE = date(9999, 12, 31)  # tickets with no deadline sort last


def tickets_by_due(session: Session, p: Principal, f: Filters, *, after: tuple[date, uuid.UUID] | None = None,
                   limit: int = 100, today: date | None = None):
    """The tickets behind a number, soonest deadline first (none last); keyset pages by (deadline, id)."""
    due = func.coalesce(Ticket.due_date, literal(NO_DUE))
    q = (select(Ticket, School.code, School.name, Jurisdiction.name.label("county"))
         .join(School, School.id == Ticket.school_id).join(Jurisdiction, Jurisdiction.id == School.jurisdiction_id)
         .where(*criteria(p, f, today=today)).order_by(due, Ticket.id))
    if after is not None:
        q = q.where(or_(due > after[0], and_(due == after[0], Ticket.id > after[1])))
    return session.execute(q.limit(limit)).all()


def export_pages(session: Session, p: Principal, f: Filters, today: date, size: int = 2000, row=None):
    """Export rows (plain lists; `row(result_row, today)` makes each, `export_row` by default) a page at a
    time. The session's transaction ends after each page, so a slow or vanished download never holds a
    transaction (or its locks) open between pages."""
    row = row or export_row
    after = None
    while True:
        rows = tickets(session, p, f, after=after, limit=size, today=today)
        out = [row(r, today) for r in rows]
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
