"""Every refusal carries a stable code (the kind a client tells its user from, in the user's language), both in
a push result and in the problem document of the same refusal through the REST API; the English sentence is
for people reading the API, and may change without a device misreading it."""
from __future__ import annotations

import uuid

from inspections.visits.models import Visit
from tests.factories import make_world, token_for
from tests.sync.helpers import PUSH, mutation, push

RESOLVE = "/api/v1/sync/conflicts/resolve"


def _answered_visit(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, rid = str(uuid.uuid4()), str(uuid.uuid4())
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", id=rid, visit_id=vid, item_code="enrolment", value=600), device_id="A")
    return w, h, vid, rid


def _version(session, vid):
    session.expire_all()
    return session.get(Visit, uuid.UUID(vid)).version


def test_push_refusals_name_their_kind(client, session):
    w, h, vid, rid = _answered_visit(client, session)
    # A conflict left open, then a submit over it; a move back along the lifecycle; a value the item does not
    # take; a record that is not there; a mutation that does not load; an entity sync does not write.
    (c,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=610), device_id="A")
    (d,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=620), device_id="B")
    assert (c["status"], d["status"]) == ("applied", "conflict")
    v = _version(session, vid)
    submit, back, value, missing, entity = push(
        client, h,
        mutation("visit", "update", id=vid, base_version=v, status="submitted"),
        mutation("visit", "update", id=vid, base_version=v, status="planned"),
        mutation("response", "create", visit_id=vid, item_code="pe_art_teachers", value="many"),
        mutation("response", "update", id=uuid.uuid4(), base_version=1, value=5),
        mutation("photo", "update", id=uuid.uuid4(), base_version=1, note="x"), device_id="B")
    assert submit["code"] == "visit.open_conflicts", submit
    assert back["code"] == "visit.cannot_go_back", back
    assert value["code"] == "answer.invalid_value" and any("value" in k for k in value["errors"]), value
    assert missing["code"] == "not_found", missing
    assert entity["code"] == "sync.not_writable", entity
    assert all(r["status"] == "rejected" for r in (submit, back, value, missing, entity))
    # Malformed (no id): answered on its own, coded.
    r = client.post(PUSH, json={"device_id": "B", "mutations": [{"mutation_id": "m1", "entity": "response",
                                                                  "op": "update"}]}, headers=h)
    assert r.get_json()["results"][0]["code"] == "invalid"


def test_a_value_the_item_does_not_take_is_coded_as_such_on_every_path(client, session):
    w, h, vid, rid = _answered_visit(client, session)
    # A number item given a negative count: the domain's value rule (visits.answer) refuses it.
    (bad,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=-3), device_id="A")
    assert (bad["status"], bad["code"]) == ("rejected", "answer.invalid_value"), bad
    r = client.put(f"/api/v1/visits/{vid}/responses", json={"answers": [{"item_code": "enrolment", "value": -3}]},
                   headers=h)
    assert r.status_code == 422 and r.get_json().get("code") == "answer.invalid_value", r.get_json()


def test_a_frozen_visit_refuses_with_its_code_by_push_and_by_the_api(client, session):
    w, h, vid, rid = _answered_visit(client, session)
    (s,) = push(client, h, mutation("visit", "update", id=vid, base_version=_version(session, vid), status="submitted"),
                device_id="A")
    assert s["status"] == "applied", s
    (late,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=650), device_id="A")
    assert (late["status"], late["code"]) == ("rejected", "visit.frozen"), late
    r = client.patch(f"/api/v1/visits/{vid}", json={"notes": "late"}, headers=h)
    assert r.status_code == 409 and r.content_type == "application/problem+json"
    assert r.get_json()["code"] == "visit.frozen", r.get_json()


def test_settling_a_settled_conflict_is_coded(client, session):
    w, h, vid, rid = _answered_visit(client, session)
    push(client, h, mutation("response", "update", id=rid, base_version=1, value=610), device_id="A")
    (c,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=620), device_id="B")
    cid = c["conflict"]["id"]
    assert client.post(RESOLVE, json={"conflict_id": cid, "take": "server"}, headers=h).status_code == 200
    again = client.post(RESOLVE, json={"conflict_id": cid, "take": "client"}, headers=h)
    assert again.status_code == 409 and again.get_json()["code"] == "conflict.already_resolved", again.get_json()


def test_an_answer_to_a_visit_deleted_meanwhile_says_so_and_to_no_one_else(client, session):
    """Found by a break-it pass: a phone's answers to a visit its inspector's other device deleted were refused
    as "the visit is not in your scope". They are refused as deleted (sync.deleted), kept on the device; an
    inspector to whom the visit was never in scope still reads "not in your scope", as for any visit there."""
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    stranger = token_for(session, make_user(session, Role.inspector, jurisdiction=w.school_b1.jurisdiction))
    (v,) = push(client, h, mutation("visit", "create", school_id=str(w.school_a1.id)), device_id="tablet")
    (d,) = push(client, h, mutation("visit", "delete", id=v["id"], base_version=v["version"]), device_id="tablet")
    assert d["status"] == "applied", d
    (mine,) = push(client, h, mutation("response", "create", visit_id=v["id"], item_code="enrolment", value=600),
                   device_id="phone")
    assert (mine["status"], mine["code"]) == ("rejected", "sync.deleted"), mine
    (theirs,) = push(client, stranger, mutation("response", "create", visit_id=v["id"], item_code="enrolment",
                                                value=600), device_id="x")
    (never,) = push(client, stranger, mutation("response", "create", visit_id=str(uuid.uuid4()), item_code="enrolment",
                                               value=600), device_id="x")
    assert (theirs["code"], theirs["reason"]) == (never["code"], never["reason"]) == ("not_found", "the visit is not in your scope")


def test_a_deleted_record_is_told_apart_only_inside_the_scope(client, session):
    """Found by a break-it pass: an update or delete of a visit deleted in another county answered "deleted on
    the server" (sync.deleted) to a stranger, where one that exists there, or none, answers not_found."""
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    stranger = token_for(session, make_user(session, Role.inspector, jurisdiction=w.school_b1.jurisdiction))
    (v,) = push(client, h, mutation("visit", "create", school_id=str(w.school_a1.id)), device_id="tablet")
    (d,) = push(client, h, mutation("visit", "delete", id=v["id"], base_version=v["version"]), device_id="tablet")
    assert d["status"] == "applied", d
    (mine,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, notes="x"), device_id="phone")
    assert mine["code"] == "sync.deleted", mine
    for op in ("update", "delete"):
        (theirs,) = push(client, stranger, mutation("visit", op, id=v["id"], base_version=1, notes="x"), device_id="s")
        (never,) = push(client, stranger, mutation("visit", op, id=uuid.uuid4(), base_version=1, notes="x"), device_id="s")
        assert theirs["code"] == never["code"] == "not_found", (theirs, never)
        assert theirs["reason"].replace(v["id"], "?") == never["reason"].replace(never["id"], "?")


def test_every_problem_document_says_its_kind_or_its_family(client, session):
    """Found by a break-it pass: many REST refusals had no code where the same refusal by push had one."""
    w, h, vid, rid = _answered_visit(client, session)
    back = client.patch(f"/api/v1/visits/{vid}", json={"status": "planned"}, headers=h)
    assert back.status_code == 409 and back.get_json()["code"] == "visit.cannot_become", back.get_json()
    other = token_for(session, w.inspector_assigned)  # not on the visit, nor covering its school
    assert client.patch(f"/api/v1/visits/{vid}", json={"notes": "x"}, headers=other).get_json()["code"] == "not_found"
    assert client.get(f"/api/v1/visits/{uuid.uuid4()}", headers=h).get_json()["code"] == "not_found"
    bad = client.put(f"/api/v1/visits/{vid}/responses", json={"answers": [{"item_code": "nope", "value": 1}]}, headers=h)
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid", bad.get_json()
    assert client.get("/api/v1/visits", headers={"Authorization": "Bearer nope"}).get_json()["code"] == "unauthenticated"
