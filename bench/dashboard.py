"""Office dashboard over 1,000,000 tickets on PostgreSQL: p50/p95 of the summary and drill-down queries.

    .venv/bin/python -m bench.dashboard [--tickets 1000000] [--schools 10000] [--counties 100] [--reps 20]

A scratch PostgreSQL database (migrated like production) gets 1 province, 10 cities, `counties` counties,
`schools` schools and `tickets` tickets made by INSERT ... SELECT generate_series (opened over the last
two years; ~55 % closed after 1-90 days, ~5 % cancelled, the rest open in its four states, due 60 days
after opening), and the dashboard's kept counts are rebuilt from them (`tickets.stats.rebuild`, timed).
Then the very functions the dashboard page calls are timed, for an admin (everything) and for one
county's office: `dashboard.summary` (counts by county/school/indicator, aging, median days to close,
12-month trend; from the kept counts, for everything, one indicator, one severity, the open or the overdue tickets), the same
summary counted from the tickets (`live_summary`, the path other filters take, as a baseline), one
school's summary (counted from its tickets), and `dashboard.tickets` (the first drill-down page of overdue
tickets, and a page deep into the keyset order). Last, the cost the counts add to a write: one ticket's
status change and commit, with the counts kept and with the hook removed, in alternating rounds.
"""
from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import timedelta

from bench.sync_common import machine, median, pct, scratch_app


def populate(session, *, counties: int, schools: int, tickets: int) -> uuid.UUID:
    """Build the jurisdictions, schools and tickets; returns one county's id."""
    from sqlalchemy import insert, text

    from inspections.db import utcnow
    from inspections.org import service as org
    from inspections.org.enums import JurisdictionLevel, Locale, SchoolKind
    from inspections.org.models import School
    province = org.create_jurisdiction(session, code="BP", name="Bench province", level=JurisdictionLevel.province,
                                       parent=None)
    county_rows = []
    for c in range(10):
        city = org.create_jurisdiction(session, code=f"BC{c:02d}", name=f"City {c}", level=JurisdictionLevel.city,
                                       parent=province)
        for k in range(counties // 10):
            county_rows.append(org.create_jurisdiction(session, code=f"BK{c:02d}{k:03d}", name=f"County {c}-{k}",
                                                       level=JurisdictionLevel.county, parent=city))
    session.flush()
    now = utcnow()
    rows = []
    for i in range(schools):
        county = county_rows[i % len(county_rows)]
        rows.append(dict(id=uuid.uuid4(), code=f"BS{i:06d}", name=f"School {i}", jurisdiction_id=county.id,
                         jurisdiction_path=county.path, kind=SchoolKind.primary, locale=Locale.urban,
                         enrolment_primary=600, enrolment_junior=0, active=True, created_at=now, updated_at=now,
                         version=1))
    session.execute(insert(School), rows)
    session.commit()
    # Section is the row number: every open ticket is its own (school, item, section), as the partial
    # unique index on open tickets requires.
    session.execute(text("""
        WITH s AS (SELECT array_agg(id ORDER BY code) AS ids, count(*) AS n FROM schools),
        g AS (SELECT g, random() AS r, now() - random() * interval '730 days' AS opened
              FROM generate_series(1, :n) AS g)
        INSERT INTO tickets (id, school_id, item_code, section, title, status, severity, due_date,
                             opened_at, closed_at, created_at, updated_at, version, unit, shortfall)
        SELECT gen_random_uuid(), s.ids[1 + (g.g % s.n)], 'R' || (1 + g.g % 7), g.g::text,
               'bench ticket ' || g.g,
               CASE WHEN g.r < 0.55 THEN 'closed' WHEN g.r < 0.60 THEN 'cancelled'
                    WHEN g.r < 0.70 THEN 'open' WHEN g.r < 0.80 THEN 'acknowledged'
                    WHEN g.r < 0.92 THEN 'in_progress' ELSE 'awaiting_verification' END,
               CASE WHEN g.g % 10 = 0 THEN 'high' WHEN g.g % 3 = 0 THEN 'low' ELSE 'medium' END,
               (g.opened + interval '60 days')::date, g.opened,
               CASE WHEN g.r < 0.55 THEN g.opened + (1 + random() * 89) * interval '1 day' END,
               g.opened, g.opened, 1, 'teachers', 2.00
        FROM g, s
    """), {"n": tickets})
    session.commit()
    session.execute(text("ANALYZE tickets"))
    session.execute(text("ANALYZE schools"))
    session.commit()
    return county_rows[0].id


def timed(fn, reps: int) -> dict:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(median(times), 1), "p95_ms": round(pct(times, 95), 1), "min_ms": round(min(times), 1)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--schools", type=int, default=10_000)
    ap.add_argument("--counties", type=int, default=100)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args(argv)
    from sqlalchemy import func, select

    from inspections.accounts.enums import Role
    from inspections.accounts.scope import Principal
    from inspections.db import new_session
    from inspections.org.models import Jurisdiction
    from inspections.tickets import dashboard as dash
    from inspections.tickets.enums import Severity
    from inspections.tickets.models import Ticket
    out: dict = {"machine": machine(), "tickets": args.tickets, "schools": args.schools, "counties": args.counties}
    with scratch_app() as app:
        t = time.perf_counter()
        with new_session() as s:
            county_id = populate(s, counties=args.counties, schools=args.schools, tickets=args.tickets)
            out["populate_s"] = round(time.perf_counter() - t, 1)
            print(f"populated {s.scalar(select(func.count()).select_from(Ticket))} tickets in {out['populate_s']} s",
                  flush=True)
            from sqlalchemy import text

            from inspections.tickets import stats
            t = time.perf_counter()
            out["count_rows"] = stats.rebuild(s.connection())
            s.commit()
            out["rebuild_s"] = round(time.perf_counter() - t, 1)
            for table in ("ticket_school_stats", "ticket_item_stats", "ticket_day_stats", "ticket_close_stats"):
                s.execute(text(f"ANALYZE {table}"))
            s.commit()
            print(f"kept counts rebuilt: {out['count_rows']} rows in {out['rebuild_s']} s", flush=True)
            county = s.get(Jurisdiction, county_id)
            admin = Principal(user_id=uuid.uuid4(), role=Role.admin, jurisdiction_id=None, jurisdiction_path=None)
            office = Principal(user_id=uuid.uuid4(), role=Role.office, jurisdiction_id=county.id,
                               jurisdiction_path=county.path)
            none = dash.Filters()
            for who, p in (("admin (all 1M)", admin), ("county office", office)):
                s.rollback()
                assert dash.uses_counts(p, none)
                _deep(s)
                tomorrow = dash._today() + timedelta(days=1)
                _a_school(s, p)
                results = {
                    "summary": timed(lambda: (dash.summary(s, p, none), s.rollback()), args.reps),
                    "summary before the daily job (tickets due yesterday counted from the tickets)": timed(
                        lambda: (dash.summary(s, p, none, today=tomorrow), s.rollback()), args.reps),
                    "summary counted from the tickets (baseline)": timed(
                        lambda: (dash.live_summary(s, p, none), s.rollback()), max(3, args.reps // 4)),
                    "summary, one school (counted from its tickets)": timed(
                        lambda: (dash.summary(s, p, dash.Filters(school_id=_a_school(s, p))), s.rollback()), args.reps),
                    "summary, open tickets only": timed(
                        lambda: (dash.summary(s, p, dash.Filters(state="open")), s.rollback()), args.reps),
                    "summary, overdue tickets only": timed(
                        lambda: (dash.summary(s, p, dash.Filters(state="overdue")), s.rollback()), args.reps),
                    "summary, opened in the last 90 days (counted from the tickets)": timed(
                        lambda: (dash.summary(s, p, dash.Filters(opened_from=dash._today() - timedelta(days=90))),
                                 s.rollback()), args.reps),
                    "summary, one severity": timed(
                        lambda: (dash.summary(s, p, dash.Filters(severity=Severity.high)), s.rollback()), args.reps),
                    "summary, one indicator": timed(lambda: (dash.summary(s, p, dash.Filters(item_code="R3")),
                                                             s.rollback()), args.reps),
                    "drill-down: overdue, first page": timed(
                        lambda: (dash.tickets(s, p, dash.Filters(state="overdue"), limit=101), s.rollback()),
                        args.reps),
                    "drill-down: a page deep in the list": timed(
                        lambda: (dash.tickets(s, p, none, limit=101, after=_deep(s)), s.rollback()), args.reps),
                }
                out[who] = results
                print(who, json.dumps(results), flush=True)
            out["write"] = write_cost(s, args.reps * 5)
            print("write", json.dumps(out["write"]), flush=True)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return out


def write_cost(s, reps: int) -> dict:
    """One ticket closed + commit, with the counts kept and without (hook removed), alternating."""
    from sqlalchemy import event, select
    from sqlalchemy.orm import Session

    from inspections.db import utcnow
    from inspections.tickets import stats
    from inspections.tickets.enums import TicketStatus
    from inspections.tickets.models import Ticket
    ids = list(s.scalars(select(Ticket.id).where(Ticket.status == TicketStatus.open).limit(reps * 2)))
    kept, plain = [], []
    for i in range(reps):
        for hooked, into in ((True, kept), (False, plain)):
            if not hooked:
                event.remove(Session, "after_flush", stats._after_flush)
            try:
                t0 = time.perf_counter()
                ticket = s.get(Ticket, ids[2 * i + (0 if hooked else 1)])
                ticket.status, ticket.closed_at = TicketStatus.closed, utcnow()
                s.commit()
                into.append((time.perf_counter() - t0) * 1000)
            finally:
                stats.install()
    return {"kept_p50_ms": round(median(kept), 2), "plain_p50_ms": round(median(plain), 2),
            "ratio": round(median(kept) / median(plain), 2),
            "note": "the 'plain' writes leave the counts stale; the bench ends after this"}


def _a_school(s, p):
    """A school in the principal's scope that has tickets."""
    from sqlalchemy import select

    from inspections.accounts.scope import school_filter
    from inspections.org.models import School
    return s.scalar(select(School.id).where(school_filter(p)).order_by(School.code).limit(1))


_DEEP: dict = {}


def _deep(s):
    """A keyset position in the middle of the list (computed once)."""
    from sqlalchemy import func, select

    from inspections.tickets.models import Ticket
    if "at" not in _DEEP:
        n = s.scalar(select(func.count()).select_from(Ticket))
        row = s.execute(select(Ticket.opened_at, Ticket.id).order_by(Ticket.opened_at, Ticket.id)
                        .offset(n // 2).limit(1)).one()
        _DEEP["at"] = (row.opened_at, row.id)
    return _DEEP["at"]


if __name__ == "__main__":
    main()
