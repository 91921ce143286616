"""Schedules: recurrence dates, idempotent generation, end dates, and the upcoming/late/missed rule."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from inspections.audit.models import AuditRecord
from inspections.errors import ValidationFailed
from inspections.planning import service
from inspections.planning.enums import PlanState, Recurrence
from inspections.planning.models import ScheduleOccurrence, VisitSchedule
from inspections.visits import service as visits
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Visit
from tests.factories import make_world


@pytest.fixture
def world(session):
    return make_world(session)


def _schedule(session, w, **kw):
    kw.setdefault("inspector_ids", [w.inspector_a1.id])
    s = service.create_schedule(session, school=w.school_a1, created_by=w.office_a1, **kw)
    session.commit()
    return s


def _planned(session, schedule):
    return sorted(session.scalars(select(Visit.planned_for).join(ScheduleOccurrence, ScheduleOccurrence.visit_id == Visit.id)
                                  .where(ScheduleOccurrence.schedule_id == schedule.id)))


@pytest.mark.parametrize("start,months,expected", [
    (date(2027, 1, 31), 1, date(2027, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2027, 1, 31), 3, date(2027, 4, 30)),
    (date(2027, 11, 30), 3, date(2028, 2, 29)),
    (date(2027, 8, 31), 6, date(2028, 2, 29)),
    (date(2027, 12, 15), 1, date(2028, 1, 15)),
])
def test_add_months_clamps_to_month_end(start, months, expected):
    assert service.add_months(start, months, start.day) == expected


def test_monthly_from_the_31st_follows_month_ends_and_returns_to_the_31st(session, world):
    s = _schedule(session, world, recurrence=Recurrence.monthly, start_date=date(2027, 12, 31))
    out = service.generate(session, today=date(2027, 12, 1), horizon_days=121)  # through 2028-03-31
    session.commit()
    assert out["created"] == 4
    assert _planned(session, s) == [date(2027, 12, 31), date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]
    # The generated visits carry the schedule's inspector, so they reach that inspector's device.
    v = session.scalar(select(Visit).where(Visit.planned_for == date(2028, 2, 29)))
    assert v.status == VisitStatus.planned and v.inspector_ids == [world.inspector_a1.id]
    assert session.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "generate")) == 4


def test_rerun_is_idempotent_and_extends_the_horizon(session, world):
    s = _schedule(session, world, recurrence=Recurrence.monthly, start_date=date(2027, 1, 10))
    first = service.generate(session, today=date(2027, 1, 1), horizon_days=60)
    session.commit()
    again = service.generate(session, today=date(2027, 1, 1), horizon_days=60)
    session.commit()
    assert (first["created"], again["created"], again["existing"]) == (2, 0, 2)
    later = service.generate(session, today=date(2027, 2, 1), horizon_days=60)
    session.commit()
    assert later["created"] == 1
    assert _planned(session, s) == [date(2027, 1, 10), date(2027, 2, 10), date(2027, 3, 10)]
    assert session.scalar(select(func.count()).select_from(Visit)) == 3


def test_end_date_every_and_once(session, world):
    ended = _schedule(session, world, recurrence=Recurrence.monthly, start_date=date(2027, 1, 5),
                      end_date=date(2027, 3, 4))
    quarterly = _schedule(session, world, recurrence=Recurrence.quarterly, every=2, start_date=date(2027, 1, 6))
    once = _schedule(session, world, recurrence=Recurrence.once, start_date=date(2027, 2, 1))
    service.generate(session, today=date(2027, 1, 1), horizon_days=400)
    session.commit()
    assert _planned(session, ended) == [date(2027, 1, 5), date(2027, 2, 5)]  # 2027-03-05 is past the end
    assert _planned(session, quarterly) == [date(2027, 1, 6), date(2027, 7, 6), date(2028, 1, 6)]
    assert _planned(session, once) == [date(2027, 2, 1)]


def test_inactive_schedule_makes_nothing(session, world):
    s = _schedule(session, world, recurrence=Recurrence.monthly, start_date=date(2027, 1, 5))
    service.update_schedule(session, s, actor_id=world.office_a1.id, active=False)
    session.commit()
    assert service.generate(session, today=date(2027, 1, 1))["created"] == 0


def test_a_date_already_made_is_never_made_twice(session, world):
    """The occurrence key is the guard: a second row for the same schedule and date is refused."""
    from sqlalchemy.exc import IntegrityError
    s = _schedule(session, world, recurrence=Recurrence.once, start_date=date(2027, 2, 1))
    service.generate(session, today=date(2027, 1, 1))
    session.commit()
    v = visits.create(session, school=world.school_a1, created_by=world.office_a1, inspector_ids=[],
                      planned_for=date(2027, 2, 1))
    session.add(ScheduleOccurrence(schedule_id=s.id, due_on=date(2027, 2, 1), visit_id=v.id))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize("field,kw", [
    ("end_date", {"start_date": date(2027, 3, 1), "end_date": date(2027, 2, 1)}),
    ("every", {"start_date": date(2027, 3, 1), "every": 0}),
    ("every", {"start_date": date(2027, 3, 1), "every": 2, "recurrence": Recurrence.once}),
])
def test_invalid_schedule_is_refused(session, world, field, kw):
    kw.setdefault("recurrence", Recurrence.monthly)
    with pytest.raises(ValidationFailed) as e:
        _schedule(session, world, **kw)
    assert field in e.value.fields
    session.rollback()
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 0


def test_inspector_outside_the_jurisdiction_is_refused(session, world):
    # inspector_assigned covers only school_a2; inspector_a1 covers county A1 only.
    with pytest.raises(ValidationFailed) as e:
        _schedule(session, world, recurrence=Recurrence.monthly, start_date=date(2027, 3, 1),
                  inspector_ids=[world.inspector_assigned.id])
    assert "inspector_ids" in e.value.fields
    session.rollback()
    s = service.create_schedule(session, school=world.school_a2, created_by=world.office_a, recurrence=Recurrence.once,
                                start_date=date(2027, 3, 1), inspector_ids=[world.inspector_assigned.id])
    assert s.inspector_ids == [world.inspector_assigned.id]


TODAY = date(2027, 5, 20)


@pytest.mark.parametrize("days_ago,status,expected", [
    (-10, VisitStatus.planned, PlanState.upcoming),
    (0, VisitStatus.planned, PlanState.upcoming),
    (1, VisitStatus.planned, PlanState.late),
    (service.GRACE_DAYS, VisitStatus.planned, PlanState.late),
    (service.GRACE_DAYS + 1, VisitStatus.planned, PlanState.missed),
    (3, VisitStatus.in_progress, None),
    (service.GRACE_DAYS + 1, VisitStatus.in_progress, PlanState.missed),
    (service.GRACE_DAYS + 1, VisitStatus.submitted, None),
    (service.GRACE_DAYS + 1, VisitStatus.cancelled, None),
])
def test_state_boundaries_in_sql_and_python(session, world, days_ago, status, expected):
    v = visits.create(session, school=world.school_a1, created_by=world.office_a1, inspector_ids=[],
                      planned_for=TODAY - timedelta(days=days_ago))
    v.status = status
    session.commit()
    assert service.state_of(v, TODAY) == expected
    found = {st for st in PlanState if session.scalar(select(Visit.id).where(
        Visit.id == v.id, service.state_criterion(st, TODAY)))}
    assert found == ({expected} if expected else set())


def test_delete_cancels_every_visit_not_yet_started(session, world):
    s = _schedule(session, world, recurrence=Recurrence.monthly, start_date=date(2027, 1, 10))
    service.generate(session, today=date(2027, 1, 1), horizon_days=60)
    session.commit()
    n = service.delete_schedule(session, s, actor_id=world.office_a1.id, today=date(2027, 2, 1))
    session.commit()
    assert n == 2  # the late one of 10 January too: left planned, it would lose its schedule and turn missed
    statuses = dict(session.execute(select(Visit.planned_for, Visit.status)).all())
    assert statuses == {date(2027, 1, 10): VisitStatus.cancelled, date(2027, 2, 10): VisitStatus.cancelled}


def test_two_concurrent_runs_make_each_date_once(base_app, session, world):
    """Two generators racing on PostgreSQL: the loser of each date skips it, nothing is duplicated."""
    import threading

    from inspections.db import new_session
    if base_app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("row-level insert races need PostgreSQL (SQLite serialises writers)")
    _schedule(session, world, recurrence=Recurrence.monthly, start_date=date(2027, 1, 10))
    first = new_session()
    out_a = service.generate(first, today=date(2027, 1, 1), horizon_days=60)  # holds its rows, uncommitted
    out_b = {}

    def second():
        with new_session() as s:
            out_b.update(service.generate(s, today=date(2027, 1, 1), horizon_days=60))
            s.commit()
    t = threading.Thread(target=second)
    t.start()
    t.join(timeout=1.0)
    assert t.is_alive()  # blocked on the first run's uncommitted occurrence rows
    first.commit()
    first.close()
    t.join(timeout=30)
    assert out_a["created"] == 2 and out_b == {"schedules": 1, "created": 0, "existing": 2, "skipped": 0}
    assert session.scalar(select(func.count()).select_from(Visit)) == 2
