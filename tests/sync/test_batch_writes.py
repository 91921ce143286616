"""A push of updates and submits is decided by the same service code as one mutation at a time, and
written set-based (issue 18): the batch leaves exactly what one savepoint per mutation leaves (records,
versions, audit, change log, merge bases, conflicts, outbox, stored results), for a mixed batch with
conflicts, refusals and submits, and it costs a fixed number of SQL statements however many records."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, select

from inspections.audit.models import AuditRecord
from inspections.jobs.models import JobRecord
from inspections.visits.models import Response, Visit
from sync import push as push_module
from sync.models import ChangeLog, Conflict, Mutation, RecordRevision
from tests.factories import GOOD_PRIMARY, answer_value, make_school, make_world, token_for
from tests.sync.helpers import mutation, push

# Times differ between two runs; whether they are set does not.
TIMES = {"created_at", "updated_at", "started_at", "submitted_at", "at", "changed_at", "received_at",
         "enqueued_at"}


def _label(labels: dict, value):
    """Ids replaced by the name the scenario gave them, times by whether they are set, recursively."""
    if isinstance(value, dict):
        return {k: (v is not None) if k in TIMES else _label(labels, v) for k, v in value.items()
                if k not in ("mutation_id",)}
    if isinstance(value, (list, tuple)):
        return [_label(labels, v) for v in value]
    if isinstance(value, (str, uuid.UUID)) and str(value) in labels:
        return labels[str(value)]
    if isinstance(value, str) and value.startswith("score-visit-") and value[12:] in labels:
        return "score-visit-" + labels[value[12:]]
    return value


def _scenario(client, h, other, school_id) -> tuple[dict, dict, dict]:
    """Four visits made through push (V4 submitted) and two answers of V1 edited on another device:
    (labels {id: name}, ids {name: id}, versions {name: version})."""
    ids, versions = {}, {}

    def made(name, results):
        for r in results:
            assert r["status"] == "applied", r
        ids[name] = results[0]["id"]

    for name, facts in (("V1", {"enrolment": 600, "pe_art_teachers": 6, "has_charter": True}),
                        ("V2", GOOD_PRIMARY), ("V3", {}), ("V4", {"enrolment": 600})):
        vid = str(uuid.uuid4())
        res = push(client, h, mutation("visit", "create", id=vid, school_id=str(school_id)),
                   *(mutation("response", "create", visit_id=vid, item_code=k, value=v) for k, v in facts.items()),
                   device_id="setup")
        made(name, res)
        versions[name] = 2 if facts else 1
        for (code, _), r in zip(facts.items(), res[1:]):
            ids[f"{name}.{code}"], versions[f"{name}.{code}"] = r["id"], r["version"]
    (sub,) = push(client, h, mutation("visit", "update", id=ids["V4"], base_version=2, status="submitted"),
                  device_id="setup")
    assert sub["status"] == "applied", sub
    versions["V4"] = sub["version"]
    for code, fields in (("pe_art_teachers", {"value": 7}), ("has_charter", {"note": "seen by the other"})):
        (r,) = push(client, other, mutation("response", "update", id=ids[f"V1.{code}"], base_version=1, **fields),
                    device_id="other")
        assert r["status"] == "applied", r
    return {v: k for k, v in ids.items()}, ids, versions


def _batch(ids: dict, versions: dict, *, refusals: bool) -> list[dict]:
    """Every kind of outcome; with `refusals`, three mutations the rules refuse among them."""
    v = versions
    out = [
        mutation("response", "update", id=ids["V1.enrolment"], base_version=1, value=601),      # applied
        mutation("response", "update", id=ids["V1.pe_art_teachers"], base_version=1, value=8),  # conflict
        mutation("response", "update", id=ids["V1.has_charter"], base_version=1, value=False),  # merged
        mutation("response", "update", id=ids["V2.enrolment"], base_version=1, value=600),      # unchanged
        mutation("response", "update", id=ids["V1.enrolment"], base_version=2, value=602),      # again
        mutation("visit", "update", id=ids["V1"], base_version=v["V1"], notes="edited in the batch"),
        mutation("response", "create", id=ids["new"], visit_id=ids["V1"], item_code="multimedia_classrooms",
                 value=15),
        mutation("visit", "update", id=ids["V2"], base_version=v["V2"], status="submitted"),  # outbox
        mutation("response", "update", id=ids["V4.enrolment"], base_version=1, value=600),  # frozen, same
        mutation("visit", "update", id=ids["V3"], base_version=1, notes="before its deletion"),
        mutation("visit", "delete", id=ids["V3"], base_version=2),
    ]
    if refusals:
        out[4:4] = [mutation("visit", "update", id=ids["V1"], base_version=v["V1"], status="planned")]  # back
        out[9:9] = [mutation("response", "update", id=ids["V4.enrolment"], base_version=1, value=1)]  # frozen
        # A visit with no answers is not submitted (refused after it was moved to in_progress in memory).
        out[-2:-2] = [mutation("visit", "update", id=ids["V3"], base_version=1, status="submitted")]
    return out


def _state(session, labels: dict, device_id: str, order: list[str]) -> dict:
    """Everything the batch left about the scenario's records, ids as their names."""
    session.expire_all()
    stored = {m.mutation_id: m.result for m in session.scalars(select(Mutation).where(Mutation.device_id == device_id))}
    keys = [uuid.UUID(i) for i in labels if i.count("-") == 4 and labels[i] != "school"]
    text_keys = [str(k) for k in keys]
    for c in session.scalars(select(Conflict).where(Conflict.entity_id.in_(keys))):
        labels[str(c.id)] = f"conflict on {labels[str(c.entity_id)]}"
    visits = session.scalars(select(Visit).where(Visit.id.in_(keys))).all()
    answers = session.scalars(select(Response).where(Response.visit_id.in_(keys))).all()
    for r in answers:
        labels.setdefault(str(r.id), f"{labels[str(r.visit_id)]}.{r.item_code}")
    keys += [r.id for r in answers]
    text_keys += [str(r.id) for r in answers]

    def rows(model, *cols, where):
        return sorted(repr(_label(labels, {c: getattr(x, c) for c in cols}))
                      for x in session.scalars(select(model).where(where)))
    from sync.changelog import snapshot
    return {
        "visits": sorted(repr(_label(labels, snapshot(v, {"inspectors": len(v.inspector_ids)}))) for v in visits),
        "answers": sorted(repr(_label(labels, snapshot(r))) for r in answers),
        "audit": rows(AuditRecord, "actor_id", "action", "entity", "entity_id", "data",
                      where=AuditRecord.entity_id.in_(text_keys)),
        "changes": rows(ChangeLog, "entity", "entity_id", "op", "version", "school_id", "visit_id", "data",
                        where=ChangeLog.entity_id.in_(keys)),
        "revisions": rows(RecordRevision, "entity", "entity_id", "version", "data",
                          where=RecordRevision.entity_id.in_(keys)),
        "conflicts": rows(Conflict, "entity", "entity_id", "visit_id", "base_version", "server_version", "fields",
                          "device_id", "resolved_at", where=Conflict.entity_id.in_(keys)),
        "outbox": rows(JobRecord, "id", "kind", "args", "status",
                       where=JobRecord.id.in_([f"score-visit-{k}" for k in text_keys])),
        "stored": [_label(labels, stored[m]) for m in order],
    }


def _run_scenario(app, client, session, w, *, refusals: bool, one_by_one: bool, monkeypatch):
    school = make_school(session, w.county_a1)
    session.commit()
    h, other = token_for(session, w.inspector_a1), token_for(session, w.inspector_a1)
    labels, ids, versions = _scenario(client, h, other, school.id)
    ids["new"] = str(uuid.uuid4())
    labels[ids["new"]] = "V1.new"
    batch = _batch(ids, versions, refusals=refusals)
    device = f"dev-{uuid.uuid4().hex[:8]}"
    statements = []
    engine = app.extensions["db_engine"]
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    with monkeypatch.context() as mp:
        if one_by_one:
            def slow(*a, **k):
                raise push_module._SlowPath()
            mp.setattr(push_module, "_fast_one", slow)
        event.listen(engine, "before_cursor_execute", listener)
        try:
            results = push(client, h, *batch, device_id=device)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    savepoints = sum(s.startswith("SAVEPOINT") for s in statements)
    set_based = sum(s.startswith(("UPDATE responses AS t", "UPDATE visits AS t")) for s in statements)
    labels[device], labels[str(school.id)] = "device", "school"
    state = _state(session, labels, device, [m["mutation_id"] for m in batch])
    return [_label(labels, r) for r in results], state, (savepoints, set_based)


@pytest.mark.parametrize("refusals", [False, True], ids=["conflicts-and-submits", "with-refusals"])
def test_a_batch_leaves_what_one_savepoint_per_mutation_leaves(app, client, session, monkeypatch, refusals):
    w = make_world(session)
    fast, fast_state, (fast_savepoints, fast_set_based) = _run_scenario(
        app, client, session, w, refusals=refusals, one_by_one=False, monkeypatch=monkeypatch)
    slow, slow_state, (slow_savepoints, slow_set_based) = _run_scenario(
        app, client, session, w, refusals=refusals, one_by_one=True, monkeypatch=monkeypatch)
    expected = ["applied", "conflict", "merged", "applied", "applied", "applied", "applied", "applied", "merged",
                "applied", "applied"]
    if refusals:
        expected[4:4] = ["rejected"]
        expected[9:9] = ["rejected"]
        expected[-2:-2] = ["rejected"]
    assert [r["status"] for r in fast] == expected
    assert fast == slow
    for part in fast_state:
        assert fast_state[part] == slow_state[part], part
    # The rules did their part: a version kept, a conflict recorded, V2 scored once, V3 gone.
    by_id = {r["id"]: r for r in fast if "id" in r}
    assert by_id["V2.enrolment"]["version"] == 1
    assert len(fast_state["conflicts"]) == 1 and len(fast_state["outbox"]) == 2  # V2's, and V4's from setup
    assert not any("'V3'" in v for v in fast_state["visits"])
    # The batch went the set-based way: a savepoint for the bulk check and one per pass (a pass per
    # refusal), where one by one takes one per mutation.
    assert fast_savepoints <= 2 + 3 * refusals < len(expected) <= slow_savepoints
    # On PostgreSQL the batch's changed answers and visits went by set-based UPDATEs (bulk.write_updates),
    # the rest of it (a new answer, a submit, a delete) by the flush: the state above is the same.
    if app.extensions["db_engine"].dialect.name == "postgresql":
        assert fast_set_based >= 2 and slow_set_based == 0, (fast_set_based, slow_set_based)


def test_what_a_rolled_back_pass_wrote_is_forgotten(app, session):
    """The pass writes changed records itself (`bulk.write_updates`); when its savepoint rolls back (a
    refusal, a retry), the records read what the database has again, as after a rolled-back flush."""
    from inspections.accounts.scope import principal_for
    from inspections.visits import service as visits
    w = make_world(session)
    p = principal_for(session, w.inspector_a1)
    visit = visits.create_in_scope(session, actor=p, school_id=w.school_a1.id, inspector_ids=[])
    r, _ = visits.answer(session, visit, actor=p, item_code="enrolment", changes={"value": 600})
    session.commit()
    sp = session.begin_nested()
    visits.answer(session, visit, actor=p, item_code="enrolment", changes={"value": 601}, via="sync")
    visits.edit(session, visit, actor=p, changes={"notes": "in the pass"}, via="sync")
    push_module._write(session)
    assert not session.dirty
    assert session.scalar(select(Response.value).where(Response.id == r.id)) == 601
    assert session.scalar(select(ChangeLog.version).where(ChangeLog.entity_id == r.id)
                          .order_by(ChangeLog.seq.desc()).limit(1)) == 2
    sp.rollback()
    assert (r.value, r.version) == (600, 1)
    assert (visit.notes, visit.version) == (None, 2)
    r.note = "after the rollback"
    session.flush()  # the record is written from what the database has, not from the rolled-back pass
    session.expire_all()
    assert session.scalar(select(Response.version).where(Response.id == r.id)) == 1
    assert session.scalar(select(Response.value).where(Response.id == r.id)) == 600


ITEMS = ["enrolment", "teachers_above_required_qualification", "key_teachers_county_level_or_above",
         "pe_art_teachers", "teaching_aux_area_m2", "sports_area_m2", "equipment_value_yuan", "multimedia_classrooms",
         "class_sizes", "music_rooms_m2", "art_rooms_m2", "compulsory_enrolment", "training_budget_yuan",
         "public_funds_budget_yuan", "has_charter", "it_in_management_and_teaching", "moral_education_rating",
         "full_curriculum", "no_excessive_homework"]


def _statements_of_updates(app, client, session, h, school_id, n_visits: int) -> tuple[int, list[dict]]:
    creates = []
    for _ in range(n_visits):
        vid = str(uuid.uuid4())
        creates.append(mutation("visit", "create", id=vid, school_id=str(school_id)))
        creates += [mutation("response", "create", visit_id=vid, item_code=c, value=answer_value(c, i))
                    for i, c in enumerate(ITEMS)]
    created = push(client, h, *creates)
    assert {r["status"] for r in created} == {"applied"}
    updates = [mutation(m["entity"], "update", id=m["id"], base_version=r["version"],
                        **({"notes": "edited"} if m["entity"] == "visit" else
                           {"value": answer_value(code := m["fields"]["item_code"], ITEMS.index(code) + 1)}))
               for m, r in zip(creates, created)]
    statements = []
    engine = app.extensions["db_engine"]
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        results = push(client, h, *updates)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert {r["status"] for r in results} <= {"applied", "merged"}
    return len(statements), results


def test_a_push_of_500_updates_costs_a_fixed_number_of_statements(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    small, _ = _statements_of_updates(app, client, session, h, w.school_a1.id, 2)     # 40 updates
    large, results = _statements_of_updates(app, client, session, h, w.school_a1.id, 25)  # 500 updates
    assert len(results) == 500
    # Auth, the set-based reads, one flush's multi-row writes, the commit clock: the same for 40 as for 500
    # (one by one it was ~3,000 for 500).
    assert large == small and large < 30, (small, large)
    session.expire_all()
    assert session.scalar(select(Response.version).where(Response.id == uuid.UUID(results[1]["id"]))) == 2


def test_a_push_submitting_many_visits_costs_a_fixed_number_of_statements(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    counts = []
    for n in (3, 40):
        vids, creates = [], []
        for _ in range(n):
            vid = str(uuid.uuid4())
            vids.append(vid)
            creates.append(mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)))
            creates += [mutation("response", "create", visit_id=vid, item_code=k, value=v)
                        for k, v in GOOD_PRIMARY.items()]
        push(client, h, *creates)
        statements = []
        engine = app.extensions["db_engine"]
        listener = lambda *a: statements.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            results = push(client, h, *(mutation("visit", "update", id=v, base_version=2, status="submitted")
                                        for v in vids))
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert [r["status"] for r in results] == ["applied"] * n
        # Once submitted, a visit's answers are sent again (a school sees them only now): each once.
        session.expire_all()
        txn = session.scalar(select(ChangeLog.txn_id).where(ChangeLog.entity_id == uuid.UUID(vids[0]),
                                                           ChangeLog.version == 3))
        resent = session.scalars(select(ChangeLog.visit_id).where(ChangeLog.txn_id == txn,
                                                                  ChangeLog.entity == "response")).all()
        assert sorted(map(str, resent)) == sorted(vids * len(GOOD_PRIMARY))
        # Up to the commit clock: what follows is the embedded queue scoring them in this process.
        lock = next((i for i, s in enumerate(statements) if s.startswith("LOCK") or "sync_commits" in s), None)
        counts.append(lock if lock is not None else len(statements))
    assert counts[0] == counts[1] and counts[1] < 30, counts
    session.expire_all()
    jobs = session.scalars(select(JobRecord.id).where(JobRecord.id.like("score-visit-%"))).all()
    assert len(jobs) == 43


def test_a_batch_of_submits_refuses_the_visit_with_no_answers(client, session):
    """Whether each visit has answers is read for the whole batch; the rule is the one-by-one rule."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    answered, empty = str(uuid.uuid4()), str(uuid.uuid4())
    push(client, h, mutation("visit", "create", id=answered, school_id=str(w.school_a1.id)),
         mutation("response", "create", visit_id=answered, item_code="enrolment", value=600),
         mutation("visit", "create", id=empty, school_id=str(w.school_a1.id)))
    results = push(client, h, mutation("visit", "update", id=answered, base_version=2, status="submitted"),
                   mutation("visit", "update", id=empty, base_version=1, status="submitted"))
    assert [r["status"] for r in results] == ["applied", "rejected"]
    assert results[1]["reason"] == "a visit with no answers cannot be submitted"
    session.expire_all()
    assert session.get(Visit, uuid.UUID(empty)).status.value == "planned"
    assert session.get(JobRecord, f"score-visit-{empty}") is None


def test_what_a_batch_read_about_answers_follows_the_answers_it_writes(app, session):
    """visits.prepare_submits reads whether each visit has answers; an answer deleted or added after
    that, through the service, is what a submit then sees."""
    from inspections.accounts.scope import principal_for
    from inspections.errors import Conflict as DomainConflict
    from inspections.visits import service as visits
    w = make_world(session)
    p = principal_for(session, w.inspector_a1)
    visit = visits.create_in_scope(session, actor=p, school_id=w.school_a1.id, inspector_ids=[])
    visits.answer(session, visit, actor=p, item_code="enrolment", changes={"value": 600})
    session.commit()
    vid = visit.id
    session.expunge_all()
    visit = session.get(Visit, vid)
    visits.prepare_submits(session, [visit])
    assert visits.has_answers(session, visit)
    visits.delete_answer(session, visit, visit.responses[0], actor=p)
    session.expire(visit, ["responses"])
    assert not visits.has_answers(session, visit)
    with pytest.raises(DomainConflict):
        visits.edit(session, visit, actor=p, changes={"status": "submitted"})
    session.rollback()
    visit = session.get(Visit, vid)
    visits.prepare_submits(session, [visit])
    session.expire(visit, ["responses"])
    assert visits.has_answers(session, visit)
    visits.forget_prepared(session)


def test_a_record_changed_without_its_time_is_stamped_as_the_flush_stamps_it(app, session):
    """A change that did not set `updated_at` (the service always does) is left to the flush, whose
    `onupdate` stamps it: the set-based write never keeps a stale time."""
    from inspections.accounts.scope import principal_for
    from inspections.visits import service as visits
    w = make_world(session)
    p = principal_for(session, w.inspector_a1)
    visit = visits.create_in_scope(session, actor=p, school_id=w.school_a1.id, inspector_ids=[])
    r, _ = visits.answer(session, visit, actor=p, item_code="enrolment", changes={"value": 600})
    session.commit()
    before = r.updated_at
    r.note = "set directly"
    push_module._write(session)
    session.commit()
    session.expire_all()
    stored = session.get(Response, r.id)
    assert stored.note == "set directly" and stored.updated_at > before


@pytest.mark.parametrize("one_by_one", [False, True], ids=["batch", "one-by-one"])
def test_an_answer_deleted_earlier_in_the_batch_is_not_found_again(client, session, monkeypatch, one_by_one):
    """The batch finds the answers of the visits it locked without asking the session again, but not one
    it has deleted: a later change to it is refused as deleted, as one by one."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid = str(uuid.uuid4())
    made = push(client, h, mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)),
                mutation("response", "create", visit_id=vid, item_code="enrolment", value=600),
                mutation("response", "create", visit_id=vid, item_code="pe_art_teachers", value=6), device_id="setup")
    gone, kept = made[1]["id"], made[2]["id"]
    if one_by_one:
        def slow(*a, **k):
            raise push_module._SlowPath()
        monkeypatch.setattr(push_module, "_fast_one", slow)
    results = push(client, h, mutation("response", "delete", id=gone, base_version=1),
                   mutation("response", "update", id=gone, base_version=1, value=601),
                   mutation("response", "update", id=kept, base_version=1, value=7), device_id="dev")
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"], results
    assert "deleted" in results[1]["reason"]
    session.expire_all()
    assert session.get(Response, uuid.UUID(gone)) is None
    assert session.get(Response, uuid.UUID(kept)).value == 7
