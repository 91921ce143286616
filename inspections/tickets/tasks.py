"""RQ jobs of the tickets slice."""
from __future__ import annotations

from inspections.jobs.service import tracked
from inspections.tickets import service


@tracked("escalate_overdue")
def escalate_overdue(session) -> dict:
    """Daily: escalate overdue tickets to their offices (督办)."""
    return {"escalated": service.escalate_overdue(session)}


@tracked("ticket_stats_advance")
def advance_ticket_stats(session) -> dict:
    """Daily: count tickets that fell due since yesterday as overdue in the dashboard's kept counts."""
    from inspections.tickets import stats
    return {"newly_overdue": stats.advance(session)}
