"""An answer goes where it is scored: an item asked only at one level (学段) is refused for a school, or a
section, scored at another (scoring would call the visit unscorable: "this item is not asked for primary
schools"). On every way in (push: its bulk path, one by one; REST), with the item named and nothing written.
A combined school's whole-school answers (section "") count in both its sections, so they take only items
asked at both levels."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from inspections.org.enums import SchoolKind
from inspections.scoring.models import VisitScore
from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate
from inspections.visits import service as visits
from inspections.visits.models import Response
from sync import bulk
from tests.factories import GOOD_PRIMARY, make_school, make_world, run_jobs, token_for
from tests.sync.helpers import mutation, new_visit, push

HELP = {"zh": "说明", "en": "help"}
LABS = {"code": "science_labs", "kind": "integer", "section": "A", "levels": ["junior"], "help": HELP}


@pytest.fixture
def world(session):
    w = make_world(session)
    national = session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.jurisdiction_id.is_(None)))
    tpl = templates.create_template(session, code="county-labs", name="junior labs", jurisdiction=w.county_a1,
                                    parent=national)
    templates.publish(session, templates.create_version(session, tpl, overlay={"add_items": [LABS]},
                                                        effective_from=None))
    w.nine = make_school(session, w.county_a1, kind=SchoolKind.nine_year)
    session.commit()
    w.h = token_for(session, w.inspector_a1)
    return w


def _answers(session, vid) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Response).where(Response.visit_id == uuid.UUID(str(vid))))


def _labs(vid, section=""):
    return mutation("response", "create", visit_id=str(vid), item_code="science_labs", value=3, section=section)


@pytest.mark.parametrize("school,section,taken", [
    ("school_a1", "", False),      # a primary school is never asked it
    ("nine", "", False),           # whole-school answers count for the primary section too
    ("nine", "primary", False),
    ("nine", "junior", True),
])
def test_a_push_answers_an_item_only_where_it_is_asked(client, session, world, school, section, taken):
    vid = str(uuid.uuid4())
    batch = [mutation("visit", "create", id=vid, school_id=str(getattr(world, school).id)), _labs(vid, section),
             mutation("response", "create", visit_id=vid, item_code="pe_art_teachers", value=4)]
    _, labs, other = push(client, world.h, *batch)  # a batch of creates: the bulk path first
    assert other["status"] == "applied", other
    if taken:
        assert labs["status"] == "applied", labs
    else:
        assert labs["status"] == "rejected", labs
        assert labs["errors"] == {"fields.item_code": [
            f"'science_labs' is not asked for primary schools{' (answer it in its section)' if school == 'nine' and section == '' else ''}"]}
    assert _answers(session, vid) == 1 + taken
    # One by one, into a visit that exists: the same answer.
    (again,) = push(client, world.h, _labs(vid, section))
    assert again["status"] == ("merged" if taken else "rejected"), again


def test_the_bulk_path_leaves_an_item_of_another_level_to_one_by_one(session, world):
    from inspections.accounts.scope import principal_for
    vid = uuid.uuid4()
    batch = [mutation("visit", "create", id=str(vid), school_id=str(world.school_a1.id)), _labs(vid)]
    for m in batch:
        m["id"] = uuid.UUID(m["id"])
    assert bulk.apply(session, user=world.inspector_a1, principal=principal_for(session, world.inspector_a1),
                      device_id="d", mutations=batch) is None


def test_rest_refuses_an_item_of_another_level_and_writes_nothing(client, session, world):
    v = new_visit(client, world.h, world.nine.id)
    url = f"/api/v1/visits/{v['id']}/responses"
    r = client.put(url, headers=world.h, json={"answers": [{"item_code": "pe_art_teachers", "value": 4},
                                                           {"item_code": "science_labs", "value": 3}]})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"] == {
        "answers.1.item_code": ["'science_labs' is not asked for primary schools (answer it in its section)"]}
    assert _answers(session, v["id"]) == 0
    r = client.put(url, headers=world.h, json={"answers": [{"item_code": "science_labs", "value": 3,
                                                            "section": "junior"}]})
    assert r.status_code == 200, r.get_json()


def test_the_rule_is_the_one_scoring_judges_by(session, world):
    """Every (school kind, section, item levels) the writer takes, scoring takes at every level the section
    is scored at; every one it refuses, scoring refuses at one of them at least."""
    from inspections.scoring import engine
    seen = set()
    for kind in SchoolKind:
        school = make_school(session, world.county_a1, kind=kind)
        sections = visits.section_levels(school)
        for levels in (["primary"], ["junior"], ["primary", "junior"]):
            defn = {"code": "t", "items": [{"code": "x", "kind": "integer", "levels": levels}]}
            checklist = templates._checklist(defn)
            for section, scored_at in sections.items():
                written = not visits.key_errors(checklist, sections, "x", section)
                scored = all(not engine.validate_facts(defn, level, {"x": 1}) for level in scored_at)
                assert written == scored, (kind, section, levels)
                seen.add(written)
    assert seen == {True, False}


def test_a_combined_school_answered_in_its_sections_scores(client, session, world):
    """The junior-only item answered in the junior section: the visit is scored, not `invalid`."""
    v = new_visit(client, world.h, world.nine.id)
    answers = [{"item_code": k, "value": val, "section": s} for s in ("primary", "junior") for k, val in GOOD_PRIMARY.items()]
    answers.append({"item_code": "science_labs", "value": 3, "section": "junior"})
    r = client.put(f"/api/v1/visits/{v['id']}/responses", headers=world.h, json={"answers": answers})
    assert r.status_code == 200, r.get_json()
    assert client.patch(f"/api/v1/visits/{v['id']}", json={"status": "submitted"}, headers=world.h).status_code == 200
    run_jobs(client.application)
    session.expire_all()
    scores = session.scalars(select(VisitScore).where(VisitScore.visit_id == uuid.UUID(v["id"]))).all()
    assert scores and all(s.verdict != "invalid" for s in scores), [s.result for s in scores]
