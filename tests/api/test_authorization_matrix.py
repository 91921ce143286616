"""Each role x each resource x inside/outside its scope: 401, 403, 404 or success."""
from __future__ import annotations

import re

import pytest

from inspections.accounts.scope import principal_for
from inspections.visits import service as visits
from inspections.visits.enums import VisitStatus
from tests.factories import make_world, token_for

ROLES = ["admin", "office_a", "office_a1", "inspector_a1", "inspector_assigned", "school_user_a1"]


@pytest.fixture
def world(session):
    w = make_world(session)
    # A planned visit to school_a1 by inspector_a1, a submitted one, and one to school_a2.
    w.visit_a1 = visits.create(session, school=w.school_a1, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id])
    w.visit_a1_done = visits.create(session, school=w.school_a1, created_by=w.office_a1,
                                    inspector_ids=[w.inspector_a1.id])
    visits.put_responses(session, w.visit_a1_done, answers=[{"item_code": "enrolment", "value": 600}],
                         actor=principal_for(session, w.inspector_a1))
    visits.transition(session, w.visit_a1_done, VisitStatus.submitted)
    w.visit_a2 = visits.create(session, school=w.school_a2, created_by=w.office_a,
                               inspector_ids=[w.inspector_assigned.id])
    w.visit_b1 = visits.create(session, school=w.school_b1, created_by=w.admin, inspector_ids=[])
    session.commit()
    w.h = {role: token_for(session, getattr(w, role)) for role in ROLES}
    return w


def test_every_api_endpoint_needs_credentials(client, world, app):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")
             and not r.rule.startswith(("/api/v1/openapi", "/api/v1/docs"))]
    assert len(rules) >= 10
    ids = {"school_id": world.school_a1.id, "jurisdiction_id": world.county_a1.id, "user_id": world.admin.id,
           "visit_id": world.visit_a1.id, "template_id": world.visit_a1.template_version.template_id,
           "version_id": world.visit_a1.template_version_id, "device_id": world.admin.id,
           "county_id": world.county_a1.id, "job_id": "score-visit-x", "upload_id": world.admin.id,
           "photo_id": world.admin.id, "variant": "thumb", "ticket_id": world.admin.id, "conflict_id": world.admin.id,
           "schedule_id": world.admin.id}
    for rule in rules:
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{arg}>", str(ids[arg]), url)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if url == "/api/v1/auth/token" and method == "POST":
                continue  # the login itself
            r = client.open(url, method=method, json={})
            assert r.status_code == 401, (method, url, r.status_code)


# (resource path attribute, who gets 200; everyone else 404, or 403 where the role is not allowed)
SCHOOL_READ = {
    "school_a1": {"admin", "office_a", "office_a1", "inspector_a1", "school_user_a1"},
    "school_a2": {"admin", "office_a", "inspector_assigned"},
    "school_b1": {"admin"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("school", sorted(SCHOOL_READ))
def test_school_read(client, world, role, school):
    r = client.get(f"/api/v1/schools/{getattr(world, school).id}", headers=world.h[role])
    assert r.status_code == (200 if role in SCHOOL_READ[school] else 404)


@pytest.mark.parametrize("role", ROLES)
def test_school_list_shows_exactly_the_scope(client, world, role):
    r = client.get("/api/v1/schools?limit=500", headers=world.h[role])
    assert r.status_code == 200
    seen = {item["id"] for item in r.json["items"]}
    expected = {str(getattr(world, s).id) for s, who in SCHOOL_READ.items() if role in who}
    if role in ("admin", "office_a", "office_a1", "inspector_a1"):
        expected.add(str(world.school_a1b.id))  # the second school in county A1
    assert seen == expected


JURIS_READ = {
    "county_a1": {"admin", "office_a", "office_a1", "inspector_a1"},
    "county_a2": {"admin", "office_a"},
    "county_b1": {"admin"},
    "city_a": {"admin", "office_a"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("node", sorted(JURIS_READ))
def test_jurisdiction_read(client, world, role, node):
    r = client.get(f"/api/v1/jurisdictions/{getattr(world, node).id}", headers=world.h[role])
    expected = 403 if role == "school_user_a1" else 200 if role in JURIS_READ[node] else 404
    assert r.status_code == expected


VISIT_READ = {
    "visit_a1": {"admin", "office_a", "office_a1", "inspector_a1"},
    "visit_a1_done": {"admin", "office_a", "office_a1", "inspector_a1", "school_user_a1"},
    "visit_a2": {"admin", "office_a", "inspector_assigned"},
    "visit_b1": {"admin"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("visit", sorted(VISIT_READ))
def test_visit_read(client, world, role, visit):
    r = client.get(f"/api/v1/visits/{getattr(world, visit).id}", headers=world.h[role])
    assert r.status_code == (200 if role in VISIT_READ[visit] else 404)
    r = client.get(f"/api/v1/visits/{getattr(world, visit).id}/responses", headers=world.h[role])
    assert r.status_code == (200 if role in VISIT_READ[visit] else 404)


@pytest.mark.parametrize("role", ROLES)
def test_visit_list_shows_exactly_the_scope(client, world, role):
    seen = {i["id"] for i in client.get("/api/v1/visits?limit=500", headers=world.h[role]).json["items"]}
    assert seen == {str(getattr(world, v).id) for v, who in VISIT_READ.items() if role in who}


USER_READ = {  # whose account each manager may see
    "inspector_a1": {"admin", "office_a", "office_a1"},
    "inspector_assigned": {"admin", "office_a"},
    "school_user_a1": {"admin", "office_a", "office_a1"},
    "office_a": {"admin", "office_a"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("target", sorted(USER_READ))
def test_user_read(client, world, role, target):
    r = client.get(f"/api/v1/users/{getattr(world, target).id}", headers=world.h[role])
    if role in ("inspector_a1", "inspector_assigned", "school_user_a1"):
        assert r.status_code == 403
    else:
        assert r.status_code == (200 if role in USER_READ[target] else 404)


@pytest.mark.parametrize("role,county,expected", [
    ("admin", "county_b1", 201), ("office_a", "county_a2", 201), ("office_a1", "county_a1", 201),
    ("office_a1", "county_a2", 422), ("office_a", "county_b1", 422),
    ("inspector_a1", "county_a1", 403), ("school_user_a1", "county_a1", 403),
])
def test_school_create(client, world, session, role, county, expected):
    body = {"code": f"NEW-{role}", "name": "新学校", "jurisdiction_id": str(getattr(world, county).id),
            "kind": "primary", "locale": "rural", "enrolment_primary": 120}
    r = client.post("/api/v1/schools", json=body, headers=world.h[role])
    assert r.status_code == expected, r.json
    from sqlalchemy import func, select

    from inspections.org.models import School
    n = session.scalar(select(func.count()).select_from(School).where(School.code == f"NEW-{role}"))
    assert n == (1 if expected == 201 else 0)


@pytest.mark.parametrize("role,school,expected", [
    ("office_a1", "school_a1", 200), ("office_a1", "school_a2", 404), ("office_a", "school_b1", 404),
    ("inspector_a1", "school_a1", 403), ("school_user_a1", "school_a1", 403),
])
def test_school_update(client, world, role, school, expected):
    r = client.patch(f"/api/v1/schools/{getattr(world, school).id}", json={"name": "改名"}, headers=world.h[role])
    assert r.status_code == expected


@pytest.mark.parametrize("role,expected", [
    ("admin", 201), ("office_a", 201), ("office_a1", 422), ("inspector_a1", 403), ("school_user_a1", 403)])
def test_user_create_within_subtree(client, world, role, expected):
    # An inspector for county A2: city A's office may create it, county A1's office may not.
    body = {"username": f"new-insp-{role}", "password": "password-123", "role": "inspector",
            "jurisdiction_id": str(world.county_a2.id)}
    assert client.post("/api/v1/users", json=body, headers=world.h[role]).status_code == expected


def test_office_cannot_create_an_admin(client, world):
    body = {"username": "sneaky", "password": "password-123", "role": "admin"}
    assert client.post("/api/v1/users", json=body, headers=world.h["office_a"]).status_code == 403


@pytest.mark.parametrize("role,school,expected", [
    ("office_a1", "school_a1", 201), ("inspector_a1", "school_a1", 201), ("inspector_assigned", "school_a2", 201),
    ("inspector_assigned", "school_a1", 422), ("office_a1", "school_b1", 422), ("school_user_a1", "school_a1", 403),
])
def test_visit_create(client, world, role, school, expected):
    r = client.post("/api/v1/visits", json={"school_id": str(getattr(world, school).id)}, headers=world.h[role])
    assert r.status_code == expected, r.json
    if expected == 201 and role.startswith("inspector"):
        assert str(getattr(world, role).id) in r.json["inspector_ids"]


@pytest.mark.parametrize("role,expected", [
    ("inspector_a1", 200), ("inspector_assigned", 404), ("office_a1", 403), ("school_user_a1", 403)])
def test_answering_a_visit(client, world, role, expected):
    body = {"answers": [{"item_code": "enrolment", "value": 640}]}
    r = client.put(f"/api/v1/visits/{world.visit_a1.id}/responses", json=body, headers=world.h[role])
    assert r.status_code == expected


def test_county_inspector_not_on_a_visit_may_read_but_not_change_it(client, world, session):
    other = visits.create(session, school=world.school_a1, created_by=world.office_a1, inspector_ids=[])
    session.commit()
    h = world.h["inspector_a1"]
    assert client.get(f"/api/v1/visits/{other.id}", headers=h).status_code == 200
    assert client.patch(f"/api/v1/visits/{other.id}", json={"notes": "x"}, headers=h).status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_national_template(client, world, role):
    r = client.get("/api/v1/templates", headers=world.h[role])
    assert r.status_code == 200 and "national-2017" in {t["code"] for t in r.json["items"]}


# Visit planning: schedules of school_a1 (inspector_a1 on it) and of school_b1.
SCHEDULE_READ = {
    "school_a1": {"admin", "office_a", "office_a1", "inspector_a1"},
    "school_b1": {"admin"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("school", sorted(SCHEDULE_READ))
def test_schedule_read_change_and_planned_visits(client, world, session, role, school):
    from datetime import date

    from inspections.planning import service as planning
    from inspections.planning.enums import Recurrence
    target = getattr(world, school)
    inspectors = [world.inspector_a1.id] if school == "school_a1" else []
    sched = planning.create_schedule(session, school=target, created_by=world.admin, recurrence=Recurrence.monthly,
                                     start_date=date(2030, 1, 1), inspector_ids=inspectors)
    session.commit()
    h, url = world.h[role], f"/api/v1/planning/schedules/{sched.id}"
    read = client.get(url, headers=h).status_code
    assert read == (403 if role == "school_user_a1" else 200 if role in SCHEDULE_READ[school] else 404)
    listed = {s["id"] for s in client.get("/api/v1/planning/schedules", headers=h).json.get("items", [])}
    assert (str(sched.id) in listed) == (role in SCHEDULE_READ[school] and role != "school_user_a1")
    change = client.patch(url, json={"notes": "x"}, headers=h).status_code
    may_manage = role in ("admin", "office_a", "office_a1")
    assert change == (403 if not may_manage else 200 if role in SCHEDULE_READ[school] else 404)
    # Assigning inspectors on a planned visit: managers in scope only.
    visit = world.visit_a1 if school == "school_a1" else world.visit_b1
    r = client.put(f"/api/v1/planning/visits/{visit.id}/inspectors",
                   json={"inspector_ids": [str(world.inspector_a1.id)]}, headers=h)
    if not may_manage:
        assert r.status_code == 403
    elif school == "school_a1":
        assert r.status_code == 200
    else:
        assert r.status_code == (404 if role != "admin" else 422)  # A1's inspector does not cover B1
    planned = client.get("/api/v1/planning/visits?limit=500", headers=h)
    assert planned.status_code == (403 if role == "school_user_a1" else 200)
