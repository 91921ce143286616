"""Periodic jobs of the sync slice."""
from __future__ import annotations

from inspections.jobs.service import tracked
from sync import changelog, push


@tracked("sync_prune")
def prune_changes(session, *, older_than_days: float, mutation_days: int | None = None) -> dict:
    """Daily: drop superseded changes and tombstones older than the cursor retention, and push results
    older than their retention."""
    out = {"pruned": changelog.prune(session, older_than_days=older_than_days)}
    if mutation_days is not None:
        out["results_pruned"] = push.prune_results(session, older_than_days=mutation_days)
    return out
