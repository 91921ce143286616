"""Create/read/update/list behaviour of the API resources and stable pagination."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from inspections.audit.models import AuditRecord
from tests.factories import make_school, make_world, token_for


@pytest.fixture
def world(session):
    w = make_world(session)
    w.h_admin = token_for(session, w.admin)
    w.h_office = token_for(session, w.office_a)
    return w


def test_pagination_walks_every_school_once_even_with_inserts_between_pages(client, session, world):
    for _ in range(23):
        make_school(session, world.county_a1)
    session.commit()
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get("/api/v1/schools", query_string={"limit": 5, **({"cursor": cursor} if cursor else {})},
                       headers=world.h_office)
        assert r.status_code == 200
        seen += [i["code"] for i in r.json["items"]]
        cursor, pages = r.json["next_cursor"], pages + 1
        if pages == 2:
            # A school whose code sorts before the cursor must not shift later pages.
            make_school(session, world.county_a1, code="A0000")
            session.commit()
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 23 + 3  # three schools of make_world are in city A
    assert seen == sorted(seen)


def test_jurisdiction_create_checks_the_tree(client, session, world):
    r = client.post("/api/v1/jurisdictions", headers=world.h_office,
                    json={"code": "A-NEW", "name": "新区", "level": "county", "parent_id": str(world.city_a.id)})
    assert r.status_code == 201
    r = client.post("/api/v1/jurisdictions", headers=world.h_office,
                    json={"code": "A-BAD", "name": "错", "level": "city", "parent_id": str(world.city_a.id)})
    assert r.status_code == 422 and "parent_id" in r.json["errors"]
    r = client.post("/api/v1/jurisdictions", headers=world.h_office,
                    json={"code": "A-NEW", "name": "重复", "level": "county", "parent_id": str(world.city_a.id)})
    assert r.status_code == 422 and "code" in r.json["errors"]
    r = client.post("/api/v1/jurisdictions", headers=world.h_office, json={"code": "P2", "name": "省", "level": "province"})
    assert r.status_code == 403
    r = client.post("/api/v1/jurisdictions", headers=world.h_admin, json={"code": "P2", "name": "省", "level": "province"})
    assert r.status_code == 201


def test_school_round_trip_and_audit(client, session, world):
    body = {"code": "RT-1", "name": "往返小学", "jurisdiction_id": str(world.county_a2.id), "kind": "nine_year",
            "locale": "rural", "enrolment_primary": 300, "enrolment_junior": 150, "latitude": "28.123456",
            "longitude": "112.654321"}
    r = client.post("/api/v1/schools", json=body, headers=world.h_office)
    assert r.status_code == 201
    sid = r.json["id"]
    assert r.json["latitude"] == "28.123456" and r.json["version"] == 1
    r = client.patch(f"/api/v1/schools/{sid}", json={"enrolment_junior": 180}, headers=world.h_office)
    assert r.json["enrolment_junior"] == 180 and r.json["version"] == 2
    actions = session.scalars(select(AuditRecord.action).where(AuditRecord.entity_id == sid)
                              .order_by(AuditRecord.at)).all()
    assert actions == ["create", "update"]


def test_client_generated_ids_are_kept(client, world):
    sid = str(uuid.uuid4())
    body = {"id": sid, "code": "CID-1", "name": "离线建校", "jurisdiction_id": str(world.county_a1.id),
            "kind": "junior", "locale": "town", "enrolment_junior": 400}
    assert client.post("/api/v1/schools", json=body, headers=world.h_office).json["id"] == sid
    vid = str(uuid.uuid4())
    r = client.post("/api/v1/visits", json={"id": vid, "school_id": sid}, headers=world.h_office)
    assert r.status_code == 201 and r.json["id"] == vid
    r = client.post("/api/v1/visits", json={"id": vid, "school_id": sid}, headers=world.h_office)
    assert r.status_code == 422 and "id" in r.json["errors"]


def test_visit_pins_the_template_version_and_flows_to_submitted(client, session, world):
    h = token_for(session, world.inspector_a1)
    r = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id), "planned_for": "2026-12-01"},
                    headers=h)
    visit = r.json
    assert visit["status"] == "planned" and visit["template_version_id"]
    tv = client.get(f"/api/v1/templates/versions/{visit['template_version_id']}", headers=h).json
    assert tv["status"] == "published" and tv["definition"]["code"] == "national-2017"
    answers = [{"item_code": "enrolment", "value": 600}, {"item_code": "pe_art_teachers", "value": 4, "flagged": True,
                                                          "note": "两名体育教师为兼职"}]
    r = client.put(f"/api/v1/visits/{visit['id']}/responses", json={"answers": answers}, headers=h)
    assert r.status_code == 200 and len(r.json) == 2
    assert client.get(f"/api/v1/visits/{visit['id']}", headers=h).json["status"] == "in_progress"
    r = client.patch(f"/api/v1/visits/{visit['id']}", json={"status": "submitted"}, headers=h)
    assert r.status_code == 200 and r.json["submitted_at"]


def test_office_deactivates_a_user_and_lists_by_role(client, session, world):
    r = client.get("/api/v1/users", query_string={"role": "inspector"}, headers=world.h_office)
    names = {u["username"] for u in r.json["items"]}
    assert names == {world.inspector_a1.username, world.inspector_assigned.username}
    h = token_for(session, world.inspector_a1)
    r = client.patch(f"/api/v1/users/{world.inspector_a1.id}", json={"active": False}, headers=world.h_office)
    assert r.status_code == 200 and r.json["active"] is False
    assert client.get("/api/v1/auth/me", headers=h).status_code == 401


def test_published_template_versions_cannot_change(session, world):
    from inspections.templates.models import ImmutableVersionError, TemplateVersion
    v = session.scalars(select(TemplateVersion)).first()
    v.definition = {**v.definition, "name": "tampered"}
    with pytest.raises(ImmutableVersionError):
        session.flush()
    session.rollback()
