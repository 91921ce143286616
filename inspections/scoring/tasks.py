"""RQ jobs of the scoring slice: they take ids and open their own sessions."""
from __future__ import annotations

import uuid

from inspections.jobs.service import tracked
from inspections.scoring import service


@tracked("score_visit")
def score_visit(session, *, visit_id: str) -> dict:
    """Score a submitted visit; returns its verdict per section."""
    rows = service.score_visit(session, uuid.UUID(visit_id))
    return {"visit_id": visit_id, "verdicts": {r.section or r.level: r.verdict for r in rows}}


@tracked("score_county")
def score_county(session, *, county_id: str, level: str, county_facts: dict | None = None) -> dict:
    """Judge a county at a level; returns the verdict and the stored score id."""
    row = service.score_county(session, uuid.UUID(county_id), level, county_facts)
    return {"county_score_id": str(row.id), "verdict": row.verdict}
