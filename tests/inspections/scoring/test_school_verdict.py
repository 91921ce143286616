"""The school rule: at least 6 of R1-R7 met and the missed one at >= 85% of its threshold."""
from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from inspections.scoring.definition import validate_definition
from inspections.scoring.engine import InvalidFacts, score_school
from inspections.scoring.enums import IndicatorStatus, Verdict
from inspections.scoring.national import NATIONAL_2017
from tests.inspections.scoring.helpers import good_facts

# Facts that put one indicator at about 90% (-> a tolerated miss) or 50% (-> fatal), enrolment 1000.
AT_90 = {"R1": {"teachers_above_required_qualification": 38},   # 3.8 / 4.2 = 90.5%
         "R3": {"pe_art_teachers": 8},                           # 0.8 / 0.9 = 88.9%
         "R5": {"sports_area_m2": 6800}}                         # 6.8 / 7.5 = 90.7%
AT_50 = {"R2": {"key_teachers_county_level_or_above": 5},       # 0.5 / 1.0 = 50%
         "R6": {"equipment_value_yuan": 1000000}}                # 1000 / 2000 = 50%


def verdict(level="primary", enrolment=1000, **facts):
    return score_school(NATIONAL_2017, level, good_facts(level, enrolment, **facts))


def without(facts: dict, *codes: str) -> dict:
    return {k: v for k, v in facts.items() if k not in codes}


def test_all_seven_met_passes():
    r = verdict()
    assert (r.verdict, r.met_count, r.reasons) == (Verdict.passed, 7, [])


def test_six_met_and_the_seventh_at_90_percent_passes():
    r = verdict(**AT_90["R3"])
    assert r.verdict == Verdict.passed and r.met_count == 6
    assert r.reasons == ["R3 missed at 88.88% of its threshold (allowed)"]  # 0.8 / 0.9 = 0.8888.. cut


@pytest.mark.parametrize("level,enrolment,facts", [
    # R4 primary 4.5 x 0.85 = 3.825 m²/student -> 3825 m² over 1000 students
    ("primary", 1000, {"teaching_aux_area_m2": 3825}),
    # R2 1.0 x 0.85 = 0.85 per 100 -> 17 key teachers over 2000 students
    ("primary", 2000, {"key_teachers_county_level_or_above": 17}),
    # R7 junior 2.4 x 0.85 = 2.04 per 100 -> 51 rooms over 2500 students
    ("junior", 2500, {"multimedia_classrooms": 51}),
    # R6 junior 2500 x 0.85 = 2125 yuan/student -> 2,125,000 over 1000 students
    ("junior", 1000, {"equipment_value_yuan": 2125000}),
])
def test_missed_one_at_exactly_85_percent_passes(level, enrolment, facts):
    r = verdict(level, enrolment, **facts)
    missed = [x for x in r.rule_results if x.status == IndicatorStatus.not_met]
    assert len(missed) == 1 and missed[0].ratio == Decimal("0.85")
    assert r.verdict == Verdict.passed


@pytest.mark.parametrize("level,enrolment,facts,shown_ratio", [
    # 3824.99 / 1000 = 3.82499 -> 3.82499 / 4.5 = 0.849997.. < 0.85
    ("primary", 1000, {"teaching_aux_area_m2": "3824.99"}, "0.8499"),
    # 16 / 2000 x 100 = 0.8 -> 80%
    ("primary", 2000, {"key_teachers_county_level_or_above": 16}, "0.8"),
    # 2,124,999.99 / 1000 = 2124.99999 -> / 2500 = 0.849999996
    ("junior", 1000, {"equipment_value_yuan": "2124999.99"}, "0.8499"),
])
def test_missed_one_just_under_85_percent_fails(level, enrolment, facts, shown_ratio):
    r = verdict(level, enrolment, **facts)
    missed = [x for x in r.rule_results if x.status == IndicatorStatus.not_met]
    assert len(missed) == 1 and str(missed[0].ratio) == shown_ratio
    assert r.verdict == Verdict.failed
    assert "below the 85.00% allowed" in r.reasons[0]


def test_two_missed_fails_even_when_both_are_close():
    r = verdict(**AT_90["R1"], **AT_90["R5"])
    assert r.verdict == Verdict.failed and r.met_count == 5
    assert r.reasons == ["2 of 7 indicators not met (R1, R5); at most 1 may be"]


def test_government_and_quality_items_do_not_change_the_school_verdict():
    r = verdict(class_sizes=[60] * 25, has_charter=False, moral_education_rating="poor")
    assert r.verdict == Verdict.passed
    assert {f.code for f in r.failed_items} == {"B5", "C3.1", "C6"}


# --- missing facts: incomplete only while the verdict could still go either way ---------------

def score_without(*codes, **facts):
    return score_school(NATIONAL_2017, "primary", without(good_facts("primary", **facts), *codes))


def test_six_met_one_missing_is_incomplete():
    r = score_without("sports_area_m2")
    assert r.verdict == Verdict.incomplete
    assert r.reasons == ["R5 not assessed (missing fact: sports_area_m2)"]


def test_five_met_two_missing_is_incomplete():
    r = score_without("sports_area_m2", "equipment_value_yuan")
    assert r.verdict == Verdict.incomplete and r.met_count == 5


def test_five_met_one_close_miss_one_missing_is_incomplete():
    # Passes if the missing one is met, fails if not: cannot tell yet.
    r = score_without("sports_area_m2", **AT_90["R1"])
    assert r.verdict == Verdict.incomplete


def test_a_fatal_miss_fails_even_with_facts_missing():
    r = score_without("sports_area_m2", **AT_50["R2"])
    assert r.verdict == Verdict.failed


def test_two_misses_fail_even_with_facts_missing():
    r = score_without("sports_area_m2", "equipment_value_yuan", **AT_90["R1"], **AT_90["R3"])
    assert r.verdict == Verdict.failed


def test_missing_enrolment_leaves_everything_unassessed():
    r = score_school(NATIONAL_2017, "junior", without(good_facts("junior"), "enrolment"))
    assert r.verdict == Verdict.incomplete
    assert all(x.reason == "missing fact: enrolment" for x in r.rule_results)
    assert r.to_json_dict()["not_assessed_count"] == 7


# --- "n/a": never changes the count of seven (每所学校至少6项指标达到上述要求) -------------------

def test_na_for_an_r_fact_is_refused():
    with pytest.raises(InvalidFacts) as info:
        verdict(sports_area_m2="n/a")
    assert list(info.value.fields) == ["sports_area_m2"] and "not allowed" in info.value.fields["sports_area_m2"][0]


def test_na_where_a_template_allows_it_is_still_counted_as_unknown():
    # A template that (wrongly) let an R fact be n/a is refused; an indicator over an n/a-able fact still
    # counts: all seven R results are always counted.
    defn = copy.deepcopy(NATIONAL_2017)
    next(i for i in defn["items"] if i["code"] == "sports_area_m2")["na_allowed"] = True
    assert any("may be answered n/a" in e for e in validate_definition(defn))
    r = score_school(defn, "primary", good_facts("primary", sports_area_m2="n/a", **AT_90["R1"]))
    assert r.verdict == Verdict.incomplete and r.to_json_dict()["applicable_count"] == 6
    r = score_school(defn, "primary", good_facts("primary", sports_area_m2="n/a", **AT_90["R1"], **AT_90["R3"]))
    assert r.verdict == Verdict.failed and "2 of 7 indicators not met" in r.reasons[0]


def test_json_shape():
    out = verdict("junior", **AT_90["R3"]).to_json_dict()
    json.dumps(out)  # plain JSON: no Decimal, no enum objects
    assert {"level", "verdict", "indicators", "met_count", "government", "quality", "failed_items",
            "template"} <= set(out)
    assert (out["level"], out["verdict"], out["template"], out["met_count"]) == ("junior", "pass", "national-2017", 6)
    assert set(out["indicators"]) == {f"R{i}" for i in range(1, 8)}
    r3 = out["indicators"]["R3"]
    assert {"value", "threshold", "met", "ratio", "shortfall", "unit", "status", "reason"} <= set(r3)
    # 8 / 1000 x 100 = 0.8 per 100; 0.8 / 0.9 = 0.8888..; 0.9 x 10 = 9 -> 1 teacher short
    assert (r3["value"], r3["threshold"], r3["ratio"], r3["shortfall"], r3["status"]) == (0.8, 0.9, 0.8888, 1,
                                                                                          "not_met")
    assert isinstance(r3["value"], float) and isinstance(out["met_count"], int)
    assert set(out["government"]) == {"B3.1", "B3.2", "B3.3", "B3.4", "B4.1", "B4.2", "B5"}
    assert set(out["quality"]) == {"C3.1", "C3.2", "C4", "C5", "C6", "C7", "C8"}
    assert [f["code"] for f in out["failed_items"]] == ["R3"]
