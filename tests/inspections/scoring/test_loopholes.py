"""Issue 17's loopholes, each kept as an input with the standard's answer (engine level)."""
from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from inspections.scoring.engine import InvalidFacts, score_county, score_school
from inspections.scoring.enums import IndicatorStatus, Verdict
from inspections.scoring.national import NATIONAL_2017
from inspections.scoring.overlay import apply_overlay
from inspections.scoring.definition import DefinitionError, validate_definition
from tests.factories import GOOD_PRIMARY
from tests.inspections.scoring.helpers import good_facts

# GOOD_PRIMARY (600 pupils) with every B and C fact good as well.
GOOD = {**good_facts("primary", 600), **GOOD_PRIMARY}


# --- 1. "n/a" never buys a pass -----------------------------------------------------------------

def test_na_sports_area_with_r7_at_94_percent_is_refused():
    facts = {**GOOD, "sports_area_m2": "n/a", "multimedia_classrooms": 13}
    with pytest.raises(InvalidFacts) as info:
        score_school(NATIONAL_2017, "primary", facts)
    assert list(info.value.fields) == ["sports_area_m2"]
    # Answered, the school is judged on all seven: R7 the one tolerated miss at 94.20%.
    r = score_school(NATIONAL_2017, "primary", {**facts, "sports_area_m2": 5000})
    assert r.verdict == Verdict.passed and r.to_json_dict()["applicable_count"] == 7
    assert r.reasons == ["R7 missed at 94.20% of its threshold (allowed)"]


def test_three_na_indicators_are_refused_by_name():
    facts = {**GOOD, "teaching_aux_area_m2": "n/a", "sports_area_m2": "n/a", "equipment_value_yuan": "n/a"}
    with pytest.raises(InvalidFacts) as info:
        score_school(NATIONAL_2017, "primary", facts)
    assert set(info.value.fields) == {"teaching_aux_area_m2", "sports_area_m2", "equipment_value_yuan"}


@pytest.mark.parametrize("code", ["class_sizes", "music_rooms_m2", "art_rooms_m2", "enrolment"])
def test_na_cannot_hide_a_class_or_a_missing_room(code):
    with pytest.raises(InvalidFacts) as info:
        score_school(NATIONAL_2017, "primary", {**GOOD, code: "n/a"})
    assert list(info.value.fields) == [code]


def test_a_template_may_not_let_a_list_item_be_na():
    bad = copy.deepcopy(NATIONAL_2017)
    next(i for i in bad["items"] if i["code"] == "class_sizes")["na_allowed"] = True
    assert any(e.startswith("items[class_sizes].na_allowed") for e in validate_definition(bad))


def test_county_with_a_school_marking_r5_na_is_refused_naming_the_school():
    schools = [{"school": "A", "facts": GOOD}, {"school": "B", "facts": {**GOOD, "sports_area_m2": "n/a"}}]
    with pytest.raises(InvalidFacts) as info:
        score_county(NATIONAL_2017, "primary", schools)
    assert list(info.value.fields) == ["schools[1].facts.sports_area_m2"]


def test_county_never_silently_leaves_a_school_out_of_the_cv():
    no_r5 = {k: v for k, v in GOOD.items() if k != "sports_area_m2"}
    result = score_county(NATIONAL_2017, "primary", [{"school": "A", "facts": GOOD}, {"school": "B", "facts": no_r5}])
    assert result.verdict == Verdict.incomplete
    assert result.to_json_dict()["indicators"]["R5"]["schools_left_out"] == ["B"]
    assert "R5: 1 school(s) not assessed and left out of the CV: B" in result.reasons


# --- 2. an overlay cannot switch a national check off --------------------------------------------

def test_overlay_disabling_r5_and_sports_area_is_refused_naming_both():
    with pytest.raises(DefinitionError) as info:
        apply_overlay(NATIONAL_2017, {"code": "county-x", "disable": ["R5", "sports_area_m2"]})
    assert set(info.value.fields) == {"disable[0]", "disable[1]"}
    assert "R5" in info.value.fields["disable[0]"][0] and "sports_area_m2" in info.value.fields["disable[1]"][0]


# --- 3. the county verdict includes B3-B5 for every school ---------------------------------------

def test_a_46_pupil_class_and_a_school_without_music_room_fail_the_county():
    schools = [{"school": "A", "facts": {**GOOD, "class_sizes": [40] * 14 + [46]}},
               {"school": "B", "facts": {**GOOD, "music_rooms_m2": []}}]
    result = score_county(NATIONAL_2017, "primary", schools)
    assert [r.verdict for _, r in result.schools] == [Verdict.passed, Verdict.passed]
    assert all(ind.met for ind in result.indicators.values())
    assert result.verdict == Verdict.failed
    assert any(r.startswith("A: B5 ") and "46" in r and "45" in r for r in result.reasons), result.reasons
    assert any(r.startswith("B: B3.1 ") and "short by 2 rooms" in r for r in result.reasons), result.reasons
    assert len(result.reasons) == 2


def test_an_unanswered_class_size_keeps_the_county_open():
    no_classes = {k: v for k, v in GOOD.items() if k != "class_sizes"}
    result = score_county(NATIONAL_2017, "primary", [{"school": "A", "facts": no_classes}])
    assert result.verdict == Verdict.incomplete
    assert any(r.startswith("A: B5 not assessed") for r in result.reasons)


# --- 4. teaching points and special-education schools ---------------------------------------------

POOR = {**good_facts("primary", 49), "teachers_above_required_qualification": 1, "sports_area_m2": 50,
        "equipment_value_yuan": 10000, "multimedia_classrooms": 0}


def test_a_teaching_point_of_49_pupils_is_not_judged_on_r1_r7():
    r = score_school(NATIONAL_2017, "primary", POOR, school_type="teaching_point")
    assert r.verdict == Verdict.exempt and "49" in r.reasons[0]
    assert all(x.status == IndicatorStatus.not_applicable for x in r.rule_results)
    assert not [x for x in r.failed_items if x.school_rule]
    # The same facts as an ordinary school fail it; a teaching point of 50 is judged like any school.
    assert score_school(NATIONAL_2017, "primary", POOR).verdict == Verdict.failed
    assert score_school(NATIONAL_2017, "primary", {**POOR, "enrolment": 50},
                        school_type="teaching_point").verdict == Verdict.failed


def test_teaching_point_and_special_school_are_left_out_of_the_county():
    schools = [{"school": "A", "facts": GOOD}, {"school": "B", "facts": good_facts("primary", 900)},
               {"school": "TP", "facts": POOR, "school_type": "teaching_point"},
               {"school": "SE", "facts": {**POOR, "enrolment": 120}, "school_type": "special_education"}]
    result = score_county(NATIONAL_2017, "primary", schools)
    out = result.to_json_dict()
    assert result.verdict == Verdict.passed, result.reasons
    assert out["exempt_schools"] == ["TP", "SE"] and out["schools_total"] == 2
    assert all(ind["schools_counted"] == 2 and ind["schools_left_out"] == [] for ind in out["indicators"].values())
    # Judged as ordinary schools they would sink the county.
    ordinary = [{k: v for k, v in s.items() if k != "school_type"} for s in schools]
    assert score_county(NATIONAL_2017, "primary", ordinary).verdict == Verdict.failed


def test_an_unknown_school_type_is_refused():
    with pytest.raises(InvalidFacts) as info:
        score_county(NATIONAL_2017, "primary", [{"school": "A", "facts": GOOD, "school_type": "village"}])
    assert list(info.value.fields) == ["schools[0].school_type"]


# --- 5. nine-year schools: rooms counted once against all classes, one size finding ---------------

def _nine_year(primary_classes=13, junior_classes=11, compulsory=2000):
    primary = {**good_facts("primary", 13 * 40), "class_sizes": [40] * primary_classes,
               "music_rooms_m2": [100, 100], "art_rooms_m2": [95, 95], "combined_school": True,
               "compulsory_enrolment": compulsory}
    junior = {**good_facts("junior", 11 * 45), "class_sizes": [45] * junior_classes,
              "music_rooms_m2": [], "art_rooms_m2": [], "combined_school": True, "compulsory_enrolment": compulsory}
    whole = {**primary, "class_sizes": primary["class_sizes"] + junior["class_sizes"]}
    p = score_school(NATIONAL_2017, "primary", primary, whole_school=whole)
    j = score_school(NATIONAL_2017, "junior", junior, judged_in="primary")
    return p, j


def test_nine_year_school_rooms_serve_all_24_classes():
    p, j = _nine_year()
    gov = p.section("B")
    assert (gov["B3.1"].met, gov["B3.1"].value, gov["B3.2"].met) == (True, Decimal(1), True)
    assert not p.failed_items and not j.failed_items
    assert j.section("B")["B3.1"].status == IndicatorStatus.not_applicable
    assert "primary section" in j.section("B")["B3.1"].reason
    # 25 classes need 3 rooms of each: one shortfall each, raised once.
    p, j = _nine_year(primary_classes=14)
    assert [(f.code, f.shortfall) for f in p.failed_items] == [("B3.1", 1), ("B3.2", 1)]
    assert not j.failed_items


def test_nine_year_school_over_2500_gets_one_size_finding():
    p, j = _nine_year(compulsory=2600)
    assert [(f.code, f.shortfall) for f in p.failed_items + j.failed_items] == [("B4.2", 100)]
