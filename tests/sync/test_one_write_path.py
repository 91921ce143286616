"""One write path: every way a visit or an answer changes (REST, push, its fast paths, conflict
resolution, the reference client) obeys the same rules, and the natural offline flow does not
conflict with itself. Each test is an input that once lost data or broke a rule."""
from __future__ import annotations

import json
import uuid

from sqlalchemy import func, select

from inspections.jobs.models import JobRecord
from inspections.scoring.models import VisitScore
from inspections.visits.models import Response, Visit
from sync.client import FlaskTransport, SyncClient
from sync.models import Conflict
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, token_for
from tests.sync.helpers import mutation, new_visit, push
from tests.sync.test_client import Flaky

RESOLVE = "/api/v1/sync/conflicts/resolve"


def _answers(visit_id, facts=GOOD_PRIMARY) -> list[dict]:
    return [mutation("response", "create", visit_id=str(visit_id), item_code=k, value=v) for k, v in facts.items()]


def _scores(session, visit_id) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(VisitScore).where(VisitScore.visit_id == uuid.UUID(str(visit_id))))


def test_planned_visit_answered_and_submitted_offline_is_submitted_in_one_sync(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    planned = client.post("/api/v1/visits", json={"school_id": str(w.school_a1.id)}, headers=h).get_json()
    # Offline on the device: every answer, then the submit, made on version 1 (planned).
    results = push(client, h, *_answers(planned["id"]),
                   mutation("visit", "update", id=planned["id"], base_version=1, status="submitted"))
    assert {r["status"] for r in results[:-1]} == {"applied"}
    assert results[-1]["status"] == "merged" and results[-1]["record"]["status"] == "submitted", results[-1]
    run_jobs(app)
    assert _scores(session, planned["id"]) == 1


def test_unannounced_visit_created_answered_and_submitted_in_one_batch(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    for base in (1, None):  # the device may send the version its create got, or none at all
        vid = uuid.uuid4()
        results = push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)), *_answers(vid),
                       mutation("visit", "update", id=vid, base_version=base, status="submitted"))
        assert [r["status"] for r in results[:-1]] == ["applied"] * (len(results) - 1)
        assert results[-1]["record"]["status"] == "submitted" and results[-1]["status"] in ("applied", "merged")
        run_jobs(app)
        assert _scores(session, vid) == 1


def test_reference_client_does_the_whole_visit_offline_in_one_sync(app, client, session, tmp_path):
    """An unannounced visit and a planned one, answered and submitted offline: one sync leaves both
    submitted and scored (the submit is not folded into the create, ahead of the answers)."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    planned = client.post("/api/v1/visits", json={"school_id": str(w.school_a1b.id)}, headers=h).get_json()
    dev = SyncClient(str(tmp_path / "d.db"), FlaskTransport(client, h), device_id="tablet", sleep=lambda s: None)
    dev.sync()
    vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
    for k, v in GOOD_PRIMARY.items():
        dev.create("response", {"visit_id": vid, "item_code": k, "value": v})
        dev.create("response", {"visit_id": planned["id"], "item_code": k, "value": v})
    dev.update("visit", vid, {"status": "submitted"})
    dev.update("visit", planned["id"], {"status": "submitted"})
    dev.sync()
    assert dev.unsynced() == []
    run_jobs(app)
    for v in (vid, planned["id"]):
        assert dev.get("visit", v)["status"] == "submitted"
        assert _scores(session, v) == 1


def test_a_resolution_that_submits_scores_the_visit_once(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = new_visit(client, h, w.school_a1.id)
    push(client, h, *_answers(v["id"]), device_id="B")  # another device starts it: in progress, version 2
    (c,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, status="cancelled"), device_id="A")
    assert c["status"] == "conflict" and set(c["conflict"]["fields"]) == {"status"}
    r = client.post(RESOLVE, json={"conflict_id": c["conflict"]["id"],
                                   "fields": {"status": {"take": "custom", "value": "submitted"}}}, headers=h)
    assert r.status_code == 200, r.get_json()
    assert session.get(JobRecord, f"score-visit-{v['id']}")
    run_jobs(app)
    assert _scores(session, v["id"]) == 1


def test_a_resolution_cannot_delete_an_answered_visit(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = new_visit(client, h, w.school_a1.id)
    push(client, h, mutation("response", "create", visit_id=v["id"], item_code="enrolment", value=600), device_id="B")
    (d,) = push(client, h, mutation("visit", "delete", id=v["id"], base_version=1), device_id="A")
    assert d["status"] == "conflict"
    r = client.post(RESOLVE, json={"conflict_id": d["conflict"]["id"], "take": "client"}, headers=h)
    assert r.status_code == 409 and "only a planned visit with no answers" in r.get_json()["detail"]
    session.expire_all()
    assert session.get(Visit, uuid.UUID(v["id"])) is not None
    assert session.scalar(select(func.count()).select_from(Response)) == 1
    assert session.get(Conflict, uuid.UUID(d["conflict"]["id"])).status == "open"


def test_an_office_resolution_of_an_answer_obeys_who_may_answer(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, rid = uuid.uuid4(), uuid.uuid4()
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", id=rid, visit_id=str(vid), item_code="enrolment", value=600))
    push(client, h, mutation("response", "update", id=rid, base_version=1, value=610), device_id="A")
    (b,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=620), device_id="B")
    r = client.post(RESOLVE, json={"conflict_id": b["conflict"]["id"], "take": "client"},
                    headers=token_for(session, w.office_a1))
    assert r.status_code == 403
    session.expire_all()
    assert session.get(Response, rid).value == 610


def test_an_edit_after_a_lost_answer_is_a_new_mutation_and_reaches_the_server(client, session, tmp_path):
    """Answer 500 and sync; edit to 600, applied but its answer lost; edit to 700 and sync: 700 is on
    the server and on the device, and nothing is left unsynced."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    transport = Flaky(FlaskTransport(client, h))
    dev = SyncClient(str(tmp_path / "d.db"), transport, device_id="tablet", sleep=lambda s: None, max_attempts=1)
    vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
    rid = dev.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 500})
    dev.sync()
    dev.update("response", rid, {"value": 600})
    transport.lose_after = 1
    try:
        dev.push()
    except Exception:
        pass
    session.expire_all()
    assert session.get(Response, uuid.UUID(rid)).value == 600  # applied; the device never heard
    dev.update("response", rid, {"value": 700})
    dev.sync()
    session.expire_all()
    assert session.get(Response, uuid.UUID(rid)).value == 700
    assert dev.get("response", rid)["value"] == 700 and dev.status("response", rid) == ("synced", None)
    assert dev.unsynced() == []


def test_rest_answer_edits_are_partial_and_may_carry_a_version(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = client.post("/api/v1/visits", json={"school_id": str(w.school_a1.id)}, headers=h).get_json()
    url = f"/api/v1/visits/{v['id']}/responses"
    r = client.put(url, json={"answers": [{"item_code": "enrolment", "value": 700, "note": "counted at gate",
                                           "flagged": True}]}, headers=h)
    assert r.status_code == 200
    # Another inspector sends only the value: the note and the flag stay.
    r = client.put(url, json={"answers": [{"item_code": "enrolment", "value": 710}]}, headers=h)
    assert r.status_code == 200
    [a] = r.get_json()
    assert (a["value"], a["note"], a["flagged"], a["version"]) == (710, "counted at gate", True, 2)
    # Based on version 1, which is gone: 409 with the server's copy; nothing written.
    r = client.put(url, json={"answers": [{"item_code": "enrolment", "value": 720, "version": 1}]}, headers=h)
    assert r.status_code == 409 and r.content_type == "application/problem+json"
    assert r.get_json()["current"]["value"] == 710 and r.get_json()["current"]["version"] == 2
    r = client.put(url, json={"answers": [{"item_code": "enrolment", "value": 720, "version": 2}]}, headers=h)
    assert r.status_code == 200 and r.get_json()[0]["version"] == 3
    # A visit edit may carry its version too.
    r = client.patch(f"/api/v1/visits/{v['id']}", json={"notes": "x", "version": 1}, headers=h)
    assert r.status_code == 409 and r.get_json()["current"]["status"] == "in_progress"


def test_values_merge_as_json_one_is_not_one_point_zero(client, session):
    """1, 1.0 and "1" are three values (an integer item takes each; true it refuses, being no number)."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, rid = uuid.uuid4(), uuid.uuid4()
    push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
         mutation("response", "create", id=rid, visit_id=str(vid), item_code="pe_art_teachers", value=1))
    (r,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=1.0))
    assert r["status"] == "applied" and r["version"] == 2 and isinstance(r["record"]["value"], float)
    (r,) = push(client, h, mutation("response", "update", id=rid, base_version=2, value="1"))
    assert r["version"] == 3 and r["record"]["value"] == "1"
    (r,) = push(client, h, mutation("response", "update", id=rid, base_version=3, value=True))
    assert r["status"] == "rejected" and list(r["errors"]) == ["fields.value"]
    session.expire_all()
    assert session.get(Response, rid).value == "1"


def test_both_inspectors_submitting_is_not_a_refusal(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = new_visit(client, h, w.school_a1.id)
    push(client, h, *_answers(v["id"]), mutation("visit", "update", id=v["id"], base_version=1, status="submitted"),
         device_id="A")
    (b,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, status="submitted"), device_id="B")
    assert b["status"] == "merged" and b["record"]["status"] == "submitted"
    (late,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, notes="late"), device_id="C")
    assert late["status"] == "rejected" and "frozen" in late["reason"]
    run_jobs(app)
    assert _scores(session, v["id"]) == 1


def test_a_value_python_calls_equal_is_stored_as_sent(client, session):
    """Found by the break-it pass: true over 1 was answered with version 2 but never written (the ORM
    compares JSON values as Python does). No item takes both true and 1 any more (a value is of its
    item's kind), but 1.0 over 1 is the same trap."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = client.post("/api/v1/visits", json={"school_id": str(w.school_a1.id)}, headers=h).get_json()
    url = f"/api/v1/visits/{v['id']}/responses"
    for code, values in (("pe_art_teachers", (1, 1.0, "1", 0, 0.0, 1)), ("has_charter", (True, False, True))):
        for value in values:
            r = client.put(url, json={"answers": [{"item_code": code, "value": value}]}, headers=h)
            assert r.status_code == 200, r.get_json()
            [a] = [a for a in client.get(url, headers=h).get_json() if a["item_code"] == code]
            assert json.dumps(a["value"]) == json.dumps(value)


def test_two_creates_of_one_item_in_one_batch_merge(client, session):
    """Found by the break-it pass: the second create merged into the first, still unwritten, and the
    push was a 500 every time (the device's outbox stuck)."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = new_visit(client, h, w.school_a1.id)
    results = push(client, h, mutation("response", "create", visit_id=v["id"], item_code="pe_art_teachers", value=1),
                   mutation("response", "create", visit_id=v["id"], item_code="pe_art_teachers", value=2))
    assert results[0]["status"] == "applied" and results[1]["status"] in ("merged", "conflict")
    assert session.scalar(select(func.count()).select_from(Response)) == 1
