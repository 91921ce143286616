"""Who reads which template: one rule for the list, a version by id, pull and previews. An inspector with
assigned schools and no jurisdiction reads the templates of its schools' counties (an outside tester found
it got visits pinned to its county's version and a 404 for that version, so the field app could not work)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete

from inspections import clock
from inspections.accounts.models import InspectorAssignment
from inspections.templates import service as templates
from tests.factories import GOOD_PRIMARY, make_world, token_for
from tests.sync.helpers import mutation, pull_all, push


def _overlay(session, county, code):
    national = templates.ensure_builtin(session)[0].template
    tpl = templates.create_template(session, code=code, name=code, jurisdiction=county, parent=national)
    v = templates.create_version(session, tpl, overlay={"set_thresholds": {"R1": {"primary": "4.5"}}},
                                 effective_from=None)
    templates.publish(session, v)
    return tpl, v


@pytest.fixture
def world(session):
    w = make_world(session)
    w.a2_tpl, w.a2_v = _overlay(session, w.county_a2, "a2-local")
    w.a1_tpl, w.a1_v = _overlay(session, w.county_a1, "a1-local")
    session.commit()
    return w


def _reads(client, h, tpl_id, version_id) -> dict:
    """What each way of reading shows the caller about one template and its version."""
    listed = {t["id"] for t in client.get("/api/v1/templates?limit=100", headers=h).json["items"]}
    changes, _ = pull_all(client, h)
    preview = client.post("/api/v1/scoring/preview", headers=h, json={
        "level": "primary", "facts": GOOD_PRIMARY, "template_version_id": str(version_id)})
    return {"list": str(tpl_id) in listed,
            "template": client.get(f"/api/v1/templates/{tpl_id}", headers=h).status_code,
            "version": client.get(f"/api/v1/templates/versions/{version_id}", headers=h).status_code,
            "pull": any(c["entity"] == "template_version" and c["id"] == str(version_id) for c in changes),
            "preview": preview.status_code}


SEEN = {"list": True, "template": 200, "version": 200, "pull": True, "preview": 200}
UNSEEN = {"list": False, "template": 404, "version": 404, "pull": False, "preview": 422}


def test_tester_repro_an_assigned_inspector_reads_the_version_its_visit_is_pinned_to(client, session):
    """repro_02: the county's office publishes a county version (through the REST API, as the tester did);
    the responsibility inspector's new visit pins it, and the inspector can read it every way."""
    w = make_world(session)
    h_office = token_for(session, w.office_a)
    national = next(t for t in client.get("/api/v1/templates", headers=h_office).json["items"]
                    if t["code"] == "national-2017")
    r = client.post("/api/v1/templates", headers=h_office, json={
        "code": "mdx-local2", "name": "MDX local", "jurisdiction_id": str(w.county_a2.id), "parent_id": national["id"]})
    assert r.status_code == 201, r.json
    tid = r.json["id"]
    r = client.post(f"/api/v1/templates/{tid}/versions", headers=h_office,
                    json={"overlay": {"set_thresholds": {"R1": {"primary": "4.3"}}},
                          "effective_from": clock.today().isoformat()})
    assert r.status_code == 201, r.json
    v = r.json["id"]
    assert client.post(f"/api/v1/templates/versions/{v}/publish", headers=h_office).status_code == 200
    h = token_for(session, w.inspector_assigned)
    vid = str(uuid.uuid4())
    [res] = push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a2.id),
                                     planned_for=clock.today().isoformat()))
    assert res["status"] == "applied" and res["record"]["template_version_id"] == v
    assert client.get(f"/api/v1/visits/{vid}", headers=h).json["template_version_id"] == v
    assert _reads(client, h, tid, v) == SEEN


@pytest.mark.parametrize("who, county, seen", [
    ("inspector_assigned", "a2", True),    # its assigned school's county
    ("inspector_assigned", "a1", False),   # a county it has no school in
    ("inspector_a1", "a1", True),
    ("inspector_a1", "a2", False),
    ("school_user_a1", "a1", True),
    ("school_user_a1", "a2", False),
    ("office_a", "a2", True),              # the city oversees both counties
    ("office_a1", "a2", False),
])
def test_every_way_of_reading_follows_one_rule(client, session, world, who, county, seen):
    h = token_for(session, getattr(world, who))
    tpl, v = getattr(world, f"{county}_tpl"), getattr(world, f"{county}_v")
    assert _reads(client, h, tpl.id, v.id) == (SEEN if seen else UNSEEN)


def test_a_version_out_of_scope_is_answered_like_an_unknown_id(client, session, world):
    h = token_for(session, world.inspector_assigned)
    other = uuid.uuid4()
    hidden = client.get(f"/api/v1/templates/versions/{world.a1_v.id}", headers=h)
    unknown = client.get(f"/api/v1/templates/versions/{other}", headers=h)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.get_data(as_text=True).replace(str(world.a1_v.id), "X") == \
        unknown.get_data(as_text=True).replace(str(other), "X")


def test_an_inspector_still_on_a_visit_reads_its_version_after_losing_the_school(client, session, world):
    """Anyone who may see a visit may read the version it pins: an inspector unassigned from the school
    but still on the visit (it sees the visit) reads its county's version, by id and in a fresh pull."""
    h = token_for(session, world.inspector_assigned)
    vid = str(uuid.uuid4())
    [res] = push(client, h, mutation("visit", "create", id=vid, school_id=str(world.school_a2.id)))
    assert res["record"]["template_version_id"] == str(world.a2_v.id)
    session.execute(delete(InspectorAssignment).where(InspectorAssignment.inspector_id == world.inspector_assigned.id))
    session.commit()
    assert client.get(f"/api/v1/visits/{vid}", headers=h).status_code == 200
    reads = _reads(client, h, world.a2_tpl.id, world.a2_v.id)
    assert reads == SEEN
