"""Pull and push through the API: merge, conflicts, duplicates, tombstones, scope."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from inspections.audit.models import AuditRecord
from inspections.visits.models import Response, Visit
from sync.models import ChangeLog, Conflict, Mutation
from tests.factories import make_world, token_for
from tests.sync.helpers import PULL, PUSH, mutation, new_visit, pull_all, push


def _world(session):
    w = make_world(session)
    return w, token_for(session, w.inspector_a1)


def test_pull_snapshot_pages_then_incremental(client, session):
    w, h = _world(session)
    first, cursor = pull_all(client, h, limit=2)
    kinds = {c["entity"] for c in first}
    assert {"school", "template_version"} <= kinds
    school_ids = {c["id"] for c in first if c["entity"] == "school"}
    assert str(w.school_a1.id) in school_ids and str(w.school_b1.id) not in school_ids  # scope
    again, cursor2 = pull_all(client, h, cursor=cursor)
    assert again == []
    v = new_visit(client, h, w.school_a1.id)
    changes, _ = pull_all(client, h, cursor=cursor2)
    assert [(c["entity"], c["id"], c["op"], c["version"]) for c in changes] == [("visit", v["id"], "upsert", 1)]


def test_bad_and_expired_cursor_is_410(app, client, session):
    w, h = _world(session)
    r = client.get(PULL, query_string={"cursor": "garbage"}, headers=h)
    assert r.status_code == 410 and r.content_type == "application/problem+json"
    from sync.pull import Position, encode_cursor
    old = encode_cursor(Position(0, 0), secret=app.config["SECRET_KEY"], now=0)
    assert client.get(PULL, query_string={"cursor": old}, headers=h).status_code == 410
    forged = encode_cursor(Position(0, 0), secret="other")
    assert client.get(PULL, query_string={"cursor": forged}, headers=h).status_code == 410


def test_pull_needs_a_token(client):
    assert client.get(PULL).status_code == 401
    assert client.post(PUSH, json={"device_id": "d", "mutations": []}).status_code == 401


def test_visit_and_responses_in_one_batch(client, session):
    w, h = _world(session)
    vid = uuid.uuid4()
    results = push(client, h,
                   mutation("visit", "create", id=vid, school_id=str(w.school_a1.id), notes="first"),
                   mutation("response", "create", visit_id=str(vid), item_code="enrolment", value=600),
                   mutation("response", "create", visit_id=str(vid), item_code="pe_art_teachers", value=6))
    assert [r["status"] for r in results] == ["applied"] * 3
    visit = session.get(Visit, vid)
    assert visit.status.value == "in_progress" and len(visit.responses) == 2


def test_one_bad_mutation_does_not_sink_the_batch(client, session):
    w, h = _world(session)
    v = new_visit(client, h, w.school_a1.id)
    results = push(client, h,
                   mutation("response", "create", visit_id=v["id"], item_code="no_such_item", value=1),
                   mutation("response", "create", visit_id=v["id"], item_code="enrolment", value="x" * 3000),
                   mutation("response", "create", visit_id=v["id"], item_code="enrolment", value=600),
                   mutation("ticket", "create", school_id=str(w.school_a1.id)))
    assert [r["status"] for r in results] == ["rejected", "rejected", "applied", "rejected"]
    assert "fields.item_code" in results[0]["errors"] and "fields.value" in results[1]["errors"]
    assert session.scalar(select(func.count()).select_from(Response)) == 1


def test_push_into_a_school_out_of_scope_is_rejected_and_writes_nothing(client, session):
    w, h = _world(session)
    before = session.scalar(select(func.count()).select_from(ChangeLog))
    (res,) = push(client, h, mutation("visit", "create", school_id=str(w.school_b1.id)))
    assert res["status"] == "rejected" and "fields.school_id" in res["errors"]
    assert session.scalar(select(func.count()).select_from(Visit)) == 0
    assert session.scalar(select(func.count()).select_from(ChangeLog)) == before
    # and a visit of another county is "not here", the same as one that does not exist
    other = token_for(session, w.inspector_assigned)
    v = new_visit(client, other, w.school_a2.id)
    (res,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, notes="x"))
    assert res["status"] == "rejected" and res["errors"] == {"id": ["not found"]}


def test_school_users_cannot_push_visits_and_malformed_mutations_are_refused_alone(client, session):
    w, h = _world(session)
    school_h = token_for(session, w.school_user_a1)
    r = client.post(PUSH, json={"device_id": "d", "mutations": [mutation("visit", "create")]}, headers=school_h)
    assert r.status_code == 200 and r.get_json()["results"][0]["status"] == "rejected"
    assert session.scalar(select(func.count()).select_from(Visit)) == 0
    stored = session.scalar(select(func.count()).select_from(Mutation))
    # A malformed mutation is refused on its own, with its field errors, and leaves no stored result.
    r = client.post(PUSH, json={"device_id": "d", "mutations": [{"op": "create"}]}, headers=h)
    assert r.status_code == 200 and r.get_json()["results"][0]["status"] == "rejected"
    r = client.post(PUSH, json={"device_id": "d", "mutations": [mutation("visit", "create") | {"extra": 1}]}, headers=h)
    assert r.status_code == 200 and r.get_json()["results"][0]["errors"] == {"extra": ["Unknown field."]}
    assert session.scalar(select(func.count()).select_from(Mutation)) == stored
    r = client.post(PUSH, json={"device_id": "d", "mutations": "all"}, headers=h)
    assert r.status_code == 422 and r.content_type == "application/problem+json"


def test_two_devices_edit_different_fields_merged(client, session):
    w, h = _world(session)
    v = new_visit(client, h, w.school_a1.id, notes="plan")
    (a,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, notes="device A notes"), device_id="A")
    (b,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, planned_for="2027-03-01"), device_id="B")
    assert a["status"] == "applied" and b["status"] == "merged"
    assert b["record"]["notes"] == "device A notes" and b["record"]["planned_for"] == "2027-03-01"
    assert b["version"] == 3


def test_same_field_is_a_conflict_with_both_values_kept(client, session):
    w, h = _world(session)
    vid = uuid.uuid4()
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", id=(rid := uuid.uuid4()), visit_id=str(vid), item_code="enrolment", value=600))
    (a,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=610), device_id="A")
    (b,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=620, note="counted twice"),
                device_id="B")
    assert a["status"] == "applied" and b["status"] == "conflict"
    assert b["conflict"]["fields"] == {"value": {"base": 600, "server": 610, "client": 620}}
    assert b["record"]["value"] == 610 and b["record"]["note"] == "counted twice"  # uncontested field merged
    stored = session.get(Conflict, uuid.UUID(b["conflict"]["id"]))
    assert stored.status == "open" and stored.fields["value"]["client"] == 620

    # listed in scope, invisible to an inspector of another county, resolvable with a custom value
    listing = client.get("/api/v1/sync/conflicts", headers=h).get_json()
    assert [c["id"] for c in listing["items"]] == [b["conflict"]["id"]]
    other = token_for(session, w.inspector_assigned)
    assert client.get("/api/v1/sync/conflicts", headers=other).get_json()["items"] == []
    assert client.get("/api/v1/sync/conflicts", query_string={"id": str(stored.id)},
                      headers=other).get_json()["items"] == []
    assert client.post("/api/v1/sync/conflicts/resolve", json={"conflict_id": str(stored.id), "take": "server"},
                       headers=other).status_code == 404
    assert client.get("/api/v1/sync/conflicts", headers=token_for(session, w.school_user_a1)).status_code == 403
    bad = client.post("/api/v1/sync/conflicts/resolve", json={"conflict_id": str(stored.id), "fields": {"value": {"take": "custom"}}},
                      headers=h)
    assert bad.status_code == 422
    r = client.post("/api/v1/sync/conflicts/resolve",
                    json={"conflict_id": str(stored.id), "fields": {"value": {"take": "custom", "value": 615}}}, headers=h)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "resolved"
    session.expire_all()
    resp = session.get(Response, rid)
    assert resp.value == 615 and resp.version == 4  # A, B (note merged), resolution
    assert session.scalar(select(AuditRecord).where(AuditRecord.action == "sync.resolve")) is not None
    again = client.post("/api/v1/sync/conflicts/resolve", json={"conflict_id": str(stored.id), "take": "server"}, headers=h)
    assert again.status_code == 409


def test_resolve_taking_client_and_server(client, session):
    w, h = _world(session)
    v = new_visit(client, h, w.school_a1.id, notes="n0")
    push(client, h, mutation("visit", "update", id=v["id"], base_version=1, notes="server"), device_id="A")
    (b,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, notes="client"), device_id="B")
    assert b["status"] == "conflict"
    r = client.post("/api/v1/sync/conflicts/resolve", json={"conflict_id": b["conflict"]["id"], "take": "client"}, headers=h)
    assert r.status_code == 200
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(v["id"]))
    assert visit.notes == "client" and visit.version == 3


def test_same_batch_sent_again_is_duplicate_and_applied_once(client, session):
    w, h = _world(session)
    vid = uuid.uuid4()
    batch = [mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
             mutation("response", "create", visit_id=str(vid), item_code="enrolment", value=600),
             mutation("visit", "update", id=vid, base_version=1, notes="later")]
    first = push(client, h, *batch)
    second = push(client, h, *batch)  # the answer to the first was lost
    assert [r["status"] for r in second] == ["duplicate"] * 3
    assert [r["original"] for r in second] == first
    visit = session.get(Visit, vid)
    assert len(visit.responses) == 1 and visit.notes == "later"
    assert session.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action.like("sync.%"))) == 3


def test_delete_against_an_edit_is_a_conflict_then_a_clean_delete_is_a_tombstone(client, session):
    w, h = _world(session)
    vid, rid = uuid.uuid4(), uuid.uuid4()
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", id=rid, visit_id=str(vid), item_code="enrolment", value=600))
    _, cursor = pull_all(client, h)
    push(client, h, mutation("response", "update", id=rid, base_version=1, value=601), device_id="A")
    (d,) = push(client, h, mutation("response", "delete", id=rid, base_version=1), device_id="B")
    assert d["status"] == "conflict" and "_deleted" in d["conflict"]["fields"]
    assert session.get(Response, rid) is not None
    (d2,) = push(client, h, mutation("response", "delete", id=rid, base_version=2), device_id="B")
    assert d2["status"] == "applied" and d2["deleted"]
    changes, _ = pull_all(client, h, cursor=cursor)
    assert changes[-1] == changes[-1] | {"entity": "response", "id": str(rid), "op": "delete", "data": None}
    # an edit that arrives after the delete is refused with a readable reason
    (late,) = push(client, h, mutation("response", "update", id=rid, base_version=2, value=5), device_id="C")
    assert late["status"] == "rejected" and "deleted on the server" in late["reason"]


def test_submitted_visit_is_frozen(client, session):
    w, h = _world(session)
    vid, rid = uuid.uuid4(), uuid.uuid4()
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", id=rid, visit_id=str(vid), item_code="enrolment", value=600),
         mutation("visit", "update", id=vid, base_version=2, status="submitted"))
    assert session.get(Visit, vid).status.value == "submitted"
    (late,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=700))
    assert late["status"] == "rejected" and "frozen" in late["reason"]
    assert session.get(Response, rid).value == 600


def test_school_sees_answers_once_the_visit_is_submitted(client, session):
    w, h = _world(session)
    school_h = token_for(session, w.school_user_a1)
    _, cursor = pull_all(client, school_h)
    vid = uuid.uuid4()
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", visit_id=str(vid), item_code="enrolment", value=600))
    changes, cursor = pull_all(client, school_h, cursor=cursor)
    assert changes == []  # an unannounced visit does not leak
    push(client, h, mutation("visit", "update", id=vid, base_version=2, status="submitted"))
    changes, _ = pull_all(client, school_h, cursor=cursor)
    assert {c["entity"] for c in changes} == {"visit", "response"}


def test_two_inspectors_answer_the_same_item(client, session):
    w, h = _world(session)
    office_h = token_for(session, w.office_a1)
    v = new_visit(client, office_h, w.school_a1.id, inspector_ids=[str(w.inspector_a1.id)])
    (a,) = push(client, h, mutation("response", "create", visit_id=v["id"], item_code="enrolment", value=600), device_id="A")
    (b,) = push(client, h, mutation("response", "create", visit_id=v["id"], item_code="enrolment", value=600,
                                    note="same"), device_id="B")
    assert a["status"] == "applied" and b["status"] == "merged" and b["id"] == a["id"]
    (c,) = push(client, h, mutation("response", "create", visit_id=v["id"], item_code="enrolment", value=650), device_id="C")
    assert c["status"] == "conflict" and c["conflict"]["fields"]["value"]["server"] == 600


def test_a_database_refusal_in_a_batch_only_rejects_that_mutation(client, session):
    w, h = _world(session)
    vid, rid = uuid.uuid4(), uuid.uuid4()
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", id=rid, visit_id=str(vid), item_code="enrolment", value=600))
    v2 = uuid.uuid4()
    results = push(client, h, mutation("visit", "create", id=v2, school_id=str(w.school_a1.id)),
                   mutation("response", "create", id=rid, visit_id=str(v2), item_code="enrolment", value=1),
                   mutation("response", "create", visit_id=str(v2), item_code="pe_art_teachers", value=6))
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert session.get(Response, rid).visit_id == vid


def test_tickets_and_events_pull_by_school_scope(client, session):
    from inspections.tickets.models import Ticket, TicketEvent
    w, h = _world(session)
    _, cursor = pull_all(client, h)
    school_h = token_for(session, w.school_user_a1)
    _, school_cursor = pull_all(client, school_h)
    mine = Ticket(school_id=w.school_a1.id, item_code="enrolment", title="Too few teachers", severity="high")
    other = Ticket(school_id=w.school_b1.id, item_code="enrolment", title="Elsewhere", severity="high")
    session.add_all([mine, other])
    session.flush()
    session.add(TicketEvent(ticket_id=mine.id, to_status="open", note="opened"))
    session.add(TicketEvent(ticket_id=other.id, to_status="open", note="opened"))
    session.commit()
    for headers, cur in ((h, cursor), (school_h, school_cursor)):
        changes, _ = pull_all(client, headers, cursor=cur)
        assert sorted(c["entity"] for c in changes) == ["ticket", "ticket_event"]
        assert {c["data"].get("school_id", str(w.school_a1.id)) for c in changes} == {str(w.school_a1.id)}


def test_prune_keeps_the_latest_change_of_each_record(client, session):
    from sync.changelog import prune
    w, h = _world(session)
    v = new_visit(client, h, w.school_a1.id)
    for n in range(3):
        push(client, h, mutation("visit", "update", id=v["id"], base_version=n + 1, notes=f"n{n}"))
    assert prune(session, older_than_days=-1) > 0
    session.commit()
    changes, _ = pull_all(client, h)
    visits = [c for c in changes if c["entity"] == "visit"]
    assert len(visits) == 1 and visits[0]["version"] == 4 and visits[0]["data"]["notes"] == "n2"
