"""The county verdict over the four areas of the standard, with every reason."""
from __future__ import annotations

import pytest

from inspections.scoring import county
from inspections.scoring.engine import score_county
from inspections.scoring.national import NATIONAL_2017
from tests.inspections.scoring.helpers import good_facts
from tests.inspections.scoring.reports import GOOD_SURVEY, good_report


def judged(level="primary", report=None, schools=None, **run_facts):
    schools = schools or [{"school": "A", "facts": good_facts(level, 600)}, {"school": "B", "facts": good_facts(level, 900)}]
    result = score_county(NATIONAL_2017, level, schools)
    return county.judge(NATIONAL_2017, level, result, report, run_facts or None)


def test_everything_met_passes_in_all_four_areas():
    for level in ("primary", "junior"):
        out = judged(level, good_report())
        assert out["verdict"] == "pass", out["reasons"]
        assert {a: v["verdict"] for a, v in out["areas"].items()} == {"A": "pass", "B": "pass", "C": "pass", "D": "pass"}
        assert out["reasons"] == []
    # C1 (junior retention) and B13.2 are judged for junior only, B13.1 for primary only.
    assert "C1" not in judged("primary", good_report())["county_items"]
    assert {"C1", "B13.2"} <= set(judged("junior", good_report())["county_items"])


def test_teachers_paid_below_civil_servants_fails_b_with_the_shortfall():
    out = judged(report=good_report(b8_teacher_avg_pay_yuan=90000))
    assert out["verdict"] == "fail" and out["areas"]["B"]["verdict"] == "fail"
    [reason] = out["areas"]["B"]["reasons"]
    assert reason.startswith("B8 ") and "short by 6000.00 yuan" in reason
    assert out["reasons"] == ["B " + reason]


@pytest.mark.parametrize("fact,value,code", [
    ("b9_training_360h_percent", "99.5", "B9"), ("b11_rotation_percent", 9, "B11.1"),
    ("b11_key_teachers_of_rotated_percent", 19, "B11.2"), ("b12_certified_percent", 98, "B12"),
    ("b13_nearby_admission_primary_percent", 99, "B13.1"), ("b14_model_hs_quota_percent", 49, "B14"),
    ("b15_migrant_in_public_percent", 84, "B15.2"), ("b7_special_ed_funds_per_student_yuan", 5999, "B7"),
    ("b1_layout_planned", False, "B1"), ("b2_same_staffing_standard", False, "B2"),
    ("b6_small_schools_funded_as_100", False, "B6"), ("b10_staffing_within_quota", False, "B10"),
    ("b15_left_behind_cared", False, "B15.1"),
    ("c2_disabled_enrolment_percent", 94, "C2"), ("c9_subjects_at_level_iii", False, "C9.1"),
    ("c9_difference_rate", "0.15", "C9.2"),  # "低于0.15": 0.15 itself fails
])
def test_each_county_item_below_its_threshold_fails_its_area(fact, value, code):
    out = judged(report=good_report(**{fact: value}))
    area = code[0]
    assert out["verdict"] == "fail" and out["areas"][area]["verdict"] == "fail"
    assert [r.split(" ")[0] for r in out["areas"][area]["reasons"]] == [code]


def test_junior_retention_below_95_fails_c_for_junior():
    out = judged("junior", good_report(c1_junior_retention_percent="94.9"))
    assert out["areas"]["C"]["verdict"] == "fail" and out["areas"]["C"]["reasons"][0].startswith("C1 ")


def test_an_unreported_figure_keeps_the_area_open_naming_it():
    out = judged(report=good_report(b8_civil_servant_avg_pay_yuan=None))
    assert out["verdict"] == "incomplete" and out["areas"]["B"]["verdict"] == "incomplete"
    assert "B8" in out["areas"]["B"]["reasons"][0] and "b8_civil_servant_avg_pay_yuan" in out["areas"]["B"]["reasons"][0]


def test_no_self_report_leaves_b_c_d_open():
    out = judged(report=None)
    assert out["verdict"] == "incomplete"
    assert [out["areas"][a]["verdict"] for a in "ABCD"] == ["pass", "incomplete", "incomplete", "incomplete"]


def test_survey_below_85_overall_fails_d_and_is_a_veto_with_groups_shown():
    survey = {**GOOD_SURVEY, "parents": {"respondents": 600, "satisfied": 420}}  # 70% of parents
    report = {**good_report(), "survey": survey}
    out = judged(report=report)
    # (4 x 180 + 420) / (4 x 200 + 600) = 1140 / 1400 = 81.42%
    assert out["survey"]["overall_percent"] == 81.42 and out["survey"]["groups"]["parents"]["percent"] == 70
    assert out["areas"]["D"]["verdict"] == "fail" and out["verdict"] == "fail"
    assert out["reasons"][0].startswith("一票否决: 社会认可度 81.42%")
    # Exactly 85% passes.
    at_85 = {g: {"respondents": 100, "satisfied": 85} for g in GOOD_SURVEY}
    assert judged(report={**good_report(), "survey": at_85})["areas"]["D"]["verdict"] == "pass"


def test_a_missing_respondent_group_keeps_d_open():
    survey = {g: v for g, v in GOOD_SURVEY.items() if g != "deputies"}
    out = judged(report={**good_report(), "survey": survey})
    assert out["areas"]["D"]["verdict"] == "incomplete" and "deputies" in out["areas"]["D"]["reasons"][0]


def test_a_veto_fails_the_county_first():
    report = good_report()
    report["vetoes"]["key_schools_or_classes"] = True
    out = judged(report=report)
    assert out["verdict"] == "fail" and out["reasons"][0].startswith("一票否决: 设置重点校")


def test_a_school_failing_b5_fails_area_b_not_a():
    schools = [{"school": "A", "facts": good_facts("primary", 600, class_sizes=[40] * 14 + [46])}]
    out = judged(report=good_report(), schools=schools)
    assert out["areas"]["A"]["verdict"] == "pass" and out["areas"]["B"]["verdict"] == "fail"
    assert out["areas"]["B"]["reasons"][0].startswith("A: B5 ")


@pytest.mark.parametrize("report,field", [
    ({"facts": {"b99": 1}}, "facts.b99"),
    ({"facts": {"b9_training_360h_percent": "n/a"}}, "facts.b9_training_360h_percent"),
    ({"facts": {"b9_training_360h_percent": 101}}, "facts.b9_training_360h_percent"),
    ({"facts": {"b1_layout_planned": "yes"}}, "facts.b1_layout_planned"),
    ({"survey": {"parents": {"respondents": 10, "satisfied": 11}}}, "survey.parents"),
    ({"survey": {"pupils": {"respondents": 10, "satisfied": 1}}}, "survey.pupils"),
    ({"vetoes": {"admission_by_exam": "no"}}, "vetoes.admission_by_exam"),
    ({"documents": [{"item": "B8", "title": "工资统计表"}]}, "documents[0]"),
    ({"documents": [{"item": ["B8"], "title": "t", "reference": "r"}]}, "documents[0]"),
    ({"survey": {"parents": [1, 2]}}, "survey.parents"),
    ({"facts": {"b8_teacher_avg_pay_yuan": {"yuan": 1}}}, "facts.b8_teacher_avg_pay_yuan"),
])
def test_bad_self_reports_are_refused_by_field(report, field):
    assert field in county.validate_report(NATIONAL_2017, report)


def test_a_good_self_report_with_evidence_is_valid():
    report = {**good_report(), "documents": [{"item": "B8", "title": "2026年教师工资统计表",
                                              "reference": "县教育局档案室 2026-B8-01"}]}
    assert county.validate_report(NATIONAL_2017, report) == {}


def test_c5_ict_use_and_equipment_use_is_a_school_item():
    from inspections.scoring.engine import score_school
    r = score_school(NATIONAL_2017, "primary", good_facts("primary", equipment_well_used=False))
    assert r.section("C")["C5"].met is False and [f.code for f in r.failed_items] == ["C5"]
    assert r.verdict.value == "pass"  # a quality item, not one of R1-R7
    assert score_school(NATIONAL_2017, "primary", good_facts("primary")).section("C")["C5"].met is True


CHANGSHA_B5_70 = {"code": "CS-B5-70", "name": {"zh": "到2022年班额达标学校比例不低于70%",
                                              "en": "By 2022 at least 70% of schools meet the class-size standard"},
                  "section": "B", "indicator": "B5", "min_share_met": "0.70"}


def _changsha():
    from inspections.scoring.overlay import apply_overlay
    return apply_overlay(NATIONAL_2017, {"code": "changsha-2022", "add_county_targets": [CHANGSHA_B5_70]})


@pytest.mark.parametrize("oversized,verdict", [(3, "pass"), (4, "fail")])
def test_an_aggregate_class_size_target_over_the_schools(oversized, verdict):
    # 10 schools, `oversized` of them with a 56-pupil class: 7 of 10 meet B5 = 70% (met), 6 of 10 is not.
    defn = _changsha()
    schools = [{"school": f"S{i}", "facts": good_facts("primary", 600, **(
        {"class_sizes": [40] * 14 + [56]} if i < oversized else {}))} for i in range(10)]
    result = score_county(defn, "primary", schools)
    [target] = county.judge_targets(defn, result)
    assert (target["schools"], target["schools_met"]) == (10, 10 - oversized)
    assert target["met"] is (verdict == "pass")
    out = county.judge(defn, "primary", result, good_report())
    reasons = out["areas"]["B"]["reasons"]
    assert any(r.startswith("CS-B5-70 ") for r in reasons) == (verdict == "fail")


def test_a_target_an_unassessed_school_could_decide_is_open():
    defn = _changsha()
    no_classes = {k: v for k, v in good_facts("primary", 600).items() if k != "class_sizes"}
    schools = [{"school": f"S{i}", "facts": good_facts("primary", 600, **(
        {"class_sizes": [40] * 14 + [56]} if i < 3 else {}))} for i in range(9)] + [{"school": "X", "facts": no_classes}]
    [target] = county.judge_targets(defn, score_county(defn, "primary", schools))
    assert target["met"] is None and target["schools_unknown"] == 1


def test_targets_are_checked_and_never_dropped_or_lowered():
    from inspections.scoring.definition import DefinitionError
    from inspections.scoring.overlay import apply_overlay, weakening_problems
    with pytest.raises(DefinitionError) as info:
        apply_overlay(NATIONAL_2017, {"code": "x", "add_county_targets": [{**CHANGSHA_B5_70, "indicator": "R99",
                                                                             "min_share_met": 0.7}]})
    assert {"county.targets[CS-B5-70].indicator", "county.targets[CS-B5-70].min_share_met"} <= set(info.value.fields)
    city = _changsha()
    with pytest.raises(DefinitionError):
        apply_overlay(city, {"code": "county-y", "add_county_targets": [CHANGSHA_B5_70]})  # already there
    lowered = {**city, "county": {**city["county"], "targets": [{**CHANGSHA_B5_70, "min_share_met": "0.60"}]}}
    assert [p for p, _ in weakening_problems(city, lowered)] == ["county.targets[CS-B5-70]"]
