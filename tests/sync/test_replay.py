"""A replayed push (issue 18): answered from the stored results in a few queries, exactly as before,
and a batch that only starts with a replayed mutation still applies the rest."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from inspections.visits.models import Response, Visit
from tests.factories import make_world, token_for
from tests.sync.helpers import mutation, push


def _batch(school_id, n_items=3):
    vid = uuid.uuid4()
    return vid, [mutation("visit", "create", id=vid, school_id=str(school_id), notes="n"),
                 *(mutation("response", "create", visit_id=str(vid), item_code=code, value=i)
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
    assert again[1]["original"]["record"]["value"] == 0
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
