"""A mutation id names one change of one record: used again by the device in a later batch for another
record it is `rejected` (never answered `duplicate` with the first record's result while the change is
dropped unseen), however the batch is answered (alone, among new mutations, a whole batch replayed);
a true retry is still `duplicate`, also of a create merged into another inspector's answer, whose
result names that answer."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from inspections.accounts.enums import Role
from inspections.visits.models import Response
from tests.factories import make_user, make_world, token_for
from tests.sync.helpers import mutation, push


def _visit_with_answers(client, h, school_id, codes=("enrolment", "pe_art_teachers", "sports_area_m2")):
    vid = str(uuid.uuid4())
    res = push(client, h, mutation("visit", "create", id=vid, school_id=str(school_id)),
               *(mutation("response", "create", visit_id=vid, item_code=c, value=i + 1) for i, c in enumerate(codes)))
    assert {r["status"] for r in res} == {"applied"}, res
    return vid, [r["id"] for r in res[1:]]


@pytest.mark.parametrize("shape", ["alone", "among-new-ones", "whole-batch-again"])
def test_a_mutation_id_used_again_for_another_record_is_rejected(client, session, shape):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    _, (a, b, c) = _visit_with_answers(client, h, w.school_a1.id)
    first = [mutation("response", "update", id=a, base_version=1, value=10),
             mutation("response", "update", id=c, base_version=1, value=30)]
    assert [r["status"] for r in push(client, h, *first)] == ["applied", "applied"]
    reused = dict(mutation("response", "update", id=b, base_version=1, value=20), mutation_id=first[0]["mutation_id"])
    if shape == "alone":
        batch = [reused]
    elif shape == "among-new-ones":
        batch = [reused, mutation("response", "update", id=c, base_version=2, value=31)]
    else:  # every mutation id stored before: answered as a replay, each for another record
        batch = [reused, dict(mutation("response", "update", id=a, base_version=2, value=11),
                              mutation_id=first[1]["mutation_id"])]
    results = push(client, h, *batch)
    for r in results[:1] + (results[1:] if shape == "whole-batch-again" else []):
        assert r["status"] == "rejected", r
        assert r["errors"] == {"mutation_id": ["is already used on this device for another record"]}
    if shape == "among-new-ones":
        assert results[1]["status"] == "applied"
    session.expire_all()
    versions = {r.id: (r.version, r.value) for r in session.scalars(select(Response))}
    assert versions[uuid.UUID(b)] == (1, 2)  # the other record is untouched
    assert versions[uuid.UUID(a)] == (2, 10)
    # The true retry of the first batch is still answered with its original results.
    again = push(client, h, *first)
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert [r["original"]["record"]["value"] for r in again] == [10, 30]


def test_a_retried_create_merged_into_another_inspectors_answer_is_still_a_duplicate(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    colleague = make_user(session, Role.inspector,
                          jurisdiction=w.county_a1)
    session.commit()
    vid = str(uuid.uuid4())
    (v,) = push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id),
                                    inspector_ids=[str(w.inspector_a1.id), str(colleague.id)]))
    assert v["status"] == "applied", v
    (mine,) = push(client, h, mutation("response", "create", visit_id=vid, item_code="enrolment", value=600))
    theirs = mutation("response", "create", visit_id=vid, item_code="enrolment", note="counted at the gate")
    h2 = token_for(session, colleague)
    (merged,) = push(client, h2, theirs, device_id="colleague")
    assert merged["status"] == "merged" and merged["id"] == mine["id"] != theirs["id"], merged
    (retry,) = push(client, h2, theirs, device_id="colleague")
    assert retry["status"] == "duplicate" and retry["original"]["status"] == "merged", retry
