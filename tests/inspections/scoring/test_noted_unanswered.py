"""An item noted or flagged on site but not answered (the field app makes its answer with no value) scores
exactly as an item not answered at all: the same facts, the same verdict and results. A flag asks for
follow-up, so a flagged item is a finding (as a flagged answer with a value is); a note alone is none."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from inspections.scoring.models import VisitScore
from inspections.tickets.models import Finding
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, token_for


def _scored(app, client, session, h, school_id, extra: list[dict]) -> tuple[VisitScore, list[str]]:
    v = client.post("/api/v1/visits", json={"school_id": str(school_id)}, headers=h).json
    answers = [{"item_code": k, "value": val} for k, val in GOOD_PRIMARY.items()] + extra
    r = client.put(f"/api/v1/visits/{v['id']}/responses", json={"answers": answers}, headers=h)
    assert r.status_code == 200, r.json
    r = client.patch(f"/api/v1/visits/{v['id']}", json={"status": "submitted"}, headers=h)
    assert r.status_code == 200, r.json
    run_jobs(app)
    session.expire_all()
    score = session.scalar(select(VisitScore).where(VisitScore.visit_id == uuid.UUID(v["id"])))
    findings = sorted(f.item_code for f in session.scalars(select(Finding).where(Finding.visit_id == uuid.UUID(v["id"]))))
    return score, findings


def test_a_noted_or_flagged_item_with_no_value_scores_as_unanswered_and_a_flag_is_a_finding(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    plain, plain_findings = _scored(app, client, session, h, w.school_a1.id, [])
    noted, noted_findings = _scored(app, client, session, h, w.school_a1.id, [
        {"item_code": "music_rooms_m2", "value": None, "note": "the room is being rebuilt"},
        {"item_code": "has_charter", "value": None, "flagged": True}])
    assert plain is not None and noted is not None
    assert noted.facts == plain.facts
    assert (noted.verdict, noted.result) == (plain.verdict, plain.result)
    assert noted_findings == sorted(plain_findings + ["has_charter"])
