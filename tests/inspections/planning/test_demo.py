"""The demo county has schedules and planned visits that are upcoming, late and missed."""
from __future__ import annotations

from sqlalchemy import func, select

from inspections import clock
from inspections import demo

from inspections.planning import service
from inspections.planning.enums import PlanState
from inspections.planning.models import VisitSchedule
from inspections.visits.models import Visit


def test_demo_plans_visits_in_every_state(session):
    lines = []
    demo.load(session, progress=lines.append)
    session.commit()
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 11
    today = clock.today()
    for state in PlanState:
        n = session.scalar(select(func.count()).select_from(Visit).where(service.state_criterion(state, today)))
        assert n > 0, state
    assert any(line.startswith("visit planning:") for line in lines), lines
    # Running the generator again (the daily job) adds nothing.
    assert service.generate(session, today=today)["created"] == 0
