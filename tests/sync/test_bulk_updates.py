"""A push of updates only is decided on plain rows and written set-based (`sync.bulk.apply_updates`,
issue 18), by the services' own rules: it leaves exactly what one savepoint per mutation leaves (results,
records, versions, audit, change log, merge bases, conflicts, stored results and what a retry answers),
and any mutation it does not simply apply (refused, contested, frozen, unchanged, out of scope, ...)
hands the whole batch to the passes, which give each mutation its own result."""
from __future__ import annotations

import uuid

import pytest

from sync import bulk
from sync import push as push_module
from inspections.accounts.enums import Role
from tests.factories import make_school, make_user, make_world, token_for
from tests.sync.helpers import mutation, push
from tests.sync.test_batch_writes import _label, _state


def _scenario(client, session, w, h, other, school_id) -> tuple[dict, dict]:
    """V1 answered (a, b, c), V2 and V3 answered (d, e) through push, then V1.b's note edited on another
    device, V3 submitted, V4 answered by a colleague, V5 planned: (ids {name: id}, versions {name: version})."""
    ids, versions = {}, {}
    for name, facts in (("V1", {"enrolment": 600, "pe_art_teachers": 6, "has_charter": True}),
                        ("V2", {"enrolment": 480, "pe_art_teachers": 5, "has_charter": True, "multimedia_classrooms": 9}),
                        ("V3", {"enrolment": 450})):
        vid = str(uuid.uuid4())
        res = push(client, h, mutation("visit", "create", id=vid, school_id=str(school_id), notes="planned"),
                   *(mutation("response", "create", visit_id=vid, item_code=k, value=v) for k, v in facts.items()),
                   device_id="setup")
        assert {r["status"] for r in res} == {"applied"}, res
        ids[name], versions[name] = vid, res[0]["version"]  # the device's copy: version 1 (planned)
        for (code, _), r in zip(facts.items(), res[1:]):
            ids[f"{name}.{code}"], versions[f"{name}.{code}"] = r["id"], r["version"]
    for code in ("V1.pe_art_teachers", "V2.pe_art_teachers"):
        (r,) = push(client, other, mutation("response", "update", id=ids[code], base_version=1, note="counted again"),
                    device_id="other")
        assert r["status"] == "applied", r
    # V3 submitted since; V4 a visit of another inspector of the county; V5 planned, not started.
    ids["V5"] = push(client, h, mutation("visit", "create", school_id=str(school_id)), device_id="setup")[0]["id"]
    (s3,) = push(client, h, mutation("visit", "update", id=ids["V3"], base_version=2, status="submitted"),
                 device_id="setup")
    assert s3["status"] == "applied", s3
    colleague = make_user(session, Role.inspector, jurisdiction=w.county_a1)
    session.commit()
    h4, vid = token_for(session, colleague), str(uuid.uuid4())
    res = push(client, h4, mutation("visit", "create", id=vid, school_id=str(school_id)),
               mutation("response", "create", visit_id=vid, item_code="enrolment", value=300), device_id="colleague")
    assert {r["status"] for r in res} == {"applied"}, res
    ids["V4"], ids["V4.enrolment"], ids["colleague"] = vid, res[1]["id"], str(colleague.id)
    return ids, versions


def _batch(ids: dict) -> list[dict]:
    """What a device sends after a day's edits: every answer and both visits' notes, on its copies."""
    return [
        mutation("response", "update", id=ids["V1.enrolment"], base_version=1, value=601),            # applied
        mutation("response", "update", id=ids["V1.pe_art_teachers"], base_version=1, value=7),        # merged
        mutation("response", "update", id=ids["V1.has_charter"], base_version=1, flagged=True, note="seen"),
        mutation("visit", "update", id=ids["V1"], base_version=1, notes="edited on site"),              # merged
        mutation("response", "update", id=ids["V2.enrolment"], base_version=1, value=490, note=None),
        mutation("visit", "update", id=ids["V2"], base_version=2, notes=None),                          # applied
    ]


# Mutations that the set-based path does not apply itself; with any of them in the batch, the passes
# decide the whole batch (the result of each is then the one-by-one one).
SPOILERS = {  # on records the batch above leaves alone (a record twice in a batch is a case of its own)
    "refused value": lambda ids: mutation("response", "update", id=ids["V2.multimedia_classrooms"], base_version=1,
                                          value="many"),
    "contested": lambda ids: mutation("response", "update", id=ids["V2.pe_art_teachers"], base_version=1,
                                      note="a different count", value=6),  # the value merges, the note does not
    "unchanged": lambda ids: mutation("response", "update", id=ids["V2.has_charter"], base_version=1, value=True),
    "unknown answer": lambda ids: mutation("response", "update", base_version=1, value=3),
    "base never seen": lambda ids: mutation("response", "update", id=ids["V2.has_charter"], base_version=9,
                                            value=False),
    "visit status": lambda ids: mutation("visit", "update", id=ids["V5"], base_version=1, status="cancelled"),
    "visit day": lambda ids: mutation("visit", "update", id=ids["V5"], base_version=1, planned_for="2026-12-01"),
    "invalid fields": lambda ids: mutation("response", "update", id=ids["V2.has_charter"], base_version=1,
                                           flagged="perhaps"),
    "same record twice": lambda ids: [mutation("response", "update", id=ids["V2.has_charter"], base_version=1, note=n)
                                      for n in ("first", "second")],
    "a base made earlier in the batch": lambda ids: [  # the third merges into the second's version
        mutation("response", "update", id=ids["V2.has_charter"], base_version=1, value=False),
        mutation("response", "update", id=ids["V2.has_charter"], base_version=1, note="x"),
        mutation("response", "update", id=ids["V2.has_charter"], base_version=2, value=True)],
    "a delete": lambda ids: mutation("response", "delete", id=ids["V2.has_charter"], base_version=1),
    "a submitted visit's answer": lambda ids: mutation("response", "update", id=ids["V3.enrolment"], base_version=1,
                                                       value=451),
    "a submitted visit's notes": lambda ids: mutation("visit", "update", id=ids["V3"], base_version=3, notes="late"),
    "an answer of a visit I am not on": lambda ids: mutation("response", "update", id=ids["V4.enrolment"],
                                                             base_version=1, value=301),
    "a visit I am not on": lambda ids: mutation("visit", "update", id=ids["V4"], base_version=2, notes="mine?"),
    "a visit of another county": lambda ids: mutation("visit", "update", id=ids["B1"], base_version=1,
                                                      notes="not mine"),
}


def _run(app, client, session, w, monkeypatch, *, one_by_one: bool, spoiler: str | None) -> tuple[list, dict, list]:
    school = make_school(session, w.county_a1)
    session.commit()
    h, other = token_for(session, w.inspector_a1), token_for(session, w.inspector_a1)
    ids, _ = _scenario(client, session, w, h, other, school.id)
    # A visit in county B1, which county A1's inspector does not see.
    (b1,) = push(client, token_for(session, w.admin), mutation("visit", "create", school_id=str(w.school_b1.id)),
                 device_id="admin")
    ids["B1"] = b1["id"]
    labels = {v: k for k, v in ids.items()}
    batch = _batch(ids)
    if spoiler:
        extra = SPOILERS[spoiler](ids)
        extra = extra if isinstance(extra, list) else [extra]
        for m in extra:
            labels.setdefault(m["id"], "unknown")
        batch[2:2] = extra
    device = f"dev-{uuid.uuid4().hex[:8]}"
    took = []
    with monkeypatch.context() as mp:
        real = bulk.apply_updates

        def spy(*a, **k):
            out = None if one_by_one else real(*a, **k)
            took.append(out is not None)
            return out
        mp.setattr(bulk, "apply_updates", spy)
        if one_by_one:
            def slow(*a, **k):
                raise push_module._SlowPath()
            mp.setattr(push_module, "_fast_one", slow)
        results = push(client, h, *batch, device_id=device)
        replayed = push(client, h, *batch, device_id=device)  # a retry after a lost answer
    labels[device], labels[str(school.id)] = "device", "school"
    state = _state(session, labels, device, [m["mutation_id"] for m in batch])
    del state["stored"]  # the bulk path stores a result without its record: what a retry answers is compared
    state["audit"] = _audit_by_visit(session, labels)
    return _named(labels, results), state | {"replayed": _named(labels, replayed)}, took


def _audit_by_visit(session, labels: dict) -> list:
    """The audit records of the scenario's visits, those of answers written by sync taken together per
    visit and device (the set-based path writes one per visit naming its items, the passes one per answer)."""
    from collections import defaultdict
    from sqlalchemy import select

    from inspections.audit.models import AuditRecord
    answered: dict = defaultdict(list)
    other = []
    for a in session.scalars(select(AuditRecord).where(AuditRecord.entity_id.in_(list(labels)))):
        if a.action == "sync.answer":
            answered[(a.actor_id, a.entity_id, a.data.get("device_id"))] += a.data["items"]
        else:
            other.append(repr(_label(labels, {"actor": a.actor_id, "action": a.action, "entity": a.entity,
                                              "entity_id": a.entity_id, "data": a.data})))
    return sorted(other) + sorted(repr(_label(labels, [k, sorted(v)])) for k, v in answered.items())


def _named(labels: dict, results: list[dict]) -> list:
    """Results with ids as their names, in a refusal's reason (and a retry's original) too."""
    def name(r: dict) -> dict:
        if "original" in r:
            r = r | {"original": name(r["original"])}
        if "reason" in r:
            r = r | {"reason": next((r["reason"].replace(i, n) for i, n in labels.items() if i in r["reason"]),
                                    r["reason"])}
        return r
    return [_label(labels, name(r)) for r in results]


def test_a_batch_of_updates_leaves_what_one_savepoint_per_mutation_leaves(app, client, session, monkeypatch):
    w = make_world(session)
    fast, fast_state, took = _run(app, client, session, w, monkeypatch, one_by_one=False, spoiler=None)
    slow, slow_state, _ = _run(app, client, session, w, monkeypatch, one_by_one=True, spoiler=None)
    assert [r["status"] for r in fast] == ["applied", "merged", "applied", "merged", "applied", "applied"]
    assert fast == slow
    for part in fast_state:
        assert fast_state[part] == slow_state[part], part
    assert all(r["status"] == "duplicate" for r in fast_state["replayed"])
    # The batch went the set-based way where it can (PostgreSQL), and the passes' way elsewhere.
    assert took[0] is (app.extensions["db_engine"].dialect.name == "postgresql")
    by_id = {r["id"]: r for r in fast}
    assert by_id["V1.pe_art_teachers"]["record"]["value"] == 7
    assert by_id["V1.pe_art_teachers"]["record"]["note"] == "counted again"  # the other device's note stays
    assert by_id["V1"]["version"] == 3 and by_id["V1"]["record"]["notes"] == "edited on site"


@pytest.mark.parametrize("spoiler", sorted(SPOILERS))
def test_a_batch_the_set_based_path_does_not_take_is_decided_one_by_one(app, client, session, monkeypatch, spoiler):
    w = make_world(session)
    fast, fast_state, took = _run(app, client, session, w, monkeypatch, one_by_one=False, spoiler=spoiler)
    slow, slow_state, _ = _run(app, client, session, w, monkeypatch, one_by_one=True, spoiler=spoiler)
    assert True not in took, "the set-based path took a batch it cannot decide alone"
    assert fast == slow
    for part in fast_state:
        assert fast_state[part] == slow_state[part], part


def test_a_days_edits_to_answers_are_written_in_place(app, client, session):
    """Every answer of a page can change at once (a device edits a visit's answers together): the new
    versions stay on their pages (HOT updates, no index entry written), which the answers' fill factor
    leaves room for (migration 0021). On full pages most went to other pages, with all their index entries."""
    if app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("a page's fill factor is PostgreSQL's")
    from sqlalchemy import text

    from bench.pouchdb_compare import ITEMS
    from tests.factories import answer_value
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    creates = []
    for _ in range(10):
        vid = str(uuid.uuid4())
        creates.append(mutation("visit", "create", id=vid, school_id=str(w.school_a1.id)))
        creates += [mutation("response", "create", visit_id=vid, item_code=code, value=answer_value(code, i))
                    for i, code in enumerate(ITEMS)]
    assert {r["status"] for r in push(client, h, *creates)} == {"applied"}
    answers = [m for m in creates if m["entity"] == "response"]
    ids = [m["id"] for m in answers]

    def pages() -> dict:
        rows = session.execute(text("SELECT id::text, (ctid::text::point)[0] FROM responses WHERE id::text = ANY(:ids)"),
                               {"ids": ids}).all()
        session.rollback()
        return dict(rows)

    before = pages()
    assert len(set(before.values())) > 1, "the answers fill more than one page"
    edits = [mutation("response", "update", id=m["id"], base_version=1, note="checked again") for m in answers]
    assert {r["status"] for r in push(client, h, *edits)} == {"applied"}
    after = pages()
    moved = sorted(i for i in ids if after[i] != before[i])
    # A page's new versions fit beside its old ones unless they grew by more than the room left (the note
    # here lengthens each): the last rows of a page may still go to another (5 of 190 here).
    assert len(moved) <= len(ids) // 10, f"{len(moved)} of {len(ids)} answers' new versions went to another page"
