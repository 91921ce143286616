"""Periodic jobs of the sync slice."""
from __future__ import annotations

from inspections.jobs.service import tracked
from sync import changelog


@tracked("sync_prune")
def prune_changes(session, *, older_than_days: float) -> dict:
    """Daily: drop superseded changes and tombstones older than the cursor retention."""
    return {"pruned": changelog.prune(session, older_than_days=older_than_days)}
