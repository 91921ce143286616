"""Settling a conflict on a record changed since it was recorded never undoes the later change unseen."""
from __future__ import annotations

import uuid

from inspections.visits.models import Response, Visit
from sync.models import Conflict
from tests.factories import make_world, token_for
from tests.sync.helpers import mutation, new_visit, push

RESOLVE = "/api/v1/sync/conflicts/resolve"


def _answer_conflict(client, session):
    """An answer: 500 (v1), 600 by device A (v2), 601 by device B on v1 (conflict at v2): (headers,
    conflict id, answer id)."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, rid = uuid.uuid4(), uuid.uuid4()
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", id=rid, visit_id=str(vid), item_code="enrolment", value=500))
    push(client, h, mutation("response", "update", id=rid, base_version=1, value=600), device_id="A")
    (b,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=601), device_id="B")
    assert b["status"] == "conflict"
    assert session.get(Conflict, uuid.UUID(b["conflict"]["id"])).server_version == 2
    return h, b["conflict"]["id"], rid


def _stale_answer_conflict(client, session):
    """`_answer_conflict`, then 602 by A (v3)."""
    h, cid, rid = _answer_conflict(client, session)
    (later,) = push(client, h, mutation("response", "update", id=rid, base_version=2, value=602), device_id="A")
    assert later["status"] == "applied" and later["version"] == 3
    return h, cid, rid


def test_taking_the_client_value_over_a_later_change_is_refused_and_shows_the_current_value(client, session):
    h, cid, rid = _stale_answer_conflict(client, session)
    for body in ({"take": "client"}, {"fields": {"value": {"take": "custom", "value": 650}}},
                 {"take": "client", "version": 2}):
        r = client.post(RESOLVE, json={"conflict_id": cid} | body, headers=h)
        assert r.status_code == 409 and r.content_type == "application/problem+json", (body, r.get_json())
        problem = r.get_json()
        assert problem["current"] == {"version": 3, "fields": {"value": 602}}
        assert "changed since" in problem["detail"] and "fields.value" in problem["errors"]
    session.expire_all()
    assert session.get(Conflict, uuid.UUID(cid)).status == "open"
    answer = session.get(Response, rid)
    assert (answer.value, answer.version) == (602, 3)


def test_a_choice_made_against_the_current_version_is_written(client, session):
    h, cid, rid = _stale_answer_conflict(client, session)
    r = client.post(RESOLVE, json={"conflict_id": cid, "take": "client", "version": 3}, headers=h)
    assert r.status_code == 200, r.get_json()
    session.expire_all()
    answer = session.get(Response, rid)
    assert (answer.value, answer.version) == (601, 4)
    assert session.get(Conflict, uuid.UUID(cid)).status == "resolved"


def test_taking_the_server_side_of_a_stale_conflict_keeps_the_later_value(client, session):
    h, cid, rid = _stale_answer_conflict(client, session)
    r = client.post(RESOLVE, json={"conflict_id": cid, "take": "server"}, headers=h)
    assert r.status_code == 200, r.get_json()
    session.expire_all()
    assert session.get(Response, rid).value == 602
    assert session.get(Conflict, uuid.UUID(cid)).status == "resolved"


def test_a_stale_visit_conflict_shows_the_visit_fields_now(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = new_visit(client, h, w.school_a1.id, notes="n0")
    push(client, h, mutation("visit", "update", id=v["id"], base_version=1, notes="server"), device_id="A")
    (b,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, notes="client"), device_id="B")
    push(client, h, mutation("visit", "update", id=v["id"], base_version=2, notes="later"), device_id="A")
    r = client.post(RESOLVE, json={"conflict_id": b["conflict"]["id"], "take": "client"}, headers=h)
    assert r.status_code == 409 and r.get_json()["current"] == {"version": 3, "fields": {"notes": "later"}}
    session.expire_all()
    assert session.get(Visit, uuid.UUID(v["id"])).notes == "later"


def test_a_value_beside_server_or_client_is_refused_and_a_wrong_version_is_named_as_such(client, session):
    """Found by a break-it pass: {"take": "client", "value": 999} wrote the client's value and dropped the 999
    unsaid; a `version` that is not the current one, on a record unchanged since the conflict, was said to
    have "changed since the conflict was recorded"."""
    h, cid, rid = _answer_conflict(client, session)
    for take in ("client", "server"):
        r = client.post(RESOLVE, json={"conflict_id": cid, "fields": {"value": {"take": take, "value": 999}}}, headers=h)
        assert r.status_code == 422, r.get_json()
        assert "custom" in r.get_json()["errors"]["fields.value"][0]
    r = client.post(RESOLVE, json={"conflict_id": cid, "take": "client", "version": 1}, headers=h)
    assert r.status_code == 409 and r.get_json()["code"] == "conflict.record_changed"
    assert "is not the response's current one (2)" in r.get_json()["detail"]
    assert r.get_json()["errors"]["fields.value"] == ["not chosen against the current version"]
    session.expire_all()
    assert (session.get(Response, rid).value, session.get(Conflict, uuid.UUID(cid)).status) == (600, "open")


def test_an_inspector_not_on_the_visit_is_refused_before_anything_about_the_record_is_said(client, session):
    """An inspector of the same county (who reads the visit) but not on it: 403 whatever it chooses, and
    never the record's version and values now (the 409 `current` an inspector on it gets); the conflict
    stays open."""
    from inspections.accounts.enums import Role
    from inspections.org.models import Jurisdiction, School
    from tests.factories import make_user
    h, cid, rid = _stale_answer_conflict(client, session)
    visit = session.get(Visit, session.get(Response, rid).visit_id)
    county = session.get(Jurisdiction, session.get(School, visit.school_id).jurisdiction_id)
    other = make_user(session, Role.inspector, jurisdiction=county)
    session.commit()
    ho = token_for(session, other)
    for body in ({"take": "client"}, {"take": "client", "version": 2}, {"take": "server"},
                 {"fields": {"value": {"take": "custom", "value": 650}}}):
        r = client.post(RESOLVE, json={"conflict_id": cid} | body, headers=ho)
        assert r.status_code == 403 and "current" not in r.get_json(), (body, r.get_json())
    session.expire_all()
    assert session.get(Conflict, uuid.UUID(cid)).status == "open"
    assert (session.get(Response, rid).value, session.get(Response, rid).version) == (602, 3)


def _deleted_answer_conflict(client, session):
    """`_answer_conflict`, then the answer deleted by inspector A1 (its visit then has a second answer)."""
    h, cid, rid = _answer_conflict(client, session)
    vid = session.get(Response, rid).visit_id
    push(client, h, mutation("response", "create", visit_id=str(vid), item_code="has_charter", value=True))
    (gone,) = push(client, h, mutation("response", "delete", id=rid, base_version=2), device_id="A")
    assert gone["status"] == "applied", gone
    return h, cid, vid


def test_a_conflict_on_a_deleted_answer_is_settled_only_by_those_who_may(client, session):
    """Its answer deleted, the conflict was closed by an inspector not on the visit (take server), which let the
    visit be submitted; and an office choosing a value heard about the deletion rather than its own rule."""
    from inspections.accounts.enums import Role
    from inspections.org.models import Jurisdiction, School
    from tests.factories import make_user
    h, cid, vid = _deleted_answer_conflict(client, session)
    school = session.get(School, session.get(Visit, vid).school_id)
    county = session.get(Jurisdiction, school.jurisdiction_id)
    outsider = token_for(session, make_user(session, Role.inspector, jurisdiction=county))
    office = token_for(session, make_user(session, Role.office, jurisdiction=county))
    session.commit()
    for headers, body, status, code in ((outsider, {"take": "server"}, 403, None),
                                        (outsider, {"take": "client"}, 403, None),
                                        (office, {"take": "client"}, 403, "conflict.inspectors_answer")):
        r = client.post(RESOLVE, json={"conflict_id": cid} | body, headers=headers)
        assert r.status_code == status and (code is None or r.get_json()["code"] == code), (body, r.get_json())
    session.expire_all()
    assert session.get(Conflict, uuid.UUID(cid)).status == "open"
    assert client.patch(f"/api/v1/visits/{vid}", json={"status": "submitted"}, headers=h).status_code == 409
    r = client.post(RESOLVE, json={"conflict_id": cid, "take": "server"}, headers=office)  # the office may
    assert r.status_code == 200 and r.get_json()["resolution"]["record_gone"] is True, r.get_json()


def test_a_value_chosen_on_a_cancelled_visit_is_refused_as_frozen_at_once(client, session):
    """Cancelling moved the visit's version: the choice was told to name the version now, and doing so met
    "frozen". Frozen is said first."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    visit = new_visit(client, h, w.school_a1.id)
    push(client, h, mutation("visit", "update", id=visit["id"], base_version=1, notes="A"), device_id="A")
    (b,) = push(client, h, mutation("visit", "update", id=visit["id"], base_version=1, notes="B"), device_id="B")
    assert b["status"] == "conflict", b
    r = client.patch(f"/api/v1/visits/{visit['id']}", json={"status": "cancelled"}, headers=token_for(session, w.office_a1))
    assert r.status_code == 200, r.get_json()
    r = client.post(RESOLVE, json={"conflict_id": b["conflict"]["id"], "take": "client"}, headers=h)
    assert r.status_code == 409 and r.get_json()["code"] == "visit.frozen", r.get_json()
