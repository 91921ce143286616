"""The dashboard's kept counts against the tickets themselves: after random tickets and random changes,
the summary read from the counts equals the one counted from the tickets, for every scope, on days
before and after the counts' `as_of`, across the daily advance, a rebuild and a school's move."""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from inspections.accounts.enums import Role
from inspections.accounts.scope import Principal, principal_for
from inspections.org import service as org
from inspections.tickets import dashboard as dash
from inspections.tickets import stats
from inspections.tickets.enums import Severity, TicketStatus as T
from inspections.tickets.models import (Ticket, TicketDayStat, TicketFacetDayStat, TicketItemStat,
                                        TicketSchoolFacetStat, TicketSchoolStat, TicketStatsState)
from tests.factories import make_world

STATUSES = list(T)


def _random_ticket(rng, school, now, n):
    opened = now - timedelta(days=rng.randint(0, 500), seconds=rng.randint(0, 86399))
    status = rng.choice(STATUSES)
    closed = opened + timedelta(days=rng.randint(0, 60), seconds=rng.randint(0, 86399)) if status == T.closed else None
    return Ticket(id=uuid.uuid4(), school_id=school.id, item_code=f"R{rng.randint(1, 4)}", section=str(n),
                  title="t", status=status, severity=rng.choice(list(Severity)), opened_at=opened, closed_at=closed,
                  due_date=None if rng.random() < 0.1 else (opened + timedelta(days=rng.randint(0, 120))).date())


def _assert_same(session, world, today):
    admin = Principal(user_id=uuid.uuid4(), role=Role.admin)
    views = [(admin, dash.Filters()), (admin, dash.Filters(county_id=world.county_a1.id)),
             (principal_for(session, world.office_a), dash.Filters()),
             (principal_for(session, world.office_a1), dash.Filters()),
             (principal_for(session, world.office_a), dash.Filters(county_id=world.county_b1.id)),
             (admin, dash.Filters(item_code="R2")), (admin, dash.Filters(item_code="R9")),
             (principal_for(session, world.office_a1), dash.Filters(item_code="R1")),
             (principal_for(session, world.office_a), dash.Filters(county_id=world.county_a1.id, item_code="R3")),
             (admin, dash.Filters(severity=Severity.high)), (admin, dash.Filters(severity=Severity.medium)),
             (principal_for(session, world.office_a1), dash.Filters(severity=Severity.low)),
             (admin, dash.Filters(state="open")), (admin, dash.Filters(state="open", county_id=world.county_a1.id)),
             (principal_for(session, world.office_a), dash.Filters(state="open", item_code="R2")),
             (principal_for(session, world.office_a1), dash.Filters(state="open", severity=Severity.high)),
             (admin, dash.Filters(state="overdue")), (admin, dash.Filters(state="overdue", item_code="R1")),
             (principal_for(session, world.office_a), dash.Filters(state="overdue", severity=Severity.medium)),
             (principal_for(session, world.office_a1), dash.Filters(state="overdue"))]
    for p, f in views:
        assert dash.uses_counts(p, f)
        counted = dash.counted_summary(session, p, f, today=today)
        live = dash.live_summary(session, p, f, today=today)
        assert counted == live, (p.role, f, today)
    session.rollback()


@pytest.fixture
def sqlite_session(base_app, tmp_path):
    """A migrated SQLite database beside the run's main one (PostgreSQL under CI): the kept counts and
    the counted summary use dialect-specific SQL, so both dialects are checked."""
    from alembic import command
    from sqlalchemy.orm import Session

    from inspections.db import make_engine
    from server.cli import alembic_config
    engine = make_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    cfg = alembic_config(base_app)
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, "head")
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_match_the_tickets_through_changes(session, seed):
    _changes(session, seed)


def test_counts_match_the_tickets_on_sqlite(app, sqlite_session):
    _changes(sqlite_session, 4)


def _changes(session, seed):
    rng = random.Random(seed)
    world = make_world(session)
    schools = [world.school_a1, world.school_a1b, world.school_a2, world.school_b1]
    now = datetime.now(timezone.utc)
    tickets = [_random_ticket(rng, rng.choice(schools), now, n) for n in range(60)]
    session.add_all(tickets)
    session.commit()
    as_of = stats.as_of(session.connection())
    session.rollback()
    for delta_days in (-45, 0, 17):
        _assert_same(session, world, as_of + timedelta(days=delta_days))

    # Random changes, several per transaction: status moves, closing and reopening, new due dates.
    for _ in range(4):
        for t in rng.sample(tickets, 15):
            t.status = rng.choice(STATUSES)
            t.closed_at = t.opened_at + timedelta(hours=rng.randint(0, 900)) if t.status == T.closed else None
            if rng.random() < 0.3:
                t.due_date = (now + timedelta(days=rng.randint(-60, 60))).date()
            if rng.random() < 0.2:
                t.severity = rng.choice(list(Severity))
        session.add(_random_ticket(rng, rng.choice(schools), now, 1000 + _))
        session.commit()
    gone = tickets.pop()
    session.delete(gone)
    session.commit()
    _assert_same(session, world, as_of)
    _assert_same(session, world, as_of + timedelta(days=30))

    # The daily step moves as_of; the answers for any day stay the same, and nothing drifts.
    stats.advance(session, as_of + timedelta(days=30))
    session.commit()
    assert session.get(TicketStatsState, 1).as_of == as_of + timedelta(days=30)
    _assert_same(session, world, as_of + timedelta(days=30))
    _assert_same(session, world, as_of)
    assert stats.check(session.connection()) == []
    session.rollback()

    # A school moving to another county takes its tickets' counts with it.
    org.update_school(session, world.school_a1b, county=world.county_b1)
    session.commit()
    _assert_same(session, world, as_of + timedelta(days=3))
    assert stats.check(session.connection()) == []


def test_check_finds_drift_and_rebuild_repairs_it(session):
    world = make_world(session)
    now = datetime.now(timezone.utc)
    rng = random.Random(7)
    session.add_all([_random_ticket(rng, world.school_a1, now, n) for n in range(10)])
    session.commit()
    conn = session.connection()
    conn.execute(TicketSchoolStat.__table__.update().values(closed=TicketSchoolStat.closed + 1))
    problems = stats.check(conn)
    assert problems and "ticket_school_stats" in problems[0]
    stats.rebuild(conn)
    assert stats.check(conn) == []
    session.commit()


def test_filters_the_counts_cannot_answer_count_the_tickets(session):
    admin = Principal(user_id=uuid.uuid4(), role=Role.admin)
    assert dash.uses_counts(admin, dash.Filters())
    assert dash.uses_counts(admin, dash.Filters(item_code="R1"))
    assert dash.uses_counts(admin, dash.Filters(severity=Severity.high))
    assert not dash.uses_counts(admin, dash.Filters(item_code="R1", severity=Severity.high))
    assert dash.uses_counts(admin, dash.Filters(state="open"))
    assert dash.uses_counts(admin, dash.Filters(state="overdue"))
    for state in ("closed", "cancelled", "acknowledged"):
        assert not dash.uses_counts(admin, dash.Filters(state=state))
    assert not dash.uses_counts(admin, dash.Filters(opened_from=datetime(2026, 1, 1).date()))
    school = Principal(user_id=uuid.uuid4(), role=Role.school, school_id=uuid.uuid4())
    assert not dash.uses_counts(school, dash.Filters())


def test_histogram_median():
    assert dash._histogram_median([]) is None
    assert dash._histogram_median([(5, 1)]) == 5
    assert dash._histogram_median([(1, 1), (3, 1)]) == 2
    assert dash._histogram_median([(1, 2), (9, 1)]) == 1
    assert dash._histogram_median([(1, 1), (2, 2), (10, 1)]) == 2
    assert stats.tenths_median_days(123.5) == 12.4 and stats.tenths_median_days(65.0) == 6.5


def test_cli_check_and_rebuild(app, runner, session):
    world = make_world(session)
    rng = random.Random(11)
    session.add_all([_random_ticket(rng, world.school_b1, datetime.now(timezone.utc), n) for n in range(5)])
    session.commit()
    r = runner.invoke(args=["ticket-stats", "check"])
    assert r.exit_code == 0 and "agree" in r.output, r.output
    session.execute(TicketSchoolStat.__table__.delete())
    session.commit()
    r = runner.invoke(args=["ticket-stats", "check"])
    assert r.exit_code == 1 and "ticket_school_stats" in r.output
    r = runner.invoke(args=["ticket-stats", "rebuild"])
    assert r.exit_code == 0 and "counted 5 tickets" in r.output and "rebuilt" in r.output, r.output
    assert runner.invoke(args=["ticket-stats", "check"]).exit_code == 0


def test_daily_job_moves_as_of_once(app, runner, session):
    from inspections.jobs.models import JobRecord
    from tests.factories import run_jobs
    world = make_world(session)
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    t = Ticket(id=uuid.uuid4(), school_id=world.school_a1.id, item_code="R1", section="", title="t", status=T.open,
               severity=Severity.high, opened_at=datetime.now(timezone.utc) - timedelta(days=40), due_date=yesterday)
    session.add(t)
    session.commit()
    # Pretend the counts were last moved two days ago: the ticket fell due since then.
    session.execute(TicketStatsState.__table__.update().values(as_of=yesterday - timedelta(days=1)))
    session.execute(TicketSchoolStat.__table__.update().values(overdue=0))
    session.execute(TicketItemStat.__table__.update().values(overdue=0))
    session.execute(TicketSchoolFacetStat.__table__.update().values(overdue=0))
    session.execute(TicketDayStat.__table__.update().values(still_overdue=0))
    session.execute(TicketFacetDayStat.__table__.update().values(still_overdue=0))
    session.commit()
    runner.invoke(args=["periodic"])
    run_jobs(app)
    rec = session.query(JobRecord).filter(JobRecord.id.like("ticket-stats-advance-%")).one()
    assert rec.status == "finished" and rec.result == {"newly_overdue": 1}
    session.expire_all()
    assert session.get(TicketSchoolStat, world.school_a1.id).overdue == 1
    assert stats.check(session.connection()) == []


def test_a_counted_summary_holds_off_the_daily_advance_until_it_ends(session):
    """The advance moving as_of between the summary's read of it and its count queries would count the
    tickets fallen due since twice: the summary holds a share lock on the state row until it ends."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite serialises writers for the whole transaction)")
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from inspections.db import new_session
    admin = Principal(user_id=uuid.uuid4(), role=Role.admin)
    day = stats.as_of(session.connection())
    dash.counted_summary(session, admin, dash.Filters(state="overdue"), today=day + timedelta(days=1))
    with new_session() as other:
        other.execute(text("SET lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            stats.advance(other, today=day + timedelta(days=1))
        other.rollback()
        session.rollback()  # the summary ends: now the advance goes through
        stats.advance(other, today=day + timedelta(days=1))
        other.commit()
    assert stats.as_of(session.connection()) == day + timedelta(days=1)
    session.rollback()
