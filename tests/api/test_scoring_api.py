"""Scoring through the API and RQ: previews, visit scores, county reports, jobs."""
from __future__ import annotations

import csv
import io
import math
import uuid

import pytest
from sqlalchemy import func, select

from inspections.jobs.models import JobRecord
from inspections.scoring.models import VisitScore
from tests.factories import GOOD_PRIMARY, make_school, make_world, run_jobs, submit_visit, token_for


@pytest.fixture
def world(session):
    w = make_world(session)
    w.h_insp = token_for(session, w.inspector_a1)
    w.h_office = token_for(session, w.office_a1)
    w.h_school = token_for(session, w.school_user_a1)
    return w


def test_preview_gives_the_shortfall_in_whole_teachers(client, world):
    # 600 pupils need 0.9 x 6 = 5.4 PE/art teachers: with 4, two more are needed.
    facts = {**GOOD_PRIMARY, "pe_art_teachers": 4}
    r = client.post("/api/v1/scoring/preview", json={"level": "primary", "facts": facts}, headers=world.h_school)
    assert r.status_code == 200, r.json
    r3 = r.json["indicators"]["R3"]
    assert r3["met"] is False and r3["shortfall"] == 2
    assert r.json["met_count"] == 6
    # 4/600*100 = 0.6667 per 100 against 0.9: 74% of the threshold, under 85% -> fail.
    assert r.json["verdict"] == "fail"


def test_preview_rejects_bad_facts_with_field_messages(client, world):
    r = client.post("/api/v1/scoring/preview", json={"level": "primary", "facts": {**GOOD_PRIMARY, "enrolment": 0}},
                    headers=world.h_insp)
    assert r.status_code == 422 and any("enrolment" in k for k in r.json["errors"])
    r = client.post("/api/v1/scoring/preview", json={"level": "senior", "facts": {}}, headers=world.h_insp)
    assert r.status_code == 422 and "level" in r.json["errors"]


def test_submitting_a_visit_scores_it_once(app, client, session, world):
    visit = submit_visit(client, world.h_insp, world.school_a1.id, GOOD_PRIMARY)
    r = client.get(f"/api/v1/visits/{visit['id']}/score", headers=world.h_insp)
    assert r.json["state"] in ("pending", "scored")
    run_jobs(app)
    r = client.get(f"/api/v1/visits/{visit['id']}/score", headers=world.h_insp)
    assert r.status_code == 200 and r.json["state"] == "scored", r.json
    [section] = r.json["sections"]
    assert section["verdict"] == "pass" and section["level"] == "primary"
    assert section["facts"]["enrolment"] == 600 and len(section["template_sha256"]) == 64
    assert r.json["job"]["status"] == "finished"
    # Running the job again (a retry, or a duplicate delivery) stores one result, not two.
    from inspections.scoring.tasks import score_visit
    score_visit(r.json["job"]["id"], visit_id=visit["id"])
    assert session.scalar(select(func.count()).select_from(VisitScore)
                          .where(VisitScore.visit_id == uuid.UUID(visit["id"]))) == 1
    # The school sees its own submitted visit's score.
    assert client.get(f"/api/v1/visits/{visit['id']}/score", headers=world.h_school).json["state"] == "scored"


def test_job_failure_is_visible_with_its_reason(app, client, session, world):
    from inspections.scoring.tasks import score_visit
    with pytest.raises(Exception):
        score_visit("score-visit-missing", visit_id="00000000-0000-0000-0000-000000000000")
    # A job about a visit nobody can see is the admin's to read (to an office it looks unknown).
    r = client.get("/api/v1/jobs/score-visit-missing", headers=token_for(session, world.admin))
    assert r.status_code == 200 and r.json["status"] == "failed"
    assert "does not exist" in r.json["error"]
    assert client.get("/api/v1/jobs/score-visit-missing", headers=world.h_office).status_code == 404
    assert client.get("/api/v1/jobs/score-visit-missing", headers=world.h_school).status_code == 403
    assert client.get("/api/v1/jobs/nope", headers=world.h_office).status_code == 404


def test_unscorable_answers_are_recorded_not_retried(app, client, session, world):
    # No way in writes enrolment -3 (answers are checked against their item's kind): an answer stored before
    # that check may still hold such a value, put into the database directly here.
    visit = submit_visit(client, world.h_insp, world.school_a1.id, GOOD_PRIMARY, session=session,
                         stored_as_is={"enrolment": -3})
    run_jobs(app)
    r = client.get(f"/api/v1/visits/{visit['id']}/score", headers=world.h_insp).json
    assert r["sections"][0]["verdict"] == "invalid" and "enrolment" in r["sections"][0]["result"]["errors"]
    assert session.get(JobRecord, r["job"]["id"]).status == "finished"


def _weighted_cv(pairs):
    total = sum(p for _, p in pairs)
    mean = sum(x * p for x, p in pairs) / total
    return math.sqrt(sum(p * (x - mean) ** 2 for x, p in pairs) / total) / mean


def test_county_report_json_and_csv(app, client, session, world):
    # Three schools in county A1 with different R4 (teaching area per pupil) and enrolments.
    schools = [world.school_a1, make_school(session, world.county_a1, enrolment=300),
               make_school(session, world.county_a1, enrolment=900)]
    session.commit()
    areas = [3000, 1800, 4200]
    for school, area in zip(schools, areas):
        enrol = 600 if school is world.school_a1 else school.enrolment_primary
        facts = {**GOOD_PRIMARY, "enrolment": enrol, "teaching_aux_area_m2": area,
                 "teachers_above_required_qualification": enrol // 20, "key_teachers_county_level_or_above": enrol // 80,
                 "pe_art_teachers": enrol // 90, "sports_area_m2": enrol * 8, "equipment_value_yuan": enrol * 2500,
                 "multimedia_classrooms": enrol // 40}
        submit_visit(client, world.h_insp, school.id, facts)
    run_jobs(app)
    url = f"/api/v1/counties/{world.county_a1.id}/report?level=primary"
    assert client.get(url, headers=world.h_office).status_code == 404
    r = client.post(f"/api/v1/counties/{world.county_a1.id}/scoring-runs?level=primary", headers=world.h_office)
    assert r.status_code == 202
    run_jobs(app)
    report = client.get(url, headers=world.h_office).json
    r4 = report["result"]["indicators"]["R4"]
    expected = _weighted_cv([(3000 / 600, 600), (1800 / 300, 300), (4200 / 900, 900)])
    assert r4["cv"] == pytest.approx(expected, abs=1e-4)
    assert r4["schools_counted"] == 3 and report["result"]["schools_total"] == 3
    csv_resp = client.get(url + "&format=csv&lang=en", headers=world.h_office)
    assert csv_resp.mimetype == "text/csv"
    rows = _csv_rows(csv_resp)
    header = rows[1]
    r4 = next(i for i, h in enumerate(header) if h.startswith("R4 "))
    assert header[:4] == ["School code", "School", "Verdict", "Indicators met"]
    assert [r[0] for r in rows[2:5]] == sorted(s.code for s in schools)
    cv_row = next(r for r in rows if r and r[0] == "Difference coefficient")
    assert float(cv_row[r4]) == pytest.approx(expected, abs=1e-4)


def _csv_rows(resp) -> list[list[str]]:
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def test_county_report_csv_in_the_readers_language_local_time_numbers_no_ids(app, client, session, world):
    """Headers, verdicts and reasons in the reader's language (?lang, else Accept-Language, else Chinese); the
    time it was computed in business time to the minute; figures as plain numbers; no internal id anywhere."""
    import re

    from inspections import clock
    from inspections.scoring.models import CountyScore
    submit_visit(client, world.h_insp, world.school_a1.id, {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    assert client.post(f"/api/v1/counties/{world.county_a1.id}/scoring-runs?level=primary",
                       headers=world.h_office).status_code == 202
    run_jobs(app)
    url = f"/api/v1/counties/{world.county_a1.id}/report?level=primary&format=csv"
    zh = client.get(url, headers=world.h_office)
    en = client.get(url, headers={**world.h_office, "Accept-Language": "en-US,en;q=0.9"})
    asked = client.get(url + "&lang=zh-CN", headers={**world.h_office, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 200 and asked.get_data() == zh.get_data()
    fr = client.get(url + "&lang=fr", headers=world.h_office)
    assert fr.status_code == 422 and "lang" in str(fr.json)
    # The common spellings of the two languages are understood.
    for spelled in ("zh", "zh_CN", "zh-Hans-CN"):
        assert client.get(url + f"&lang={spelled}", headers={**world.h_office, "Accept-Language": "en"}
                          ).get_data() == zh.get_data(), spelled
    for spelled in ("en-US", "EN", "en_GB"):
        assert client.get(url + f"&lang={spelled}", headers=world.h_office).get_data() == en.get_data(), spelled
    row = session.scalar(select(CountyScore).where(CountyScore.jurisdiction_id == world.county_a1.id))
    when = f"{clock.local(row.computed_at):%Y-%m-%d %H:%M}"
    z, e = _csv_rows(zh), _csv_rows(en)
    assert z[0] == ["县区", world.county_a1.name, "学段", "小学", "结论", "未达标", "计算时间", when]
    assert e[0] == ["County", world.county_a1.name, "Level", "Primary", "Verdict", "Fail", "Computed at", when]
    assert z[1][:4] == ["学校代码", "学校", "结论", "达标指标数"]
    school = next(r for r in z if r and r[0] == world.school_a1.code)
    assert school[1] == world.school_a1.name and school[2] == "未达标"
    figures = school[3:]
    assert figures and all(re.fullmatch(r"-?\d+(\.\d+)?", c) for c in figures if c), figures
    assert "A 资源配置" in [r[0] for r in z if r] and any("体育" in c for r in z for c in r)  # why, in words
    assert any(r and r[0].startswith("A Resource allocation") for r in e)
    assert "R3 PE and art teachers per 100 students" in e[1] and "R3 每百名学生拥有体育、艺术专任教师数" in z[1]
    for body in (zh, en):
        text = body.get_data(as_text=True)
        assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text, re.I)
        assert "T" + row.computed_at.strftime("%H") not in text and "+00:00" not in text
        assert not re.search(r"\b(pass|fail|incomplete|met_count|school_rule)\b", text)


def test_county_report_is_scoped(client, world, session):
    h_b = token_for(session, world.inspector_assigned)
    url = f"/api/v1/counties/{world.county_a1.id}/report?level=primary"
    assert client.get(url, headers=h_b).status_code == 404
    assert client.get(url, headers=world.h_school).status_code == 403
    assert client.post(f"/api/v1/counties/{world.county_a1.id}/scoring-runs?level=primary",
                       headers=world.h_insp).status_code == 403
    r = client.post(f"/api/v1/counties/{world.city_a.id}/scoring-runs?level=primary",
                    headers=token_for(session, world.office_a))
    assert r.status_code == 422


def test_county_report_lists_schools_failing_government_items(app, client, session, world):
    # One class of 52 breaks the primary class-size cap (B5: every class <= 45).
    facts = {**GOOD_PRIMARY, "class_sizes": [40] * 13 + [52]}
    submit_visit(client, world.h_insp, world.school_a1.id, facts)
    run_jobs(app)
    client.post(f"/api/v1/counties/{world.county_a1.id}/scoring-runs?level=primary", headers=world.h_office)
    run_jobs(app)
    items = client.get(f"/api/v1/counties/{world.county_a1.id}/report?level=primary",
                       headers=world.h_office).json["result"]["items"]
    b5 = next(v for k, v in items.items() if k.startswith("B5"))
    assert b5["not_met"] == 1 and b5["schools_not_met"][0].startswith(world.school_a1.code)


def test_asking_twice_for_the_same_job_enqueues_it_once(app, session, world):
    from server.jobs import enqueue
    with app.test_request_context(method="POST"):
        a = enqueue("score_county", job_id="score-county-twice", county_id=str(world.county_a1.id), level="primary")
        b = enqueue("score_county", job_id="score-county-twice", county_id=str(world.county_a1.id), level="primary")
        assert a.id == b.id
        if app.config.get("REDIS_URL"):
            from server.extensions import queue
            assert queue("scoring").count == 1
    run_jobs(app)
    assert session.get(JobRecord, "score-county-twice").status == "finished"


@pytest.mark.parametrize("amount,unit,text", [(2, "teachers", "2 名教师"), ("850.5", "m2", "850.50 平方米"),
                                              (120000, "yuan", "120,000.00 元"), (3, "rooms", "3 间")])
def test_shortfall_reads_in_real_units(amount, unit, text):
    from inspections.scoring.service import shortfall_text
    assert shortfall_text(amount, unit) == text


def _all_pass_county(app, client, session, world):
    for school in (world.school_a1,):
        submit_visit(client, world.h_insp, school.id, {**GOOD_PRIMARY, "class_sizes": [40] * 14,
                                                        "music_rooms_m2": [100, 100], "art_rooms_m2": [95, 95]})
    run_jobs(app)


@pytest.mark.parametrize("county_facts,verdict,reason", [
    ({"admission_by_exam": False, "illegal_school_choice": False, "key_schools_or_classes": False,
      "social_recognition_percent": 90}, None, None),
    ({"admission_by_exam": False, "illegal_school_choice": False, "key_schools_or_classes": True,
      "social_recognition_percent": 90}, "fail", "key schools"),
    ({"admission_by_exam": False, "illegal_school_choice": False, "key_schools_or_classes": False,
      "social_recognition_percent": 84.9}, "fail", "social recognition"),
    ({}, "not-pass", "veto items not reported"),
])
def test_veto_items_decide_the_county(app, client, session, world, county_facts, verdict, reason):
    _all_pass_county(app, client, session, world)
    url = f"/api/v1/counties/{world.county_a1.id}"
    r = client.post(f"{url}/scoring-runs?level=primary", json={"county_facts": county_facts}, headers=world.h_office)
    assert r.status_code == 202, r.json
    run_jobs(app)
    report = client.get(f"{url}/report?level=primary", headers=world.h_office).json
    assert report["result"]["veto"]["facts"] == county_facts
    if verdict == "fail":
        assert report["verdict"] == "fail" and reason in report["result"]["reasons"][0]
    elif verdict == "not-pass":
        assert report["verdict"] != "pass" and any(reason in x for x in report["result"]["reasons"])
    else:
        assert report["result"]["veto"]["vetoed"] == [] and report["result"]["veto"]["not_reported"] == []


def test_bad_veto_facts_are_rejected(client, world):
    r = client.post(f"/api/v1/counties/{world.county_a1.id}/scoring-runs?level=primary",
                    json={"county_facts": {"admission_by_exam": "no", "social_recognition_percent": 120, "x": 1}},
                    headers=world.h_office)
    assert r.status_code == 422
    assert {"county_facts.admission_by_exam", "county_facts.social_recognition_percent", "county_facts.x"} <= set(
        r.json["errors"])
