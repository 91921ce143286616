"""A batch of creates is written in bulk: same records, versions and history as one by one."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from inspections.audit.models import AuditRecord
from inspections.visits.models import Response, Visit
from sync.models import ChangeLog, Mutation, RecordRevision
from sync.push import base_record
from tests.factories import answer_value, make_world, token_for
from tests.sync.helpers import mutation, new_visit, pull_all, push

VOLATILE = {"id", "mutation_id", "visit_id", "created_at", "updated_at", "started_at"}


def _batch(school_id, items=("enrolment", "pe_art_teachers", "has_charter")):
    vid = uuid.uuid4()
    return vid, [mutation("visit", "create", id=vid, school_id=str(school_id), notes="n"),
                 *(mutation("response", "create", visit_id=str(vid), item_code=code, value=answer_value(code, i),
                            note=f"note {i}")
                   for i, code in enumerate(items))]


def _plain(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k not in VOLATILE}
    out["record"] = {k: v for k, v in result["record"].items() if k not in VOLATILE}
    return out


def _history(session, vid) -> dict:
    """Every version's fields as a merge base would see them, and each record's latest change."""
    ids = [vid, *session.scalars(select(Response.id).where(Response.visit_id == vid))]
    bases = {}
    for entity, eid in [("visit", vid)] + [("response", i) for i in ids[1:]]:
        for version in range(1, 4):
            data = base_record(session, entity, eid, version)
            if data is not None:
                bases[(entity, version, str(eid) == str(vid))] = bases.get((entity, version, str(eid) == str(vid)), [])
                bases[(entity, version, str(eid) == str(vid))].append(
                    {k: v for k, v in data.items() if k not in VOLATILE})
    revs = sorted((k[0], k[1], repr(sorted(v, key=repr))) for k, v in bases.items())
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
    assert results[2]["errors"] == {"fields.id": ["is already used"]}
    assert session.scalar(select(func.count()).select_from(Response).where(Response.visit_id == vid)) == 2
    # The refusal is stored too: a retry of the batch gets the same answers.
    again = push(client, h, *batch)
    assert [r["status"] for r in again] == ["duplicate"] * 4 and again[2]["original"]["status"] == "rejected"


def test_bulk_versions_stay_merge_bases_after_the_change_log_is_pruned(client, session):
    """A bulk-written answer's version 1 lives in its change row; pruning copies it to a revision first,
    so a device still editing from version 1 merges, and a retry still gets the original record."""
    from sync.changelog import prune
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, batch = _batch(w.school_a1.id)
    first = push(client, h, *batch, device_id="bulk")
    answer = first[1]
    assert answer["status"] == "applied" and answer["version"] == 1
    rid = uuid.UUID(answer["id"])
    assert session.scalar(select(func.count()).select_from(RecordRevision)
                          .where(RecordRevision.entity_id == rid)) == 0  # only the change row holds v1
    # Another device changes the note (v2); the change log's v1 row is then superseded and pruned.
    r = push(client, h, mutation("response", "update", id=rid, base_version=1, note="server side"),
             device_id="other")[0]
    assert r["status"] == "applied" and r["version"] == 2
    assert prune(session, older_than_days=-1) > 0
    session.commit()
    assert session.scalar(select(func.count()).select_from(ChangeLog)
                          .where(ChangeLog.entity_id == rid, ChangeLog.version == 1)) == 0
    assert base_record(session, "response", rid, 1)["note"] == "note 0"
    # The first device, still on version 1, changes the value: merged with the other note.
    m = push(client, h, mutation("response", "update", id=rid, base_version=1, value=42), device_id="bulk")[0]
    assert m["status"] == "merged" and m["record"]["value"] == 42 and m["record"]["note"] == "server side"
    # A retry of the original batch still answers with the original records.
    again = push(client, h, *batch, device_id="bulk")
    assert [r["original"] for r in again] == first


@pytest.mark.parametrize("batched", [True, False], ids=["batch-of-updates", "single-update"])
def test_updated_versions_stay_merge_bases_after_the_change_log_is_pruned(client, session, batched):
    """A change writes no revision: a version written by an update lives in its change row, and pruning
    copies it to a revision before it drops the row (batch pass and single mutation alike)."""
    from sync.changelog import prune
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, batch = _batch(w.school_a1.id)
    created = push(client, h, *batch, device_id="bulk")
    rids = [uuid.UUID(r["id"]) for r in created[1:3]]
    updates = [mutation("response", "update", id=rid, base_version=1, note="device v2") for rid in rids]
    v2 = push(client, h, *(updates if batched else updates[:1]), device_id="bulk")
    assert [r["version"] for r in v2] == [2] * len(v2)
    rid = rids[0]
    assert session.scalar(select(func.count()).select_from(RecordRevision)
                          .where(RecordRevision.entity_id == rid)) == 0  # only the change rows hold v1, v2
    # Another device changes the value (v3); the v2 change row is then superseded and pruned.
    r = push(client, h, mutation("response", "update", id=rid, base_version=2, value=7), device_id="other")[0]
    assert r["status"] == "applied" and r["version"] == 3
    assert prune(session, older_than_days=-1) > 0
    session.commit()
    assert session.scalar(select(func.count()).select_from(ChangeLog)
                          .where(ChangeLog.entity_id == rid, ChangeLog.version == 2)) == 0
    assert base_record(session, "response", rid, 2)["note"] == "device v2"
    # The first device, still on version 2, changes the note: merged with the other device's value.
    m = push(client, h, mutation("response", "update", id=rid, base_version=2, note="device v4"),
             device_id="bulk")[0]
    assert m["status"] == "merged" and m["record"]["value"] == 7 and m["record"]["note"] == "device v4"
