"""RQ jobs of the planning slice."""
from __future__ import annotations

from inspections import clock
from inspections.jobs.service import tracked
from inspections.planning import service


@tracked("plan_visits")
def plan_visits(session, horizon_days: int = service.HORIZON_DAYS) -> dict:
    """Daily: make the planned visits of every active schedule for the coming horizon."""
    return service.generate(session, today=clock.today(), horizon_days=int(horizon_days))
