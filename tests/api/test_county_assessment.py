"""Issue 17 through the API and stored visits: n/a, school type, combined schools, B3-B5 in the
county verdict, and exact amounts from answer to ticket to export."""
from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from inspections.org.enums import SchoolKind
from inspections.tickets.models import Ticket
from tests.factories import GOOD_PRIMARY, make_school, make_world, run_jobs, submit_visit, token_for
from tests.inspections.scoring.reports import good_report
from tests.web.helpers import login

# GOOD_PRIMARY (600 pupils) with the B items a county needs: 15 classes of 40, 2 music and 2 art rooms.
GOOD = {**GOOD_PRIMARY, "class_sizes": [40] * 15, "music_rooms_m2": [100, 100], "art_rooms_m2": [95, 95]}


@pytest.fixture
def world(session):
    w = make_world(session)
    w.h_insp = token_for(session, w.inspector_a1)
    w.h_office = token_for(session, w.office_a1)
    w.h_school = token_for(session, w.school_user_a1)
    return w


def _self_report(client, world, report=None, year=None):
    from inspections.db import utcnow
    r = client.put(f"/api/v1/counties/{world.county_a1.id}/self-report?year={year or utcnow().year}",
                   json=report or good_report(), headers=world.h_office)
    assert r.status_code == 200, r.json
    return r.json


def _county_run(app, client, world):
    url = f"/api/v1/counties/{world.county_a1.id}"
    facts = {"admission_by_exam": False, "illegal_school_choice": False, "key_schools_or_classes": False,
             "social_recognition_percent": 92}
    r = client.post(f"{url}/scoring-runs?level=primary", json={"county_facts": facts}, headers=world.h_office)
    assert r.status_code == 202, r.json
    run_jobs(app)
    return client.get(f"{url}/report?level=primary", headers=world.h_office).json


def test_preview_refuses_na_for_an_r_indicator(client, world):
    facts = {**GOOD_PRIMARY, "sports_area_m2": "n/a", "multimedia_classrooms": 13}
    r = client.post("/api/v1/scoring/preview", json={"level": "primary", "facts": facts}, headers=world.h_school)
    assert r.status_code == 422 and list(r.json["errors"]) == ["sports_area_m2"], r.json
    facts = {**GOOD_PRIMARY, **{k: "n/a" for k in ("teaching_aux_area_m2", "sports_area_m2", "equipment_value_yuan")}}
    r = client.post("/api/v1/scoring/preview", json={"level": "primary", "facts": facts}, headers=world.h_school)
    assert r.status_code == 422 and len(r.json["errors"]) == 3


def test_preview_of_a_teaching_point_under_50(client, world):
    facts = {**GOOD_PRIMARY, "enrolment": 49, "pe_art_teachers": 0}
    body = {"level": "primary", "facts": facts, "school_type": "teaching_point"}
    r = client.post("/api/v1/scoring/preview", json=body, headers=world.h_school)
    assert r.status_code == 200 and r.json["verdict"] == "exempt", r.json
    r = client.post("/api/v1/scoring/preview", json={**body, "school_type": "village"}, headers=world.h_school)
    assert r.status_code == 422 and "school_type" in r.json["errors"]


def test_b3_and_b5_failures_fail_the_county_with_reasons(app, client, session, world):
    other = make_school(session, world.county_a1, enrolment=600)
    session.commit()
    submit_visit(client, world.h_insp, world.school_a1.id, {**GOOD, "class_sizes": [40] * 14 + [46]})
    submit_visit(client, world.h_insp, other.id, {**GOOD, "music_rooms_m2": []})
    run_jobs(app)
    report = _county_run(app, client, world)
    result = report["result"]
    assert result["schools_passing"] == 2 and all(i["met"] for i in result["indicators"].values())
    assert report["verdict"] == "fail"
    reasons = result["reasons"]
    assert any(world.school_a1.code in r and "B5" in r and "46" in r for r in reasons), reasons
    assert any(other.code in r and "B3.1" in r for r in reasons), reasons


def test_a_school_without_a_usable_score_is_named_and_keeps_the_county_open(app, client, session, world):
    silent = make_school(session, world.county_a1, enrolment=300)
    session.commit()
    submit_visit(client, world.h_insp, world.school_a1.id, GOOD)
    run_jobs(app)
    report = _county_run(app, client, world)
    assert report["verdict"] == "incomplete"
    assert report["result"]["schools_unscored"] == [f"{silent.code} {silent.name}"]


def test_school_type_in_the_register_and_a_teaching_point_left_out(app, client, session, world):
    r = client.post("/api/v1/schools", headers=world.h_office, json={
        "code": "TP-001", "name": "某教学点", "jurisdiction_id": str(world.county_a1.id), "kind": "primary",
        "locale": "rural", "enrolment_primary": 49, "school_type": "teaching_point"})
    assert r.status_code == 201 and r.json["school_type"] == "teaching_point", r.json
    tp = uuid.UUID(r.json["id"])
    assert client.post("/api/v1/schools", headers=world.h_office, json={
        "code": "TP-002", "name": "x", "jurisdiction_id": str(world.county_a1.id), "kind": "primary",
        "locale": "rural", "school_type": "hamlet"}).status_code == 422
    submit_visit(client, world.h_insp, world.school_a1.id, GOOD)
    _self_report(client, world)
    poor = {**GOOD, "enrolment": 49, "class_sizes": [20, 29], "music_rooms_m2": [100], "art_rooms_m2": [95],
            "teachers_above_required_qualification": 1, "multimedia_classrooms": 0, "pe_art_teachers": 0}
    visit = submit_visit(client, world.h_insp, tp, poor)
    run_jobs(app)
    [section] = client.get(f"/api/v1/visits/{visit['id']}/score", headers=world.h_insp).json["sections"]
    assert section["verdict"] == "exempt" and section["result"]["failed_items"] == []
    assert not session.scalars(select(Ticket).where(Ticket.school_id == tp)).all()  # no R tickets
    report = _county_run(app, client, world)
    assert report["verdict"] == "pass", report["result"]["reasons"]
    assert report["result"]["exempt_schools"] == ["TP-001 某教学点"]
    assert report["result"]["indicators"]["R1"]["schools_counted"] == 1


def _answer_sections(client, h, school_id, sections: dict[str, dict]) -> dict:
    v = client.post("/api/v1/visits", json={"school_id": str(school_id)}, headers=h).json
    answers = [{"item_code": k, "value": val, "section": sec} for sec, facts in sections.items()
               for k, val in facts.items()]
    r = client.put(f"/api/v1/visits/{v['id']}/responses", json={"answers": answers}, headers=h)
    assert r.status_code == 200, r.json
    r = client.patch(f"/api/v1/visits/{v['id']}", json={"status": "submitted"}, headers=h)
    assert r.status_code == 200, r.json
    return r.json


def test_nine_year_school_rooms_count_once_and_size_is_one_finding(app, client, session, world):
    school = make_school(session, world.county_a1, kind=SchoolKind.nine_year, enrolment=1800,
                         enrolment_junior=800)  # 2,600 in the compulsory stage: over 2,500
    session.commit()
    primary = {**GOOD_PRIMARY, "enrolment": 1800, "class_sizes": [40] * 13,
               "teachers_above_required_qualification": 90, "key_teachers_county_level_or_above": 20,
               "pe_art_teachers": 20, "teaching_aux_area_m2": 9000, "sports_area_m2": 15000,
               "equipment_value_yuan": 4000000, "multimedia_classrooms": 45,
               "music_rooms_m2": [100, 100], "art_rooms_m2": [95, 95]}
    junior = {"enrolment": 800, "class_sizes": [45] * 11, "teachers_above_required_qualification": 50,
              "key_teachers_county_level_or_above": 10, "pe_art_teachers": 10, "teaching_aux_area_m2": 5000,
              "sports_area_m2": 9000, "equipment_value_yuan": 2400000, "multimedia_classrooms": 22,
              "music_rooms_m2": [], "art_rooms_m2": []}
    visit = _answer_sections(client, world.h_insp, school.id, {"primary": primary, "junior": junior})
    run_jobs(app)
    sections = {s["section"]: s for s in client.get(f"/api/v1/visits/{visit['id']}/score",
                                                    headers=world.h_insp).json["sections"]}
    assert sections["primary"]["result"]["government"]["B3.1"]["met"] is True
    assert sections["junior"]["result"]["government"]["B3.1"]["status"] == "not_applicable"
    codes = sorted(t.item_code for t in session.scalars(select(Ticket).where(Ticket.school_id == school.id)))
    assert codes == ["B4.2"], codes  # no room ticket; one size ticket, not one per section
    [size] = session.scalars(select(Ticket).where(Ticket.school_id == school.id)).all()
    assert size.shortfall == Decimal("100.00")


def test_an_r4_shortfall_stays_149_90_from_answer_to_export(app, client, session, world):
    # 700 pupils x 4.5 m² = 3150 m²; 3150 - 3000.1 = 149.9 m² short.
    submit_visit(client, world.h_insp, world.school_a1.id,
                 {**GOOD_PRIMARY, "enrolment": 700, "teaching_aux_area_m2": 3000.1,
                  "teachers_above_required_qualification": 35, "pe_art_teachers": 7,
                  "sports_area_m2": 6000, "multimedia_classrooms": 17})
    run_jobs(app)
    session.expire_all()
    [t] = session.scalars(select(Ticket).where(Ticket.school_id == world.school_a1.id, Ticket.item_code == "R4"))
    assert t.shortfall == Decimal("149.90") and str(t.shortfall) == "149.90"
    api = client.get(f"/api/v1/tickets/{t.id}", headers=world.h_office).json
    assert api["shortfall"] == "149.90" and "149.90 平方米" in api["title"]
    login(client, world.office_a1.username)
    rows = list(csv.DictReader(io.StringIO(client.get("/web/dashboard/export.csv?lang=en").get_data(as_text=True)
                                           .lstrip("\ufeff"))))
    assert [r["Gap"] for r in rows if r["Indicator code"] == "R4"] == ["149.90"]


def test_self_report_recorded_by_the_county_seen_by_the_city_and_judged(app, client, session, world):
    from inspections.db import utcnow
    year = utcnow().year
    url = f"/api/v1/counties/{world.county_a1.id}/self-report?year={year}"
    assert client.get(url, headers=world.h_office).status_code == 404
    bad = client.put(url, headers=world.h_office, json={"facts": {"b9_training_360h_percent": "n/a", "b99": 1},
                                                         "survey": {"parents": {"respondents": 5, "satisfied": 6}}})
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"facts.b9_training_360h_percent", "facts.b99", "survey.parents"}
    assert client.get(url, headers=world.h_office).status_code == 404  # nothing written
    report = good_report(b8_teacher_avg_pay_yuan=90000)
    report["documents"] = [{"item": "B8", "title": "教师工资统计表", "reference": "档案 B8-01"}]
    first = _self_report(client, world, report)
    assert first["version"] == 1 and first["documents"][0]["item"] == "B8"
    # The city office above sees it; the school and a sibling county's office do not; an inspector cannot write.
    city = token_for(session, world.office_a)
    assert client.get(url, headers=city).json["facts"]["b8_teacher_avg_pay_yuan"] == 90000
    assert client.get(url, headers=world.h_school).status_code == 403
    assert client.put(url, headers=world.h_insp, json=good_report()).status_code == 403
    submit_visit(client, world.h_insp, world.school_a1.id, GOOD)
    run_jobs(app)
    out = _county_run(app, client, world)
    assert out["verdict"] == "fail" and out["result"]["areas"]["B"]["verdict"] == "fail"
    assert any(r.startswith("B B8 ") and "6000.00 yuan" in r for r in out["result"]["reasons"])
    assert out["result"]["survey"]["groups"]["parents"]["percent"] == 90
    # Correcting the report and running again judges the new figures (not the old run's job).
    second = _self_report(client, world)
    assert second["version"] == 2
    out = _county_run(app, client, world)
    assert out["verdict"] == "pass", out["result"]["reasons"]
    assert {a: v["verdict"] for a, v in out["result"]["areas"].items()} == {"A": "pass", "B": "pass", "C": "pass",
                                                                             "D": "pass"}
    # The offices' county page shows the four areas with their reasons.
    login(client, world.office_a.username)
    page = client.get("/web/dashboard/counties").get_data(as_text=True)
    assert 'data-testid="county-areas"' in page and "政府保障程度" in page and "社会认可度" in page
