"""One grammar for a decimal written as text (inspections.numbers): ASCII digits, an optional leading minus
and an optional fraction after a dot. Python's Decimal() reads far more ("4_3" as 43, " 4.3 ", "4.2e0",
"１２"); thresholds and answers written in any of those are refused on the way in, and ones stored before
are reported by scoring as what they are, never read as some other number and never a crash."""
from __future__ import annotations

import copy
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from inspections import clock
from inspections.templates.models import TemplateVersion
from tests.factories import GOOD_PRIMARY, run_jobs, submit_visit, world_with_tokens

NOT_DECIMALS = ["4_3", " 4.3 ", "4.3 ", "4.2e0", "+4.3", ".5", "5.", "NaN", "Infinity", "４.３", "٤.٣", "4,3", "4.3\n"]


@pytest.fixture
def world(session):
    return world_with_tokens(session)


def _today() -> str:
    return clock.today().isoformat()


def _template(client, world) -> str:
    h = world.h_office
    national = next(t["id"] for t in client.get("/api/v1/templates", headers=h).json["items"]
                    if t["code"] == "national-2017")
    r = client.post("/api/v1/templates", headers=h, json={
        "code": "county-a1", "name": "A1", "jurisdiction_id": str(world.county_a1.id), "parent_id": national})
    assert r.status_code == 201, r.json
    return r.json["id"]


@pytest.mark.parametrize("typed", NOT_DECIMALS)
def test_the_api_refuses_a_threshold_outside_the_grammar_and_writes_nothing(client, session, world, typed):
    tpl = _template(client, world)
    r = client.post(f"/api/v1/templates/{tpl}/versions", headers=world.h_office,
                    json={"overlay": {"set_thresholds": {"R1": {"primary": typed}}}, "effective_from": _today()})
    assert r.status_code == 422, (typed, r.json)
    assert list(r.json["errors"]) == ["set_thresholds.R1.primary"], r.json
    assert session.query(TemplateVersion).filter_by(template_id=uuid.UUID(tpl)).count() == 0


def test_a_threshold_in_the_grammar_is_stored_as_written(client, world):
    tpl = _template(client, world)
    r = client.post(f"/api/v1/templates/{tpl}/versions", headers=world.h_office,
                    json={"overlay": {"set_thresholds": {"R1": {"primary": "4.30"}}}, "effective_from": _today()})
    assert r.status_code == 201, r.json
    r1 = next(i for i in r.json["definition"]["indicators"] if i["code"] == "R1")
    assert r1["threshold"]["primary"] == "4.30"


@pytest.mark.parametrize("field,typed", [("min_ratio_not_met", "0.9_5"), ("min_ratio_not_met", "9.5e-1")])
def test_the_api_refuses_a_school_rule_outside_the_grammar(client, world, field, typed):
    tpl = _template(client, world)
    r = client.post(f"/api/v1/templates/{tpl}/versions", headers=world.h_office,
                    json={"overlay": {"set_rules": {"school": {field: typed}}}, "effective_from": _today()})
    assert r.status_code == 422 and f"set_rules.school.{field}" in r.json["errors"], r.json


@pytest.mark.parametrize("typed", ["1_000", " 30", "30 ", "3e1", "+30", "３０", "٣٠", "NaN", "Infinity", "30.", ".5"])
def test_a_number_answer_outside_the_grammar_is_refused(client, world, typed):
    visit = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=world.h_insp).json
    for code in ("teachers_above_required_qualification", "sports_area_m2"):  # an integer item, a number item
        r = client.put(f"/api/v1/visits/{visit['id']}/responses", headers=world.h_insp,
                       json={"answers": [{"item_code": code, "value": typed}]})
        assert r.status_code == 422 and list(r.json["errors"]) == ["answers.0.value"], (code, typed, r.json)


@pytest.mark.parametrize("value", [30, "30", "30.0", 30.0, "0030"])
def test_json_numbers_and_decimal_text_still_answer(client, world, value):
    visit = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=world.h_insp).json
    r = client.put(f"/api/v1/visits/{visit['id']}/responses", headers=world.h_insp,
                   json={"answers": [{"item_code": "teachers_above_required_qualification", "value": value},
                                     {"item_code": "sports_area_m2", "value": 1e-05 if value == 30.0 else value}]})
    assert r.status_code == 200, (value, r.json)


def test_an_answer_stored_before_the_grammar_scores_as_invalid_not_as_another_number(app, client, session, world):
    # No way in writes "1_000" any more; an answer stored before may hold it (put into the database here).
    visit = submit_visit(client, world.h_insp, world.school_a1.id, GOOD_PRIMARY, session=session,
                         stored_as_is={"teachers_above_required_qualification": "1_000", "sports_area_m2": " 5000"})
    run_jobs(app)
    section = client.get(f"/api/v1/visits/{visit['id']}/score", headers=world.h_insp).json["sections"][0]
    assert section["verdict"] == "invalid"
    assert section["result"]["errors"] == {"teachers_above_required_qualification": ["must be a whole number >= 0"],
                                           "sports_area_m2": ["must be a number >= 0"]}


def _version_stored_with_threshold(client, session, world, threshold: str) -> str:
    """A published county version whose R1 primary threshold is `threshold`, written into the database
    directly: the API refuses such a threshold now, but versions published before may hold one."""
    tpl = _template(client, world)
    v = client.post(f"/api/v1/templates/{tpl}/versions", headers=world.h_office,
                    json={"overlay": {"set_thresholds": {"R1": {"primary": "4.5"}}}, "effective_from": _today()}).json
    assert client.post(f"/api/v1/templates/versions/{v['id']}/publish", headers=world.h_office).status_code == 200
    row = session.get(TemplateVersion, uuid.UUID(v["id"]))
    definition = copy.deepcopy(row.definition)
    next(i for i in definition["indicators"] if i["code"] == "R1")["threshold"]["primary"] = threshold
    session.execute(update(TemplateVersion).where(TemplateVersion.id == row.id)
                    .values(definition=definition, effective_from=clock.today() - timedelta(days=1)))
    session.commit()
    return v["id"]


def test_a_threshold_stored_before_the_grammar_makes_the_version_unscorable_not_a_crash(app, client, session, world):
    version_id = _version_stored_with_threshold(client, session, world, "4_3")
    facts = {**GOOD_PRIMARY, "enrolment": 1000, "teachers_above_required_qualification": 45}
    r = client.post("/api/v1/scoring/preview", headers=world.h_insp,
                    json={"level": "primary", "template_version_id": version_id, "facts": facts})
    assert r.status_code == 422, r.json
    assert "'4_3'" in r.json["errors"]["template"][0] and "R1" in r.json["errors"]["template"][0]
    # A visit pinned to it is scored as invalid (recorded, the job finished), never as a threshold of 43.
    v = client.post("/api/v1/visits", headers=world.h_insp,
                    json={"school_id": str(world.school_a1.id), "template_version_id": version_id}).json
    assert v["template_version_id"] == version_id, v
    answers = [{"item_code": k, "value": val} for k, val in facts.items()]
    assert client.put(f"/api/v1/visits/{v['id']}/responses", json={"answers": answers},
                      headers=world.h_insp).status_code == 200
    assert client.patch(f"/api/v1/visits/{v['id']}", json={"status": "submitted"},
                        headers=world.h_insp).status_code == 200
    run_jobs(app)
    section = client.get(f"/api/v1/visits/{v['id']}/score", headers=world.h_insp).json["sections"][0]
    assert section["verdict"] == "invalid" and list(section["result"]["errors"]) == ["template"], section
