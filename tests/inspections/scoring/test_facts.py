"""Field-level validation of the raw facts a visit records."""
from __future__ import annotations

import pytest

from inspections.errors import ValidationFailed
from inspections.scoring.engine import InvalidFacts, score_school, validate_facts
from inspections.scoring.national import NATIONAL_2017
from tests.inspections.scoring.helpers import good_facts


def errors(level="primary", **facts):
    return validate_facts(NATIONAL_2017, level, facts)


def test_good_facts_and_missing_facts_are_fine():
    assert validate_facts(NATIONAL_2017, "primary", good_facts("primary")) == {}
    assert validate_facts(NATIONAL_2017, "junior", {}) == {}
    assert errors(sports_area_m2=None) == {}


@pytest.mark.parametrize("value", [0, -5, 12.5, "abc", True, "n/a", [600], "0"])
def test_enrolment_must_be_a_positive_whole_number(value):
    assert list(errors(enrolment=value)) == ["enrolment"]


@pytest.mark.parametrize("value", [1, 600, "600", 600.0])
def test_enrolment_accepts_whole_numbers(value):
    assert errors(enrolment=value) == {}


@pytest.mark.parametrize("code,value,ok", [
    ("pe_art_teachers", 0, True), ("pe_art_teachers", -1, False), ("pe_art_teachers", 2.5, False),
    ("pe_art_teachers", "x", False), ("pe_art_teachers", False, False), ("pe_art_teachers", "n/a", False),
    ("multimedia_classrooms", "12", True),
    ("sports_area_m2", 0, True), ("sports_area_m2", "1234.56", True), ("sports_area_m2", -0.1, False),
    ("equipment_value_yuan", float("nan"), False), ("equipment_value_yuan", "NaN", False),
    ("equipment_value_yuan", {"yuan": 1}, False),
    ("has_charter", True, True), ("has_charter", "yes", False), ("has_charter", 1, False),
    ("has_charter", "n/a", False), ("class_sizes", "n/a", False), ("music_rooms_m2", "n/a", False),
    ("moral_education_rating", "excellent", True), ("moral_education_rating", "great", False),
    ("moral_education_rating", 1, False),
    ("class_sizes", [40, 45], True), ("class_sizes", [], False), ("class_sizes", [40, 0], False),
    ("class_sizes", [40, 41.5], False), ("class_sizes", "40", False), ("class_sizes", [40, True], False),
    ("music_rooms_m2", [], True), ("music_rooms_m2", [96.5, "100"], True), ("music_rooms_m2", [0], False),
    ("music_rooms_m2", [96, "x"], False), ("art_rooms_m2", 90, False),
])
def test_types_and_ranges(code, value, ok):
    found = errors(**{code: value})
    assert found == {} if ok else list(found) == [code]


def test_unknown_fact_is_named():
    found = errors(swimming_pools=2, enrolment=600)
    assert list(found) == ["swimming_pools"]
    assert "unknown fact" in found["swimming_pools"][0]


def test_all_problems_reported_together():
    found = errors(enrolment=0, pe_art_teachers=-1, has_charter="yes")
    assert set(found) == {"enrolment", "pe_art_teachers", "has_charter"}


def test_facts_must_be_an_object():
    assert validate_facts(NATIONAL_2017, "primary", [1, 2]) == {"facts": ["must be an object of fact code -> value"]}


def test_scoring_refuses_invalid_facts_with_field_errors():
    with pytest.raises(InvalidFacts) as info:
        score_school(NATIONAL_2017, "primary", good_facts("primary") | {"enrolment": 0})
    assert isinstance(info.value, ValidationFailed)  # the web layer maps it to 422
    assert list(info.value.fields) == ["enrolment"]


def test_unknown_level_is_refused():
    with pytest.raises(ValueError):
        score_school(NATIONAL_2017, "senior", good_facts("primary"))
