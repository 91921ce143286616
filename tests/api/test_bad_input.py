"""Bad input anywhere: a problem+json 4xx with field messages, and nothing written."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from inspections.audit.models import AuditRecord
from inspections.org.models import Jurisdiction, School
from inspections.visits.models import Response, Visit
from tests.factories import world_with_tokens


@pytest.fixture
def world(session):
    return world_with_tokens(session)


def _counts(session):
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (School, Jurisdiction, Visit, Response,
                                                                                AuditRecord))


def _school(world, **over):
    body = {"code": "GOOD-1", "name": "好学校", "jurisdiction_id": str(world.county_a1.id), "kind": "primary",
            "locale": "urban", "enrolment_primary": 500}
    body.update(over)
    return body


CASES = [
    ("wrong type", {"enrolment_primary": "lots"}, "enrolment_primary"),
    ("negative enrolment", {"enrolment_primary": -5}, "enrolment_primary"),
    ("unknown field", {"colour": "red"}, "colour"),
    ("bad enum", {"kind": "university"}, "kind"),
    ("bad uuid", {"jurisdiction_id": "not-a-uuid"}, "jurisdiction_id"),
    ("latitude out of range", {"latitude": 91}, "latitude"),
    # Text outside the one decimal grammar (inspections.numbers), which Python's Decimal() would read.
    ("latitude with an underscore", {"latitude": "2_8.5", "longitude": "112.9"}, "latitude"),
    ("longitude with an exponent", {"latitude": "28.5", "longitude": "1.129e2"}, "longitude"),
    ("latitude in full-width digits", {"latitude": "２８.５", "longitude": "112.9"}, "latitude"),
    ("longitude with spaces", {"latitude": "28.5", "longitude": " 112.9"}, "longitude"),
    ("code with spaces", {"code": "has space"}, "code"),
    ("junior enrolment in a primary school", {"enrolment_junior": 30}, "enrolment_junior"),
    ("null name", {"name": None}, "name"),
]


@pytest.mark.parametrize("label,override,field", CASES, ids=[c[0] for c in CASES])
def test_invalid_school_fields(client, session, world, label, override, field):
    before = _counts(session)
    r = client.post("/api/v1/schools", json=_school(world, **override), headers=world.h_office)
    assert r.status_code == 422, r.json
    assert r.content_type == "application/problem+json"
    assert field in r.json["errors"]
    assert _counts(session) == before


def test_missing_required_fields_are_each_named(client, session, world):
    r = client.post("/api/v1/schools", json={}, headers=world.h_office)
    assert r.status_code == 422
    assert {"code", "name", "jurisdiction_id", "kind", "locale"} <= set(r.json["errors"])


@pytest.mark.parametrize("body", ["{not json", "[1,2", '{"a": }', "\xff\xfe"])
def test_malformed_json_is_400(client, session, world, body):
    before = _counts(session)
    r = client.post("/api/v1/schools", data=body, content_type="application/json", headers=world.h_office)
    assert r.status_code == 400 and r.content_type == "application/problem+json"
    assert _counts(session) == before


def test_a_json_array_instead_of_an_object_is_rejected(client, session, world):
    r = client.post("/api/v1/schools", json=[_school(world)], headers=world.h_office)
    assert r.status_code == 422


def test_oversize_body_is_413(client, session, world):
    before = _counts(session)
    r = client.post("/api/v1/schools", json=_school(world, name="x" * (2 << 20)), headers=world.h_office)
    assert r.status_code == 413 and r.content_type == "application/problem+json"
    assert _counts(session) == before


def test_bad_query_parameters(client, world):
    r = client.get("/api/v1/schools?limit=0", headers=world.h_office)
    assert r.status_code == 422 and "query.limit" in r.json["errors"]
    r = client.get("/api/v1/schools?cursor=@@@", headers=world.h_office)
    assert r.status_code == 422 and "cursor" in r.json["errors"]
    r = client.get("/api/v1/schools?kind=castle", headers=world.h_office)
    assert r.status_code == 422


def test_one_bad_answer_rejects_the_whole_batch(client, session, world):
    r = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=world.h_insp)
    visit_id = r.json["id"]
    before = _counts(session)
    answers = [{"item_code": "enrolment", "value": 600}, {"item_code": "no_such_item", "value": 1}]
    r = client.put(f"/api/v1/visits/{visit_id}/responses", json={"answers": answers}, headers=world.h_insp)
    assert r.status_code == 422 and "answers.1.item_code" in r.json["errors"]
    assert _counts(session) == before
    r = client.put(f"/api/v1/visits/{visit_id}/responses",
                   json={"answers": [{"item_code": "class_sizes", "value": [40, {"x": 1}]}]}, headers=world.h_insp)
    assert r.status_code == 422 and "answers.0.value" in r.json["errors"]
    assert _counts(session) == before


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "[1, NaN]"])
def test_non_finite_numbers_are_no_answer(client, session, world, literal):
    """JSON text may spell NaN and Infinity (Python's parser takes them); they are refused, never stored."""
    r = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=world.h_insp)
    visit_id = r.json["id"]
    before = _counts(session)
    body = '{"answers": [{"item_code": "enrolment", "value": %s}]}' % literal
    r = client.put(f"/api/v1/visits/{visit_id}/responses", data=body, content_type="application/json",
                   headers=world.h_insp)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert "answers.0.value" in r.json["errors"]
    mutation = ('{"device_id": "d1", "mutations": [{"mutation_id": "m1", "entity": "response", "op": "create", '
                '"id": "%s", "fields": {"visit_id": "%s", "item_code": "enrolment", "value": %s}}]}'
                % ("7d4c1f0e-8c53-4a7e-9a55-0d6f5f0b8d11", visit_id, literal))
    r = client.post("/api/v1/sync/push", data=mutation, content_type="application/json", headers=world.h_insp)
    assert r.status_code == 200
    [res] = r.json["results"]
    assert res["status"] == "rejected" and "fields.value" in res["errors"]
    assert _counts(session)[:4] == before[:4]  # no visit, answer, school or jurisdiction written


def test_unknown_route_and_method_are_problems(client, world):
    r = client.get("/api/v1/nothing-here", headers=world.h_office)
    assert r.status_code == 404 and r.content_type == "application/problem+json"
    r = client.delete("/api/v1/schools", headers=world.h_office)
    assert r.status_code == 405 and r.content_type == "application/problem+json"


def test_submitted_visit_is_frozen(client, session, world):
    h = world.h_insp
    visit_id = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=h).json["id"]
    client.put(f"/api/v1/visits/{visit_id}/responses", json={"answers": [{"item_code": "enrolment", "value": 600}]},
               headers=h)
    assert client.patch(f"/api/v1/visits/{visit_id}", json={"status": "submitted"}, headers=h).status_code == 200
    r = client.put(f"/api/v1/visits/{visit_id}/responses", json={"answers": [{"item_code": "enrolment", "value": 1}]},
                   headers=h)
    assert r.status_code == 409 and "submitted" in r.json["detail"]
    assert client.patch(f"/api/v1/visits/{visit_id}", json={"notes": "late"}, headers=h).status_code == 409
    values = session.scalars(select(Response.value).where(Response.visit_id == uuid.UUID(str(visit_id)))).all()
    assert values == [600]


def test_illegal_visit_transition_is_409_with_reason(client, world):
    h = world.h_insp
    visit_id = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=h).json["id"]
    # planned -> submitted composes along the lifecycle, so the reason is the one that stops it.
    r = client.patch(f"/api/v1/visits/{visit_id}", json={"status": "submitted"}, headers=h)
    assert r.status_code == 409 and "no answers" in r.json["detail"]
    assert client.patch(f"/api/v1/visits/{visit_id}", json={"status": "cancelled"}, headers=h).status_code == 200
    r = client.patch(f"/api/v1/visits/{visit_id}", json={"status": "in_progress"}, headers=h)
    assert r.status_code == 409 and "cancelled" in r.json["detail"]


def test_stale_version_is_refused(client, world):
    h = world.h_insp
    visit = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=h).json
    assert client.patch(f"/api/v1/visits/{visit['id']}", json={"notes": "a", "version": visit["version"]},
                        headers=h).status_code == 200
    r = client.patch(f"/api/v1/visits/{visit['id']}", json={"notes": "b", "version": visit["version"]}, headers=h)
    assert r.status_code == 409


@pytest.mark.parametrize("version", [2**31, 2**40, 10**30, -1])
def test_versions_beyond_what_is_stored_are_422_not_500(client, session, world, version):
    vid = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=world.h_insp).json["id"]
    before = _counts(session)
    r = client.patch(f"/api/v1/visits/{vid}", json={"notes": "later", "version": version}, headers=world.h_insp)
    assert r.status_code == 422 and "version" in r.json["errors"]
    r = client.post("/api/v1/sync/push", headers=world.h_insp, json={"device_id": "d1", "mutations": [
        {"mutation_id": "m1", "entity": "visit", "op": "update", "id": vid, "base_version": version,
         "fields": {"notes": "later"}}]})
    # In a push the bad mutation is refused on its own (one bad mutation never sinks the batch).
    assert r.status_code == 200 and r.json["results"][0]["status"] == "rejected"
    assert "base_version" in r.json["results"][0]["errors"]
    assert _counts(session) == before
