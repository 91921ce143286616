"""Each national indicator at both levels, against arithmetic done by hand."""
from __future__ import annotations

from decimal import Decimal

import pytest

from inspections.scoring.engine import score_school
from inspections.scoring.enums import IndicatorStatus
from inspections.scoring.national import NATIONAL_2017
from tests.inspections.scoring.helpers import good_facts

D = Decimal


def indicator(level, code, **facts):
    result = score_school(NATIONAL_2017, level, good_facts(level, **facts))
    return next(r for r in result.results if r.code == code)


# (level, code, overrides, value shown, met, ratio shown, shortfall); enrolment 800 throughout.
# Shown values are cut (not rounded) to 4 places for >= indicators; ratios likewise.
CASES = [
    # primary R1 >= 4.2: 30 / 800 x 100 = 3.75; 3.75 / 4.2 = 0.892857..; need 4.2 x 8 = 33.6 -> 34 - 30 = 4
    ("primary", "R1", {"teachers_above_required_qualification": 30}, "3.75", False, "0.8928", "4"),
    # primary R2 >= 1.0: 8 / 800 x 100 = 1.0 exactly at the threshold -> met, ratio 1
    ("primary", "R2", {"key_teachers_county_level_or_above": 8}, "1", True, "1", "0"),
    # primary R3 >= 0.9: 7 / 8 = 0.875; 0.875 / 0.9 = 0.97222..; need 7.2 -> 8 - 7 = 1
    ("primary", "R3", {"pe_art_teachers": 7}, "0.875", False, "0.9722", "1"),
    # primary R4 >= 4.5: 3500.5 / 800 = 4.375625 -> 4.3756; / 4.5 = 0.972361..; need 3600 - 3500.5 = 99.50 m²
    ("primary", "R4", {"teaching_aux_area_m2": 3500.5}, "4.3756", False, "0.9723", "99.50"),
    # primary R5 >= 7.5: 6000 / 800 = 7.5 exactly -> met
    ("primary", "R5", {"sports_area_m2": 6000}, "7.5", True, "1", "0"),
    # primary R6 >= 2000: 1234567.89 / 800 = 1543.2098625 -> 1543.2098; / 2000 = 0.771604..;
    # need 1,600,000 - 1,234,567.89 = 365,432.11 yuan
    ("primary", "R6", {"equipment_value_yuan": 1234567.89}, "1543.2098", False, "0.7716", "365432.11"),
    # primary R7 >= 2.3: 18 / 8 = 2.25; / 2.3 = 0.978260..; need 18.4 -> 19 - 18 = 1 room
    ("primary", "R7", {"multimedia_classrooms": 18}, "2.25", False, "0.9782", "1"),
    # junior R1 >= 5.3: 43 / 8 = 5.375; / 5.3 = 1.014150.. -> met
    ("junior", "R1", {"teachers_above_required_qualification": 43}, "5.375", True, "1.0141", "0"),
    # junior R1 >= 5.3: 42 / 8 = 5.25; / 5.3 = 0.990566..; need 42.4 -> 43 - 42 = 1
    ("junior", "R1", {"teachers_above_required_qualification": 42}, "5.25", False, "0.9905", "1"),
    # junior R2 >= 1.0: 7 / 8 = 0.875; need 8 - 7 = 1
    ("junior", "R2", {"key_teachers_county_level_or_above": 7}, "0.875", False, "0.875", "1"),
    # junior R3 >= 0.9: 8 / 8 = 1.0; / 0.9 = 1.1111..
    ("junior", "R3", {"pe_art_teachers": 8}, "1", True, "1.1111", "0"),
    # junior R4 >= 5.8: 4640 / 800 = 5.8 exactly -> met
    ("junior", "R4", {"teaching_aux_area_m2": 4640}, "5.8", True, "1", "0"),
    # junior R5 >= 10.2: 8000 / 800 = 10.0; / 10.2 = 0.980392..; need 8160 - 8000 = 160 m²
    ("junior", "R5", {"sports_area_m2": 8000}, "10", False, "0.9803", "160.00"),
    # junior R6 >= 2500: 1,999,999.99 / 800 = 2499.9999875, shown cut to 2499.9999 (never as 2500);
    # need 2,000,000 - 1,999,999.99 = 0.01 yuan
    ("junior", "R6", {"equipment_value_yuan": "1999999.99"}, "2499.9999", False, "0.9999", "0.01"),
    # junior R7 >= 2.4: 19 / 8 = 2.375; / 2.4 = 0.989583..; need 19.2 -> 20 - 19 = 1
    ("junior", "R7", {"multimedia_classrooms": 19}, "2.375", False, "0.9895", "1"),
]


@pytest.mark.parametrize("level,code,overrides,value,met,ratio,shortfall", CASES)
def test_resource_indicators_by_hand(level, code, overrides, value, met, ratio, shortfall):
    r = indicator(level, code, enrolment=800, **overrides)
    assert r.value == D(value)
    assert r.met is met
    assert r.status == (IndicatorStatus.met if met else IndicatorStatus.not_met)
    assert r.ratio == D(ratio)
    assert r.shortfall == D(shortfall)


@pytest.mark.parametrize("level,code,threshold_count", [
    ("primary", "R1", 42), ("junior", "R1", 53),   # 4.2 and 5.3 per 100 of 1000
    ("primary", "R7", 23), ("junior", "R7", 24),   # 2.3 and 2.4 per 100 of 1000
])
def test_exactly_at_threshold_is_met_and_one_below_is_not(level, code, threshold_count):
    fact = {"R1": "teachers_above_required_qualification", "R7": "multimedia_classrooms"}[code]
    at = indicator(level, code, **{fact: threshold_count})
    below = indicator(level, code, **{fact: threshold_count - 1})
    assert (at.met, at.ratio, at.shortfall) == (True, 1, 0)
    assert (below.met, below.shortfall) == (False, 1)


def test_shortfall_example_600_students_4_pe_art_teachers():
    # 0.9 per 100 of 600 -> 5.4 teachers required -> 6 whole teachers - 4 present = 2
    r = indicator("primary", "R3", enrolment=600, pe_art_teachers=4)
    assert r.status == IndicatorStatus.not_met
    assert r.shortfall == 2 and r.shortfall_unit == "teachers"
    assert r.value == D("0.6666")  # 0.6666.. cut, never shown rounded up


def test_per_student_shortfall_in_square_metres_and_yuan():
    # R4 junior: 5.8 x 1000 = 5800 m² required, 5000.25 present -> 799.75 m²
    r4 = indicator("junior", "R4", teaching_aux_area_m2="5000.25")
    assert (r4.shortfall, r4.shortfall_unit) == (D("799.75"), "m2")
    # R6 primary: 2000 x 1000 = 2,000,000 yuan required, 1,880,000.005 present -> 119,999.995 -> up to the cent
    r6 = indicator("primary", "R6", equipment_value_yuan="1880000.005")
    assert (r6.shortfall, r6.shortfall_unit) == (D("120000.00"), "yuan")


@pytest.mark.parametrize("level,sizes,classes_over,students_over,max_size", [
    ("primary", [44, 45, 46, 50], 2, 6, 50),   # cap 45: 46 (+1) and 50 (+5)
    ("junior", [45, 50, 51], 1, 1, 51),        # cap 50: 51 (+1)
    ("primary", [45, 45], 0, 0, 45),           # at the cap is allowed
])
def test_class_size_counts_classes_and_students_over_the_cap(level, sizes, classes_over, students_over, max_size):
    r = indicator(level, "B5", class_sizes=sizes, music_rooms_m2=[100], art_rooms_m2=[95])
    assert r.value == max_size
    assert r.met is (classes_over == 0)
    assert r.shortfall == classes_over and r.shortfall_unit == "classes"
    if classes_over:
        assert r.detail == {"failing": classes_over, "gap": students_over, "gap_unit": "students"}


@pytest.mark.parametrize("classes,rooms,met,shortfall,value", [
    (24, 2, True, 0, "1"),          # 24 classes -> ceil(24/12) = 2 rooms needed
    (25, 2, False, 1, "0.6666"),    # 25 classes -> 3 needed; 2/3 cut to 4 places
    (30, 1, False, 2, "0.3333"),    # 30 classes -> 3 needed; 1 present
    (12, 1, True, 0, "1"),
    (5, 0, False, 1, "0"),          # any class at all needs a room
])
def test_rooms_per_12_classes(classes, rooms, met, shortfall, value):
    r = indicator("primary", "B3.1", class_sizes=[40] * classes, music_rooms_m2=[100] * rooms)
    assert (r.met, r.shortfall, r.value, r.shortfall_unit) == (met, shortfall, D(value), "rooms")


def test_every_room_must_reach_its_size():
    # music >= 96: rooms 96 (ok), 95.5 (-0.5) and 90 (-6) -> 2 rooms short by 6.5 m² in all
    r = indicator("primary", "B3.3", music_rooms_m2=[96, 95.5, 90], class_sizes=[40] * 30)
    assert (r.met, r.value, r.shortfall) == (False, 90, 2)
    assert r.detail == {"failing": 2, "gap": D("6.5"), "gap_unit": "m2"}
    art = indicator("junior", "B3.4", art_rooms_m2=[90, 91], class_sizes=[40] * 13)
    assert (art.met, art.shortfall) == (True, 0)


def test_no_rooms_at_all_fails_the_count_and_skips_the_size_check():
    result = score_school(NATIONAL_2017, "primary", good_facts("primary", music_rooms_m2=[]))
    gov = result.section("B")
    assert gov["B3.1"].status == IndicatorStatus.not_met
    assert gov["B3.3"].status == IndicatorStatus.not_applicable and "empty" in gov["B3.3"].reason


@pytest.mark.parametrize("level", ["primary", "junior"])
def test_school_size_and_combined_schools(level):
    # Per-100 facts stay fixed so only size changes; 2000 is allowed, 2001 is 1 over.
    assert indicator(level, "B4.1", enrolment=2000).met is True
    over = indicator(level, "B4.1", enrolment=2001)
    assert (over.met, over.shortfall, over.shortfall_unit) == (False, 1, "students")
    # A nine-year school is judged on its whole compulsory stage against 2500 instead.
    combined = score_school(NATIONAL_2017, level, good_facts(level, enrolment=1500, combined_school=True,
                                                             compulsory_enrolment=2600)).section("B")
    assert combined["B4.1"].status == IndicatorStatus.not_applicable
    assert "combined_school=true" in combined["B4.1"].reason
    assert (combined["B4.2"].met, combined["B4.2"].shortfall) == (False, 100)
    single = score_school(NATIONAL_2017, level, good_facts(level)).section("B")
    assert single["B4.2"].status == IndicatorStatus.not_applicable and single["B4.1"].met is True


def test_combined_school_without_its_compulsory_total_is_not_assessed():
    gov = score_school(NATIONAL_2017, "junior", good_facts("junior", combined_school=True)).section("B")
    assert gov["B4.2"].status == IndicatorStatus.not_assessed
    assert gov["B4.2"].reason == "missing fact: compulsory_enrolment"


@pytest.mark.parametrize("training,met,shortfall,value", [
    (5000, True, "0", "5"),              # 5000 / 100000 = 5% exactly
    ("4999.99", False, "0.01", "4.9999"),  # 4.99999% cut; 5% of 100000 = 5000 -> 0.01 yuan short
    (3000, False, "2000.00", "3"),
])
def test_training_budget_share(training, met, shortfall, value):
    r = indicator("primary", "C4", training_budget_yuan=training, public_funds_budget_yuan=100000)
    assert (r.met, r.shortfall, r.value, r.shortfall_unit) == (met, D(shortfall), D(value), "yuan")


def test_training_budget_share_of_a_zero_budget_cannot_be_computed():
    r = indicator("primary", "C4", training_budget_yuan=0, public_funds_budget_yuan=0)
    assert r.status == IndicatorStatus.not_assessed and "0" in r.reason


@pytest.mark.parametrize("rating,met", [("excellent", True), ("good", True), ("fair", False), ("poor", False)])
def test_moral_education_good_or_better(rating, met):
    r = indicator("junior", "C6", moral_education_rating=rating)
    assert r.met is met and r.shortfall is None and r.ratio is None


@pytest.mark.parametrize("code,fact", [("C3.1", "has_charter"), ("C3.2", "it_in_management_and_teaching"),
                                       ("C7", "full_curriculum"), ("C8", "no_excessive_homework")])
def test_yes_no_quality_checks(code, fact):
    assert indicator("primary", code, **{fact: True}).met is True
    no = indicator("primary", code, **{fact: False})
    assert (no.met, no.status, no.value, no.threshold) == (False, IndicatorStatus.not_met, False, True)


def test_failed_items_list_every_unmet_item_for_tickets():
    facts = good_facts("primary", enrolment=600, pe_art_teachers=4, class_sizes=[40] * 14 + [47],
                       has_charter=False)
    result = score_school(NATIONAL_2017, "primary", facts)
    failed = {f["code"]: f for f in result.to_json_dict()["failed_items"]}
    assert set(failed) == {"R3", "B5", "C3.1"}
    assert failed["R3"] == {
        "code": "R3", "section": "A", "name": failed["R3"]["name"], "value": 0.6666, "threshold": 0.9,
        "comparator": "ge", "shortfall": 2, "unit": "per_100_students", "shortfall_unit": "teachers",
        "severity": "high", "detail": None}
    assert failed["B5"]["shortfall"] == 1 and failed["B5"]["detail"]["gap"] == 2  # one class, 47 - 45
    assert failed["C3.1"]["shortfall"] is None and failed["C3.1"]["severity"] == "medium"
