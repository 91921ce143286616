"""A batch of creates is written in bulk: same records, versions and history as one by one."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from inspections.audit.models import AuditRecord
from inspections.visits.models import Response, Visit
from sync.models import ChangeLog, Mutation, RecordRevision
from tests.factories import make_world, token_for
from tests.sync.helpers import mutation, new_visit, pull_all, push

VOLATILE = {"id", "mutation_id", "visit_id", "created_at", "updated_at", "started_at"}


def _batch(school_id, items=("enrolment", "pe_art_teachers", "has_charter")):
    vid = uuid.uuid4()
    return vid, [mutation("visit", "create", id=vid, school_id=str(school_id), notes="n"),
                 *(mutation("response", "create", visit_id=str(vid), item_code=code, value=i, note=f"note {i}")
                   for i, code in enumerate(items))]


def _plain(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k not in VOLATILE}
    out["record"] = {k: v for k, v in result["record"].items() if k not in VOLATILE}
    return out


def _history(session, vid) -> dict:
    ids = [vid, *session.scalars(select(Response.id).where(Response.visit_id == vid))]
    revs = sorted((r.entity, r.version) for r in session.scalars(
        select(RecordRevision).where(RecordRevision.entity_id.in_(ids))))
    latest = {}
    for ch in session.scalars(select(ChangeLog).where(ChangeLog.entity_id.in_(ids)).order_by(ChangeLog.seq)):
        latest[ch.entity_id] = (ch.entity, ch.version, {k: v for k, v in ch.data.items() if k not in VOLATILE})
    return {"revisions": revs, "latest": sorted(latest.values(), key=repr)}


def test_bulk_batch_matches_one_by_one(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    bulk_vid, bulk = _batch(w.school_a1.id)
    slow_vid, slow = _batch(w.school_a1.id)
    # A mutation that is refused sends the whole batch down the one-by-one path.
    slow.append(mutation("ticket", "create", school_id=str(w.school_a1.id)))
    bulk_results = push(client, h, *bulk, device_id="bulk")
    slow_results = push(client, h, *slow, device_id="slow")
    assert [r["status"] for r in bulk_results] == ["applied"] * 4
    assert [r["status"] for r in slow_results] == ["applied"] * 4 + ["rejected"]
    assert [_plain(r) for r in bulk_results] == [_plain(r) for r in slow_results[:4]]
    session.expire_all()
    assert _history(session, bulk_vid) == _history(session, slow_vid)
    b, s = session.get(Visit, bulk_vid), session.get(Visit, slow_vid)
    assert (b.status, b.version, b.inspector_ids) == (s.status, s.version, s.inspector_ids) == (
        s.status.in_progress, 2, [w.inspector_a1.id])
    assert b.started_at is not None
    # Audit: the visit's creation, and one record for the batch's answers to it.
    audits = session.scalars(select(AuditRecord).where(AuditRecord.entity_id == str(bulk_vid))
                             .order_by(AuditRecord.action)).all()
    assert [(a.action, a.data.get("items")) for a in audits] == [
        ("sync.answer", ["enrolment", "pe_art_teachers", "has_charter"]), ("sync.create", None)]
    # Every mutation's result is stored: a retry is answered `duplicate`, nothing applied twice.
    again = push(client, h, *bulk, device_id="bulk")
    assert [r["status"] for r in again] == ["duplicate"] * 4
    assert [r["original"] for r in again] == bulk_results
    assert session.scalar(select(func.count()).select_from(Response).where(Response.visit_id == bulk_vid)) == 3
    assert session.scalar(select(func.count()).select_from(Mutation).where(Mutation.device_id == "bulk")) == 4


def test_bulk_answers_to_an_existing_visit_start_it_and_keep_merge_bases(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = new_visit(client, h, w.school_a1.id, notes="plan")
    _, cursor = pull_all(client, h)
    results = push(client, h, mutation("response", "create", visit_id=v["id"], item_code="enrolment", value=600),
                   mutation("response", "create", visit_id=v["id"], item_code="pe_art_teachers", value=6))
    assert [r["status"] for r in results] == ["applied", "applied"]
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(v["id"]))
    assert visit.status.value == "in_progress" and visit.version == 2
    changes, _ = pull_all(client, h, cursor)
    assert sorted((c["entity"], c["version"]) for c in changes) == [("response", 1), ("response", 1), ("visit", 2)]
    # A device still on version 1 of the visit or answer merges against the stored base.
    (m,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=1, notes="later"), device_id="B")
    assert m["status"] == "merged" and m["record"]["status"] == "in_progress" and m["record"]["notes"] == "later"
    (a,) = push(client, h, mutation("response", "update", id=results[0]["id"], base_version=1, note="checked"),
                device_id="B")
    assert a["status"] == "applied" and a["record"]["value"] == 600 and a["record"]["note"] == "checked"


def test_bulk_refuses_nothing_itself_bad_mutations_get_their_own_result(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, batch = _batch(w.school_a1.id)
    batch.insert(1, mutation("response", "create", visit_id=str(vid), item_code="no_such_item", value=1))
    batch.append(mutation("visit", "create", school_id=str(w.school_b1.id)))  # out of scope
    results = push(client, h, *batch)
    assert [r["status"] for r in results] == ["applied", "rejected", "applied", "applied", "applied", "rejected"]
    assert "fields.item_code" in results[1]["errors"] and "fields.school_id" in results[5]["errors"]
    assert session.scalar(select(func.count()).select_from(Visit)) == 1
    assert session.scalar(select(func.count()).select_from(Response)) == 3


def test_a_database_refusal_in_bulk_falls_back_and_rejects_only_that_mutation(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    _, first = _batch(w.school_a1.id)
    used = push(client, h, *first)[1]["id"]  # an answer id now taken
    vid, batch = _batch(w.school_a1.id)
    batch[2]["id"] = used
    results = push(client, h, *batch)
    assert [r["status"] for r in results] == ["applied", "applied", "rejected", "applied"]
    assert "database rule" in results[2]["reason"]
    assert session.scalar(select(func.count()).select_from(Response).where(Response.visit_id == vid)) == 2
    # The refusal is stored too: a retry of the batch gets the same answers.
    again = push(client, h, *batch)
    assert [r["status"] for r in again] == ["duplicate"] * 4 and again[2]["original"]["status"] == "rejected"
