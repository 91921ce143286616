"""Review findings 5 and 6: job records out of scope look unknown; templates and inspectors of another
county cannot be used in a preview or a new visit."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from inspections.accounts.enums import Role
from inspections.db import utcnow
from inspections.jobs.models import JobRecord
from inspections.templates import service as templates
from inspections.visits.models import Visit
from inspections.visits import service as visits
from tests.factories import GOOD_PRIMARY, make_user, make_world, token_for


@pytest.fixture
def world(session):
    w = make_world(session)
    national = templates.ensure_builtin(session)[0].template
    tpl = templates.create_template(session, code="b1-local", name="B1", jurisdiction=w.county_b1, parent=national)
    w.b1_draft = templates.create_version(session, tpl, overlay={"set_thresholds": {"R1": {"primary": "9.9"}}},
                                          effective_from=None)
    w.b1_published = templates.create_version(session, tpl, overlay={"set_thresholds": {"R1": {"primary": "5.0"}}},
                                              effective_from=None)
    templates.publish(session, w.b1_published)
    w.insp_b1 = make_user(session, Role.inspector, jurisdiction=w.county_b1)
    w.visit_b1 = visits.create(session, school=w.school_b1, created_by=w.admin, inspector_ids=[w.insp_b1.id])
    w.visit_a1 = visits.create(session, school=w.school_a1, created_by=w.admin, inspector_ids=[w.inspector_a1.id])
    for rec_id, kind, args in [
            (f"score-visit-{w.visit_b1.id}-v1", "score_visit", {"visit_id": str(w.visit_b1.id)}),
            (f"score-visit-{w.visit_a1.id}-v1", "score_visit", {"visit_id": str(w.visit_a1.id)}),
            (f"score-county-{w.county_b1.id}-primary-0-x", "score_county", {"county_id": str(w.county_b1.id)}),
            (f"score-county-{w.county_a1.id}-primary-0-x", "score_county", {"county_id": str(w.county_a1.id)}),
            ("sync-prune-2026-11-30", "sync_prune", {})]:
        # Records only (nothing to run): what a job id reveals is under test, not the job.
        session.add(JobRecord(id=rec_id, kind=kind, args=args, status="queued", attempts=0, enqueued_at=utcnow()))
    session.commit()
    return w


def _unknown(client, headers):
    r = client.get(f"/api/v1/jobs/score-visit-{uuid.uuid4()}-v1", headers=headers)
    assert r.status_code == 404
    return r.get_data()


@pytest.mark.parametrize("role,job,visible", [
    ("office_a1", "score-county-{county_b1}-primary-0-x", False),
    ("office_a1", "score-visit-{visit_b1}-v1", False),
    ("office_a1", "score-county-{county_a1}-primary-0-x", True),
    ("office_a1", "score-visit-{visit_a1}-v1", True),
    ("inspector_a1", "score-visit-{visit_a1}-v1", True),
    ("inspector_a1", "score-visit-{visit_b1}-v1", False),
    ("inspector_a1", "score-county-{county_a1}-primary-0-x", False),
    ("office_a", "sync-prune-2026-11-30", False),
    ("admin", "sync-prune-2026-11-30", True),
    ("admin", "score-county-{county_b1}-primary-0-x", True),
])
def test_job_records_out_of_scope_look_exactly_like_unknown(client, session, world, role, job, visible):
    h = token_for(session, getattr(world, role))
    job_id = job.format(county_b1=world.county_b1.id, county_a1=world.county_a1.id, visit_b1=world.visit_b1.id,
                        visit_a1=world.visit_a1.id)
    r = client.get(f"/api/v1/jobs/{job_id}", headers=h)
    if visible:
        assert r.status_code == 200 and r.json["id"] == job_id
    else:
        assert r.status_code == 404 and r.get_data() == _unknown(client, h)


@pytest.mark.parametrize("version", ["b1_draft", "b1_published", None])
def test_preview_with_another_countys_template_is_answered_like_a_random_id(client, session, world, version):
    h = token_for(session, world.school_user_a1)
    vid = str(getattr(world, version).id) if version else str(uuid.uuid4())
    r = client.post("/api/v1/scoring/preview", json={"level": "primary", "facts": GOOD_PRIMARY,
                                                      "template_version_id": vid}, headers=h)
    assert r.status_code == 422 and r.json["errors"] == {"template_version_id": ["does not exist"]}
    assert "9.9" not in r.get_data(as_text=True)


def test_preview_with_a_visible_published_version_works(client, session, world):
    h = token_for(session, world.admin)
    r = client.post("/api/v1/scoring/preview", json={"level": "primary", "facts": GOOD_PRIMARY,
                                                      "template_version_id": str(world.b1_published.id)}, headers=h)
    assert r.status_code == 200
    # The county's own office sees its published version, not its draft.
    office_b1 = make_user(session, Role.office, jurisdiction=world.county_b1)
    session.commit()
    hb = token_for(session, office_b1)
    ok = client.post("/api/v1/scoring/preview", json={"level": "primary", "facts": GOOD_PRIMARY,
                                                       "template_version_id": str(world.b1_published.id)}, headers=hb)
    assert ok.status_code == 200
    draft = client.post("/api/v1/scoring/preview", json={"level": "primary", "facts": GOOD_PRIMARY,
                                                          "template_version_id": str(world.b1_draft.id)}, headers=hb)
    assert draft.status_code == 422


def _visits(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Visit))


@pytest.mark.parametrize("version", ["b1_draft", "b1_published"])
def test_visit_with_another_countys_template_is_refused(client, session, world, version):
    before = _visits(session)
    r = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id),
                                            "template_version_id": str(getattr(world, version).id)},
                    headers=token_for(session, world.office_a1))
    assert r.status_code == 422 and "template_version_id" in r.json["errors"]
    assert _visits(session) == before


def test_visit_with_an_inspector_of_another_county_is_refused_as_planning_does(client, session, world):
    h = token_for(session, world.office_a1)
    before = _visits(session)
    r = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id),
                                            "inspector_ids": [str(world.insp_b1.id)]}, headers=h)
    assert r.status_code == 422 and "inspector_ids" in r.json["errors"]
    assert _visits(session) == before
    sched = client.post("/api/v1/planning/schedules", json={
        "school_id": str(world.school_a1.id), "recurrence": "once", "start_date": "2030-01-01",
        "inspector_ids": [str(world.insp_b1.id)]}, headers=h)
    assert sched.status_code == 422 and "inspector_ids" in sched.json["errors"]  # the same answer planning gives
    # The own county's inspector and the school's own template are fine.
    ok = client.post("/api/v1/visits", json={"school_id": str(world.school_b1.id),
                                             "template_version_id": str(world.b1_published.id),
                                             "inspector_ids": [str(world.insp_b1.id)]},
                     headers=token_for(session, world.admin))
    assert ok.status_code == 201, ok.json


def test_an_inspector_of_another_county_cannot_be_added_to_a_visit_later(client, session, world):
    h = token_for(session, world.office_a1)
    v = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=h).json
    r = client.patch(f"/api/v1/visits/{v['id']}", json={"inspector_ids": [str(world.insp_b1.id)]}, headers=h)
    assert r.status_code == 422 and "inspector_ids" in r.json["errors"]
    ok = client.patch(f"/api/v1/visits/{v['id']}", json={"inspector_ids": [str(world.inspector_a1.id)]}, headers=h)
    assert ok.status_code == 200 and ok.json["inspector_ids"] == [str(world.inspector_a1.id)]
