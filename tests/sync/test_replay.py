"""A replayed push (issue 18): answered from the stored results in a few queries, exactly as before,
and a batch that only starts with a replayed mutation still applies the rest."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from inspections.visits.models import Response, Visit
from tests.factories import answer_value, make_world, token_for
from tests.sync.helpers import mutation, push


def _batch(school_id, n_items=3):
    vid = uuid.uuid4()
    return vid, [mutation("visit", "create", id=vid, school_id=str(school_id), notes="n"),
                 *(mutation("response", "create", visit_id=str(vid), item_code=code, value=answer_value(code, i))
                   for i, code in enumerate(["enrolment", "pe_art_teachers", "has_charter"][:n_items]))]


def test_a_replayed_batch_gets_each_original_answer_in_a_few_queries(app, client, session):
    from sqlalchemy import event
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    batches = [_batch(w.school_a1.id)[1] for _ in range(5)]
    everything = [m for b in batches for m in b]
    first = push(client, h, *everything)
    assert {r["status"] for r in first} == {"applied"} and len(first) == 20
    # A later edit: the replay answers each create with the record as it was created, not as it is now.
    (edit,) = push(client, h, mutation("response", "update", id=first[1]["id"], base_version=1, value=99),
                   device_id="other")
    assert edit["status"] == "applied"
    statements = []
    engine = app.extensions["db_engine"]
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        again = push(client, h, *everything)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert [r["status"] for r in again] == ["duplicate"] * 20
    assert [r["original"] for r in again] == first
    assert again[1]["original"]["record"]["value"] == 1
    # Auth and the commit clock aside: no query per record (there were two per record).
    assert len(statements) < 20, statements


def test_a_batch_starting_with_a_replayed_mutation_applies_the_rest(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    _, old = _batch(w.school_a1.id)
    first = push(client, h, *old)
    vid, new = _batch(w.school_a1.id)
    results = push(client, h, old[0], *new)
    assert [r["status"] for r in results] == ["duplicate", "applied", "applied", "applied", "applied"]
    assert results[0]["original"] == first[0]
    session.expire_all()
    assert session.get(Visit, vid) is not None
    assert session.scalar(select(func.count()).select_from(Response).where(Response.visit_id == vid)) == 3


def test_the_replay_answered_by_the_database_says_what_the_portable_answer_says(app, client, session):
    """On PostgreSQL a replayed batch's answers are built by one query (`_replayed_in_database`): the same
    JSON as `_replayed` gives, for bulk creates (their record read back), an edit's stored result, a
    refusal, a mutation id another account used on this device, and a mutation sent twice in the batch."""
    import json

    from inspections.accounts.scope import principal_for
    from server.jsonio import OrjsonProvider
    from sync.push import push as push_batch
    if session.get_bind().dialect.name != "postgresql":
        import pytest
        pytest.skip("the answers are built by the database on PostgreSQL only")
    w = make_world(session)
    h, other = token_for(session, w.inspector_a1), token_for(session, w.office_a)
    creates = [m for _ in range(3) for m in _batch(w.school_a1.id)[1]]
    first = push(client, h, *creates)
    assert {r["status"] for r in first} == {"applied"}
    edit = mutation("response", "update", id=first[1]["id"], base_version=1, value=42)
    refused = mutation("response", "update", id=str(uuid.uuid4()), base_version=1, value=1)
    assert [r["status"] for r in push(client, h, edit, refused, device_id="device-2")] == ["applied", "rejected"]
    theirs = mutation("visit", "create", school_id=str(w.school_a1.id))
    assert push(client, other, theirs, device_id="device-2")[0]["status"] == "applied"
    # the record changed since: the replay still answers each create with the record it created
    later = mutation("response", "update", id=first[2]["id"], base_version=1, value=7)
    assert push(client, h, later, device_id="device-3")[0]["status"] == "applied"
    session.commit()
    provider = OrjsonProvider.__new__(OrjsonProvider)
    provider.sort_keys = True
    user = session.get(type(w.inspector_a1), w.inspector_a1.id)
    p = principal_for(session, user)
    for device, batch in (("device-1", creates + [creates[0]]), ("device-2", [edit, refused, theirs, edit])):
        answers = []
        for wire in (False, True):
            out = push_batch(session, user=user, principal=p, device_id=device, mutations=[
                {**m, "id": uuid.UUID(m["id"])} for m in batch], wire=wire)
            answers.append(json.loads(provider.dumps({"results": out.results}, separators=(",", ":"))))
            session.rollback()
        assert answers[0] == answers[1]
        statuses = [r["status"] for r in answers[1]["results"]]
        assert statuses == (["duplicate"] * len(batch) if device == "device-1"
                            else ["duplicate", "duplicate", "rejected", "duplicate"])
    assert answers[1]["results"][2]["reason"] == "this mutation id was already used by another account on this device"
    # Named as a field error too, as every refusal of a mutation's key is.
    assert answers[1]["results"][2]["errors"] == {"mutation_id": ["is already used by another account on this device"]}
