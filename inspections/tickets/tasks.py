"""RQ jobs of the tickets slice."""
from __future__ import annotations

from inspections.jobs.service import tracked
from inspections.tickets import service


@tracked("escalate_overdue")
def escalate_overdue(session) -> dict:
    """Daily: escalate overdue tickets to their offices (督办)."""
    return {"escalated": service.escalate_overdue(session)}
