"""A push's batch is answered mutation by mutation, whatever shape each has (break-it findings)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from inspections.visits.models import Visit
from tests.factories import make_world, token_for
from tests.sync.helpers import PUSH, mutation, new_visit, push


@pytest.mark.parametrize("bad", [{"id": "visit-1"}, {"op": "upsert"}, {"entity": "x" * 40},
                                 {"mutation_id": "m" * 65}, {"base_version": 1.5}, {"base_version": -1},
                                 {"fields": []}, {"id": None}])
def test_one_malformed_mutation_is_refused_alone(client, session, bad):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    good = mutation("visit", "create", school_id=str(w.school_a1.id))
    broken = mutation("visit", "create", school_id=str(w.school_a1.id)) | bad
    after = mutation("visit", "create", school_id=str(w.school_a1.id))
    r = client.post(PUSH, json={"device_id": "d", "mutations": [good, broken, after]}, headers=h)
    assert r.status_code == 200, r.get_json()
    first, refused, last = r.get_json()["results"]
    assert first["status"] == last["status"] == "applied"
    assert refused["status"] == "rejected" and refused["errors"] and refused["reason"] == "invalid mutation"
    assert session.scalar(select(func.count()).select_from(Visit)) == 2


def test_a_batch_that_is_not_a_list_is_still_a_422(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    assert client.post(PUSH, json={"device_id": "d", "mutations": {"a": 1}}, headers=h).status_code == 422
    assert client.post(PUSH, json={"device_id": "d", "mutations": []}, headers=h).status_code == 422


def test_a_mutation_id_used_twice_in_a_batch_for_two_records(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    one = mutation("visit", "create", school_id=str(w.school_a1.id), notes="one")
    two = mutation("visit", "create", school_id=str(w.school_a1.id), notes="two") | {"mutation_id": one["mutation_id"]}
    a, b = push(client, h, one, two)
    assert a["status"] == "applied"
    assert b["status"] == "rejected" and b["id"] == two["id"] and "mutation_id" in b["errors"]


def test_a_visit_cannot_be_sent_back_to_planned(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = new_visit(client, h, w.school_a1.id)
    push(client, h, mutation("response", "create", visit_id=v["id"], item_code="enrolment", value=600))
    current = client.get(f"/api/v1/visits/{v['id']}", headers=h).get_json()
    assert current["status"] == "in_progress"
    (r,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=current["version"], status="planned"))
    assert r["status"] == "rejected" and "planned" in r["reason"]
    # A device that had only seen it planned (an older base) keeps the server's in_progress: merged.
    (old,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, status="planned"))
    assert old["status"] == "merged" and old["record"]["status"] == "in_progress"


def test_a_nested_field_error_is_named_by_its_path(client, session):
    """An error inside a list names the element (fields.inspector_ids.1), never a dict printed as text."""
    from tests.factories import make_world, token_for
    from tests.sync.helpers import mutation, push
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    (res,) = push(client, h, mutation("visit", "create", school_id=str(w.school_a1.id),
                                      inspector_ids=[str(w.inspector_a1.id), "not-a-uuid"]))
    assert res["status"] == "rejected"
    assert res["errors"] == {"fields.inspector_ids.1": ["Not a valid UUID."]}, res
