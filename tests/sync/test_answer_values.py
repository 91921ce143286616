"""An answer's value is of its item's kind, on every way in (push: its bulk path, its optimistic pass, one by
one, an update, a contested update; REST; a conflict resolution): a value the item does not take is refused
with a `value` field message and writes nothing (no version, no change row, no audit). The rule is the one
scoring judges by (`engine.answer_problem`), so what is accepted is exactly what scores as valid."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from inspections.audit.models import AuditRecord
from inspections.scoring import engine
from inspections.scoring.models import VisitScore
from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate
from inspections.visits import service as visits
from inspections.visits.models import Response, Visit
from sync.models import ChangeLog, Conflict
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, store_as_is, token_for
from tests.sync.helpers import mutation, new_visit, push

HELP = {"zh": "说明", "en": "help"}
# Items of the two kinds the national checklist lacks, added by a county template.
REMARKS = {"code": "inspector_remarks", "kind": "text", "section": "C", "levels": ["primary", "junior"], "help": HELP}
AFTER_SCHOOL = {"code": "after_school_end", "kind": "time_of_day", "section": "C", "levels": ["primary", "junior"],
                "na_allowed": True, "help": HELP}

# item (kind): (a value it refuses, a value at the edge of what it takes)
CASES = {
    "pe_art_teachers": (2.5, 0),                    # integer: whole and >= 0; 0 is one
    "teaching_aux_area_m2": ("abc", "0.01"),        # number: a decimal string is a number
    "enrolment": (0, 1),                            # the integer every per-student figure divides by
    "has_charter": (1, False),                      # boolean: 1 is no boolean
    "moral_education_rating": ("Good", "poor"),     # rating: one of the choices exactly (the last one)
    "inspector_remarks": (5, ""),                   # text: any text, even none
    "class_sizes": ([], [1]),                       # at least one class, each of at least one pupil
    "music_rooms_m2": ([0], []),                    # areas > 0; no room at all is []
    "after_school_end": ("24:00", "23:59"),         # time of day, 24-hour
}
MORE_REFUSED = {"pe_art_teachers": "n/a", "sports_area_m2": 10 ** 14, "inspector_remarks": "n/a",
                "has_charter": "true", "after_school_end": "7:30",
                # Text outside the one decimal grammar (Python's Decimal() reads them as 1000, 600, 12, 5).
                "teaching_aux_area_m2": "1_000", "enrolment": "６００", "key_teachers_county_level_or_above": " 12",
                "multimedia_classrooms": "5e0"}
ALSO_ACCEPTED = {"after_school_end": "n/a", "pe_art_teachers": None}  # n/a where the template allows it; cleared


@pytest.fixture
def world(session):
    w = make_world(session)
    national = session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.jurisdiction_id.is_(None)))
    tpl = templates.create_template(session, code="county-kinds", name="every kind", jurisdiction=w.county_a1,
                                    parent=national)
    w.version = templates.publish(session, templates.create_version(
        session, tpl, overlay={"add_items": [REMARKS, AFTER_SCHOOL]}, effective_from=None))
    session.commit()
    w.h = token_for(session, w.inspector_a1)
    return w


def _state(session, visit_id) -> dict:
    """What a refused write must leave as it was: the answers, the visit's version, its change rows and audit."""
    session.expire_all()
    vid = uuid.UUID(str(visit_id))
    answers = {(r.item_code, r.section): (r.value, r.version, r.note)
               for r in session.scalars(select(Response).where(Response.visit_id == vid))}
    ids = [vid, *session.scalars(select(Response.id).where(Response.visit_id == vid))]
    visit = session.get(Visit, vid)
    return {"answers": answers, "visit": visit and (visit.version, visit.status),
            "changes": session.scalar(select(func.count()).select_from(ChangeLog).where(ChangeLog.entity_id.in_(ids))),
            "audit": session.scalar(select(func.count()).select_from(AuditRecord)
                                    .where(AuditRecord.entity_id.in_([str(i) for i in ids]))),
            "conflicts": session.scalar(select(func.count()).select_from(Conflict))}


def _refused(result: dict, code: str) -> None:
    assert result["status"] == "rejected", (code, result)
    assert list(result["errors"]) == ["fields.value"] and result["errors"]["fields.value"][0], result


def _answer(vid, code, value, **kw):
    return mutation("response", "create", visit_id=str(vid), item_code=code, value=value, **kw)


def test_the_template_has_every_kind(session, world):
    checklist = templates.checklist(world.version)
    kinds = {checklist.items[code]["kind"] for code in CASES}
    assert kinds == {"integer", "number", "boolean", "rating", "text", "class_sizes", "room_areas", "time_of_day"}


@pytest.mark.parametrize("code", sorted(CASES))
def test_a_batch_of_creates_refuses_only_the_bad_value(client, session, world, code):
    """The bulk path (a batch of creates only): the bad answer is refused as one by one, the rest applied."""
    bad, edge = CASES[code]
    other = next(c for c in CASES if c != code)
    vid = uuid.uuid4()
    results = push(client, world.h, mutation("visit", "create", id=vid, school_id=str(world.school_a1.id)),
                   _answer(vid, code, bad), _answer(vid, other, CASES[other][1]))
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"], results
    _refused(results[1], code)
    answers = _state(session, vid)["answers"]
    assert list(answers) == [(other, "")] and answers[(other, "")][0] == CASES[other][1]
    assert session.get(Response, uuid.UUID(results[1]["id"])) is None
    # The edge value goes in bulk too, and is stored as sent.
    vid = uuid.uuid4()
    results = push(client, world.h, mutation("visit", "create", id=vid, school_id=str(world.school_a1.id)),
                   _answer(vid, code, edge))
    assert [r["status"] for r in results] == ["applied", "applied"] and results[1]["record"]["value"] == edge


def test_the_bulk_path_itself_leaves_a_bad_value_to_one_by_one(session, world):
    """`bulk.apply` writes nothing and answers None for a batch holding a value its item does not take."""
    from inspections.accounts.models import User
    from inspections.accounts.scope import principal_for
    from sync import bulk
    from sync import fields as wire
    user = session.get(User, world.inspector_a1.id)

    def batch(value):
        vid = uuid.uuid4()
        ms = [mutation("visit", "create", id=vid, school_id=str(world.school_a1.id)), _answer(vid, "enrolment", 600),
              _answer(vid, "after_school_end", value)]
        for m in ms:
            m["id"] = uuid.UUID(m["id"])
        assert all(not wire.load(m["entity"], "create", m["fields"])[1] for m in ms)
        return vid, ms

    vid, bad = batch("17:60")
    assert bulk.apply(session, user=user, principal=principal_for(session, user), device_id="d", mutations=bad) is None
    assert session.get(Visit, vid) is None
    vid, good = batch("17:59")
    out = bulk.apply(session, user=user, principal=principal_for(session, user), device_id="d", mutations=good)
    assert out is not None and [r["status"] for r in out.results] == ["applied"] * 3
    session.rollback()


def test_a_mixed_batch_refuses_each_bad_value_and_applies_the_rest(client, session, world):
    """Not a batch of creates only (a visit edit in it): the optimistic pass, and with more refusals than it
    absorbs, one savepoint per mutation. Every refused value is answered by its own `value` message."""
    v = new_visit(client, world.h, world.school_a1.id)
    refused = {**{code: bad for code, (bad, _) in CASES.items()}}
    accepted = {code: edge for code, (_, edge) in CASES.items()}
    before = _state(session, v["id"])
    # More bad values than the pass absorbs (one by one), and a single one (the pass reruns without it).
    for bad_ones in (refused, {"has_charter": refused["has_charter"]}, MORE_REFUSED):
        results = push(client, world.h, mutation("visit", "update", id=v["id"], base_version=1, notes="n"),
                       *(_answer(v["id"], code, value) for code, value in bad_ones.items()))
        assert results[0]["status"] in ("applied", "merged")
        for code, r in zip(bad_ones, results[1:]):
            _refused(r, code)
        after = _state(session, v["id"])
        assert after["answers"] == before["answers"] == {} and after["conflicts"] == 0
    # Accepted edges, with a bad one among them, one by one: all of them stored as sent.
    results = push(client, world.h, mutation("visit", "update", id=v["id"], base_version=2, notes="m"),
                   *(_answer(v["id"], code, value) for code, value in accepted.items()),
                   *(_answer(v["id"], code, value, section="") for code, value in ALSO_ACCEPTED.items()
                     if code not in accepted),
                   _answer(v["id"], "sports_area_m2", -1))
    assert [r["status"] for r in results[1:-1]] == ["applied"] * (len(results) - 2), results
    _refused(results[-1], "sports_area_m2")
    answers = _state(session, v["id"])["answers"]
    assert {code: answers[(code, "")][0] for code in accepted} == accepted


@pytest.mark.parametrize("code", sorted(CASES))
def test_an_update_to_a_bad_value_changes_nothing(client, session, world, code):
    bad, edge = CASES[code]
    vid = uuid.uuid4()
    created = push(client, world.h, mutation("visit", "create", id=vid, school_id=str(world.school_a1.id)),
                   _answer(vid, code, edge, note="first"))
    rid = created[1]["id"]
    before = _state(session, vid)
    (r,) = push(client, world.h, mutation("response", "update", id=rid, base_version=1, value=bad, note="second"))
    _refused(r, code)
    assert _state(session, vid) == before
    # The same answer's value cleared (null) and set again to the edge: both written.
    (r,) = push(client, world.h, mutation("response", "update", id=rid, base_version=1, value=None))
    assert r["status"] == "applied" and r["record"]["value"] is None and r["version"] == 2
    (r,) = push(client, world.h, mutation("response", "update", id=rid, base_version=2, value=edge))
    assert r["status"] == "applied" and r["record"]["value"] == edge and r["version"] == 3


def test_a_bad_value_is_refused_not_kept_as_a_conflict(client, session, world):
    """A device on an older version sends a bad value over a value changed since: refused, not a conflict
    someone would later settle with a value no item takes."""
    v = new_visit(client, world.h, world.school_a1.id)
    (a,) = push(client, world.h, _answer(v["id"], "pe_art_teachers", 5))
    (b,) = push(client, world.h, mutation("response", "update", id=a["id"], base_version=1, value=6), device_id="B")
    assert b["status"] == "applied"
    before = _state(session, v["id"])
    (r,) = push(client, world.h, mutation("response", "update", id=a["id"], base_version=1, value="six", note="x"),
                device_id="A")
    _refused(r, "pe_art_teachers")
    assert _state(session, v["id"]) == before
    # A good value there is a conflict, as before.
    (r,) = push(client, world.h, mutation("response", "update", id=a["id"], base_version=1, value=7), device_id="A")
    assert r["status"] == "conflict"


def test_a_conflict_is_not_settled_with_a_bad_value(client, session, world):
    v = new_visit(client, world.h, world.school_a1.id)
    (a,) = push(client, world.h, _answer(v["id"], "pe_art_teachers", 5))
    push(client, world.h, mutation("response", "update", id=a["id"], base_version=1, value=6), device_id="B")
    (c,) = push(client, world.h, mutation("response", "update", id=a["id"], base_version=1, value=7), device_id="A")
    before = _state(session, v["id"])
    r = client.post("/api/v1/sync/conflicts/resolve", headers=world.h, json={
        "conflict_id": c["conflict"]["id"], "fields": {"value": {"take": "custom", "value": -7}}})
    assert r.status_code == 422 and list(r.get_json()["errors"]) == ["value"], r.get_json()
    assert _state(session, v["id"]) == before
    r = client.post("/api/v1/sync/conflicts/resolve", headers=world.h, json={
        "conflict_id": c["conflict"]["id"], "fields": {"value": {"take": "custom", "value": 8}}})
    assert r.status_code == 200, r.get_json()


@pytest.mark.parametrize("code", sorted(CASES))
def test_rest_refuses_a_bad_value_and_takes_the_edge(client, session, world, code):
    bad, edge = CASES[code]
    v = new_visit(client, world.h, world.school_a1.id)
    url = f"/api/v1/visits/{v['id']}/responses"
    before = _state(session, v["id"])
    # All or nothing: the good answer in the request is not written either.
    r = client.put(url, headers=world.h, json={"answers": [{"item_code": "multimedia_classrooms", "value": 15},
                                                           {"item_code": code, "value": bad}]})
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert list(r.get_json()["errors"]) == ["answers.1.value"], r.get_json()
    assert _state(session, v["id"]) == before
    r = client.put(url, headers=world.h, json={"answers": [{"item_code": code, "value": edge}]})
    assert r.status_code == 200 and r.get_json()[0]["value"] == edge
    before = _state(session, v["id"])
    r = client.put(url, headers=world.h, json={"answers": [{"item_code": code, "value": bad, "note": "x"}]})
    assert r.status_code == 422 and list(r.get_json()["errors"]) == ["answers.0.value"]
    assert _state(session, v["id"]) == before


def test_an_answer_stored_before_the_check_stays_readable_and_editable(client, session, world):
    """An old answer may hold a value no way in writes now: it is read as stored, its note still changes
    (the value it has is not judged again), and the visit still scores it `invalid`."""
    vid = uuid.uuid4()
    created = push(client, world.h, mutation("visit", "create", id=vid, school_id=str(world.school_a1.id)),
                   *(_answer(vid, k, val) for k, val in GOOD_PRIMARY.items()))
    rid = next(r["id"] for r, (k, _) in zip(created[1:], GOOD_PRIMARY.items()) if k == "pe_art_teachers")
    store_as_is(session, vid, {"pe_art_teachers": "six"})
    url = f"/api/v1/visits/{vid}/responses"
    r = client.get(url, headers=world.h)
    assert {a["item_code"]: a["value"] for a in r.get_json()}["pe_art_teachers"] == "six"
    # The device sends the record as it has it, with a new note: the note is written, the value kept.
    (r,) = push(client, world.h, mutation("response", "update", id=rid, base_version=1, value="six", note="checked"))
    assert r["status"] == "applied" and r["record"]["value"] == "six" and r["record"]["note"] == "checked"
    r = client.put(url, headers=world.h, json={"answers": [{"item_code": "pe_art_teachers", "value": "six",
                                                            "flagged": True}]})
    assert r.status_code == 200, r.get_json()
    r = client.patch(f"/api/v1/visits/{vid}", json={"status": "submitted"}, headers=world.h)
    assert r.status_code == 200
    run_jobs(client.application)
    session.expire_all()
    score = session.scalar(select(VisitScore).where(VisitScore.visit_id == vid))
    assert score.verdict == "invalid" and list(score.result["errors"]) == ["pe_art_teachers"]


VALUES = [None, 0, 1, -1, 2.5, 3.0, "3", " 4 ", "abc", "", "n/a", True, False, [], [0], [1, 2], [1.5], [-1],
          ["a"], "poor", "Good", "excellent", "17:30", "24:00", "7:30", 10 ** 13, 10 ** 14, "1e3", "1_000", "+3",
          ".5", "3.", "３", "٣", "NaN", "-0", "0.50", ["1_0"], [" 2"], 1e-05]


def test_the_server_and_the_engine_judge_every_value_alike(session, world):
    """For every item of the checklist and a spread of values: the server refuses exactly what scoring
    marks invalid, with the same message, and takes exactly what scores (the one rule)."""
    defn = world.version.definition
    checklist = templates.checklist(world.version)
    assert set(checklist.items) == {i["code"] for i in defn["items"] if i.get("enabled", True)}
    seen = {"refused": 0, "accepted": 0}
    for code in checklist.items:
        for value in VALUES:
            server = visits.value_problem(checklist, code, value)
            scoring = engine.validate_facts(defn, "primary", {code: value}).get(code)
            assert server == (scoring[0] if scoring else None), (code, value, server, scoring)
            seen["refused" if server else "accepted"] += 1
    assert seen["refused"] > 100 and seen["accepted"] > 50, seen


def test_the_accepted_edges_score_as_valid(client, session, world):
    """Every edge value written through the API is one the visit scores with (its verdict is not `invalid`)."""
    v = new_visit(client, world.h, world.school_a1.id)
    answers = {**GOOD_PRIMARY, **{code: edge for code, (_, edge) in CASES.items()}, "after_school_end": "n/a"}
    r = client.put(f"/api/v1/visits/{v['id']}/responses", headers=world.h,
                   json={"answers": [{"item_code": k, "value": val} for k, val in answers.items()]})
    assert r.status_code == 200, r.get_json()
    assert client.patch(f"/api/v1/visits/{v['id']}", json={"status": "submitted"}, headers=world.h).status_code == 200
    run_jobs(client.application)
    session.expire_all()
    score = session.scalar(select(VisitScore).where(VisitScore.visit_id == uuid.UUID(v["id"])))
    assert score.verdict != "invalid", score.result
