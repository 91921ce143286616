"""`flask plan-visits` and the daily plan-visits job make the schedules' visits, once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from inspections import clock

from inspections.jobs.models import JobRecord
from inspections.planning import service
from inspections.planning.enums import Recurrence
from inspections.visits.models import Visit
from tests.factories import make_world, run_jobs


def _schedule(session, w, start):
    service.create_schedule(session, school=w.school_a1, created_by=w.office_a1, recurrence=Recurrence.monthly,
                            start_date=start, inspector_ids=[w.inspector_a1.id])
    session.commit()


def test_cli_plans_with_progress_and_is_idempotent(runner, session):
    w = make_world(session)
    _schedule(session, w, clock.today() + timedelta(days=400))
    r = runner.invoke(args=["plan-visits", "--today", (clock.today() + timedelta(days=390)).isoformat(),
                            "--horizon", "45"])
    assert r.exit_code == 0, r.output
    assert f"plan: {w.school_a1.name}: 2 new" in r.output and "1 schedules: 2 visits planned" in r.output
    r = runner.invoke(args=["plan-visits", "--today", (clock.today() + timedelta(days=390)).isoformat(),
                            "--horizon", "45"])
    assert "0 visits planned, 2 already there" in r.output
    assert session.scalar(select(func.count()).select_from(Visit)) == 2
    r = runner.invoke(args=["plan-visits", "--horizon", "0"])
    assert r.exit_code != 0


def test_periodic_job_plans_visits(app, runner, session):
    w = make_world(session)
    _schedule(session, w, clock.today() + timedelta(days=10))
    r = runner.invoke(args=["periodic"])
    assert r.exit_code == 0 and "plan-visits-" in r.output, r.output
    run_jobs(app)
    rec = session.scalar(select(JobRecord).where(JobRecord.id.like("plan-visits-%")))
    assert rec.status == "finished" and rec.result["created"] == 2  # +10 and about +40 days, within 60
    assert session.scalar(select(func.count()).select_from(Visit)) == 2
