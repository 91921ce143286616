"""Each role x each resource x inside/outside its scope: 401, 403, 404 or success."""
from __future__ import annotations

import re
import uuid

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
           "schedule_id": world.admin.id, "report_id": world.admin.id, "document_id": world.admin.id}
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


# ---------------------------------------------------------------------------------------------------
# Two counties (A1 in city A, B1 in city B), each with an office, an inspector and a school account,
# a submitted visit with a processed photo, rectification tickets, scoring jobs and a county report.
# Every actor reads its own county's things and gets exactly "unknown" for the other's: over the API
# (schools, visits, scores, evidence, photos and their files, tickets, jobs, reports, users, previews)
# and over the pages (tickets, photo files, dashboard drill-down and exports).

COUNTY_ACTORS = ["office", "inspector", "school"]


@pytest.fixture
def counties(app, client, session):
    from datetime import date

    from sqlalchemy import select

    from inspections.accounts.enums import Role
    from inspections.photos.tasks import process_photo
    from inspections.templates import service as templates
    from inspections.tickets.models import Ticket
    from server.api.photos import processing_settings
    from tests.api.test_photos import declare, send
    from tests.factories import GOOD_PRIMARY, make_user, run_jobs
    from tests.inspections.photos.images import photo

    w = make_world(session)
    national = templates.ensure_builtin(session)[0].template
    side = {}
    for key, county, school in (("a", w.county_a1, w.school_a1), ("b", w.county_b1, w.school_b1)):
        s = {"county": county, "school": school,
             "office": w.office_a1 if key == "a" else make_user(session, Role.office, jurisdiction=county),
             "inspector": w.inspector_a1 if key == "a" else make_user(session, Role.inspector, jurisdiction=county),
             "school_user": w.school_user_a1 if key == "a" else make_user(session, Role.school, school=school)}
        tpl = templates.create_template(session, code=f"local-{key}", name=key, jurisdiction=county, parent=national)
        s["version"] = templates.create_version(session, tpl, overlay={"set_thresholds": {"R1": {"primary": "5.0"}}},
                                                effective_from=None)
        templates.publish(session, s["version"])
        session.commit()
        s["h"] = {"office": token_for(session, s["office"]), "inspector": token_for(session, s["inspector"]),
                  "school": token_for(session, s["school_user"])}
        hi = s["h"]["inspector"]
        v = client.post("/api/v1/visits", json={"school_id": str(school.id)}, headers=hi).json
        assert client.patch(f"/api/v1/visits/{v['id']}", json={"status": "in_progress"}, headers=hi).status_code == 200
        data = photo(320 + len(key), 240)
        up = declare(client, hi, v["id"], data).json
        assert send(client, hi, up["id"], data, 0).status_code == 204
        assert client.post(f"/api/v1/photos/uploads/{up['id']}/finalize", headers=hi).status_code == 200
        assert process_photo(up["id"], **processing_settings(app)) == "processed"
        answers = [{"item_code": k, "value": val} for k, val in {**GOOD_PRIMARY, "pe_art_teachers": 4}.items()]
        assert client.put(f"/api/v1/visits/{v['id']}/responses", json={"answers": answers}, headers=hi).status_code == 200
        assert client.patch(f"/api/v1/visits/{v['id']}", json={"status": "submitted"}, headers=hi).status_code == 200
        run_jobs(app)
        s["visit"], s["photo"] = v["id"], up["id"]
        s["visit_job"] = client.get(f"/api/v1/visits/{v['id']}/score", headers=hi).json["job"]["id"]
        run = client.post(f"/api/v1/counties/{county.id}/scoring-runs?level=primary", headers=s["h"]["office"])
        assert run.status_code == 202, run.json
        s["county_job"] = run.json["id"]
        run_jobs(app)
        s["ticket"] = str(session.scalar(select(Ticket.id).where(Ticket.school_id == school.id)))
        side[key] = s
    return side


def _api_reads(s) -> list[tuple[str, set[str], set[str]]]:
    """(url, roles that read it, roles refused by role: 403) for one county's things; others get 404."""
    everyone, staff, offices, no_school = {"office", "inspector", "school"}, {"office", "inspector"}, {"office"}, {"school"}
    v, ph = s["visit"], s["photo"]
    return [(f"/api/v1/schools/{s['school'].id}", everyone, set()), (f"/api/v1/visits/{v}", everyone, set()),
            (f"/api/v1/visits/{v}/responses", everyone, set()), (f"/api/v1/visits/{v}/score", everyone, set()),
            (f"/api/v1/visits/{v}/photos", everyone, set()), (f"/api/v1/visits/{v}/evidence", everyone, set()),
            (f"/api/v1/photos/{ph}", everyone, set()), (f"/api/v1/photos/{ph}/thumb", everyone, set()),
            (f"/api/v1/photos/{ph}/original", everyone, set()), (f"/api/v1/tickets/{s['ticket']}", everyone, set()),
            (f"/api/v1/jobs/{s['visit_job']}", staff, no_school),
            (f"/api/v1/jobs/{s['county_job']}", offices, no_school),  # an inspector: as unknown
            (f"/api/v1/counties/{s['county'].id}/report?level=primary", staff, no_school),
            (f"/api/v1/users/{s['inspector'].id}", offices, {"inspector", "school"})]


def _get(client, url, headers):
    r = client.get(url, headers=headers)
    r.close()  # photo files stream: end them here
    return r


PAIRS = [(actor, mine, theirs) for actor in COUNTY_ACTORS for mine, theirs in (("a", "b"), ("b", "a"))]


def test_two_counties_api(client, counties):
    for actor, mine, theirs in PAIRS:  # one costly fixture for all six (actor, county) pairs
        _two_counties_api(client, counties, actor, mine, theirs)


def test_two_counties_pages(app, counties):
    for actor, mine, theirs in PAIRS:
        _two_counties_pages(app, counties, actor, mine, theirs)


def _two_counties_api(client, counties, actor, mine, theirs):
    h = counties[mine]["h"][actor]
    for url, ok, refused in _api_reads(counties[mine]):
        r = _get(client, url, h)
        assert r.status_code == (200 if actor in ok else 403 if actor in refused else 404), (actor, "own", url)
    unknown = client.get(f"/api/v1/tickets/{uuid.uuid4()}", headers=h)
    for url, _ok, refused in _api_reads(counties[theirs]):
        r = _get(client, url, h)
        assert r.status_code == (403 if actor in refused else 404), (actor, "other", url, r.status_code)
        if r.status_code == 404 and "/jobs/" in url:
            assert r.json == client.get(f"/api/v1/jobs/score-visit-{uuid.uuid4()}-v1", headers=h).json
    assert unknown.status_code == 404
    # Writes to the other county's things are "unknown" as well.
    r = client.post(f"/api/v1/tickets/{counties[theirs]['ticket']}/transitions", json={"to": "acknowledged"},
                    headers=h)
    assert r.status_code == 404
    r = client.patch(f"/api/v1/users/{counties[theirs]['inspector'].id}", json={"password": "taken-over-1"},
                     headers=h)
    assert r.status_code == (404 if actor == "office" else 403)
    # Previews: the own county's published template, never the other's.
    for key, expected in ((mine, 200), (theirs, 422)):
        r = client.post("/api/v1/scoring/preview", json={"level": "primary", "facts": {"enrolment": 600},
                                                          "template_version_id": str(counties[key]["version"].id)},
                        headers=h)
        assert r.status_code == expected, (actor, key, r.json)


def _two_counties_pages(app, counties, actor, mine, theirs):
    import csv
    import io

    from tests.web.helpers import login
    c = app.test_client()
    user = counties[mine]["school_user" if actor == "school" else actor]
    login(c, user.username)
    for key, ok in ((mine, 200), (theirs, 404)):
        s = counties[key]
        assert c.get(f"/web/tickets/{s['ticket']}").status_code == ok, (actor, key)
        thumb = c.get(f"/web/photos/{s['photo']}/thumb")
        thumb.close()
        assert thumb.status_code == ok, (actor, key)
        listing = c.get("/web/tickets").get_data(as_text=True)
        assert (s["ticket"] in listing) == (ok == 200)
    other = counties[theirs]
    for url in (f"/web/dashboard?county_id={other['county'].id}",
                f"/web/dashboard/tickets?county_id={other['county'].id}",
                f"/web/dashboard/tickets?school_id={other['school'].id}",
                f"/web/dashboard/export.csv?county_id={other['county'].id}",
                f"/web/dashboard/export.xlsx?school_id={other['school'].id}", "/web/dashboard/counties"):
        r = c.get(url)
        if actor != "office":
            assert r.status_code == 403, (actor, url)
            continue
        assert r.status_code == 200, url
        if url.startswith("/web/dashboard/export.csv"):
            rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
            assert len(rows) == 1  # the header only
        elif "xlsx" not in url:
            page = r.get_data(as_text=True)
            assert other["ticket"] not in page and other["school"].name not in page
            assert other["county"].name not in page
    if actor == "office":
        own = c.get("/web/dashboard/export.csv").get_data(as_text=True)
        # The export names no internal ids: its rows are told apart by school code.
        codes = {row[0] for row in list(csv.reader(io.StringIO(own.lstrip("\ufeff"))))[1:]}
        assert counties[mine]["school"].code in codes and other["school"].code not in codes
