"""A visit with open conflicts (on it or on its answers) is not submitted, by any way in, until they are settled."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from inspections.jobs.models import JobRecord
from inspections.visits.models import Response, Visit
from sync.models import Conflict
from tests.factories import make_world, token_for
from tests.sync.helpers import mutation, push

RESOLVE = "/api/v1/sync/conflicts/resolve"


def _answered_visit(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, rid = str(uuid.uuid4()), str(uuid.uuid4())
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", id=rid, visit_id=vid, item_code="enrolment", value=600), device_id="A")
    (a,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=610), device_id="A")
    assert a["status"] == "applied"
    return h, vid, rid


def test_a_submit_after_an_answer_that_conflicts_in_the_same_batch_is_refused(client, session):
    h, vid, rid = _answered_visit(client, session)
    version = session.get(Visit, uuid.UUID(vid)).version
    # (The second answer writes what the batch holds before the submit: the conflict is flushed by then.)
    results = push(client, h, mutation("response", "update", id=rid, base_version=1, value=620, note="recounted"),
                   mutation("response", "create", visit_id=vid, item_code="pe_art_teachers", value=6),
                   mutation("visit", "update", id=vid, base_version=version, status="submitted"),
                   mutation("response", "create", visit_id=vid, item_code="has_charter", value=True), device_id="B")
    assert [r["status"] for r in results] == ["conflict", "applied", "rejected", "applied"]
    assert "1 open conflict" in results[2]["reason"] and "settle" in results[2]["reason"]
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(vid))
    assert visit.status.value == "in_progress" and visit.submitted_at is None
    assert session.get(JobRecord, f"score-visit-{vid}") is None
    # Settled ("keep mine"), the same submit goes through.
    r = client.post(RESOLVE, json={"conflict_id": results[0]["conflict"]["id"], "take": "client"}, headers=h)
    assert r.status_code == 200, r.get_json()
    session.expire_all()
    version = session.get(Visit, uuid.UUID(vid)).version
    (again,) = push(client, h, mutation("visit", "update", id=vid, base_version=version, status="submitted"),
                    device_id="B")
    assert again["status"] == "applied", again
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(vid))
    assert visit.status.value == "submitted"
    assert {r.item_code: r.value for r in visit.responses}["enrolment"] == 620


def test_submitting_through_the_api_with_open_conflicts_is_a_409_naming_how_many(client, session):
    h, vid, rid = _answered_visit(client, session)
    push(client, h, mutation("response", "update", id=rid, base_version=1, value=620), device_id="B")
    session.expire_all()
    before = session.get(Visit, uuid.UUID(vid)).version
    r = client.patch(f"/api/v1/visits/{vid}", json={"status": "submitted"}, headers=h)
    assert r.status_code == 409 and r.content_type == "application/problem+json"
    assert "has 1 open conflict" in r.get_json()["detail"], r.get_json()
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(vid))
    assert visit.status.value == "in_progress" and visit.version == before


def test_a_submit_whose_own_visit_fields_conflict_is_refused_whole(client, session):
    h, vid, rid = _answered_visit(client, session)
    version = session.get(Visit, uuid.UUID(vid)).version
    (a,) = push(client, h, mutation("visit", "update", id=vid, base_version=version, notes="from A"), device_id="A")
    assert a["status"] == "applied"
    (b,) = push(client, h, mutation("visit", "update", id=vid, base_version=version, notes="from B",
                                    status="submitted"), device_id="B")
    assert b["status"] == "rejected" and "fields.notes" in b["errors"] and "cannot be submitted" in b["reason"]
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(vid))
    assert (visit.status.value, visit.notes) == ("in_progress", "from A")


def test_an_office_settles_an_answers_conflict_by_keeping_the_recorded_answer(client, session):
    """Only inspectors answer checklists, so an office choosing a value for an answer was refused, and so was
    keeping the recorded one (settling wrote the answer again): a conflict whose inspector had left held the
    visit's submission back for good. Keeping the recorded answer now closes it with no write; a value of
    the office's own choosing is still refused, and the conflict stays open."""
    h, vid, rid = _answered_visit(client, session)
    (b,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=620), device_id="B")
    cid = b["conflict"]["id"]
    office = token_for(session, _office_of(session, vid))
    session.expire_all()
    answer_before = session.get(Response, uuid.UUID(rid))
    before = (answer_before.value, answer_before.version)
    for body in ({"take": "client"}, {"fields": {"value": {"take": "custom", "value": 630}}}):
        r = client.post(RESOLVE, json={"conflict_id": cid} | body, headers=office)
        assert r.status_code == 403 and r.get_json()["code"] == "conflict.inspectors_answer", r.get_json()
        assert "fields.value" in r.get_json()["errors"]
    session.expire_all()
    assert session.get(Conflict, uuid.UUID(cid)).status == "open"

    r = client.post(RESOLVE, json={"conflict_id": cid, "take": "server"}, headers=office)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "resolved" and r.get_json()["resolution"]["choices"] == {"value": "server"}
    session.expire_all()
    answer = session.get(Response, uuid.UUID(rid))
    assert (answer.value, answer.version) == before == (610, 2)  # nothing written
    # The inspector's submit goes through now.
    r = client.patch(f"/api/v1/visits/{vid}", json={"status": "submitted"}, headers=h)
    assert r.status_code == 200, r.get_json()


def _office_of(session, vid):
    """The county office over the visit's school."""
    from inspections.accounts.enums import Role
    from inspections.accounts.models import User
    from inspections.org.models import School
    visit = session.get(Visit, uuid.UUID(vid))
    school = session.get(School, visit.school_id)
    return session.scalar(select(User).where(User.role == Role.office, User.jurisdiction_id == school.jurisdiction_id))
