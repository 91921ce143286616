"""Enqueueing background jobs after commit, with deterministic ids so retries never duplicate work."""
from __future__ import annotations

from inspections.visits.models import Visit


def on_visit_submitted(visit: Visit) -> None:
    """Hook run after a visit's submission is committed (scoring is attached here)."""
    return None
