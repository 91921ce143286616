"""The county rule: enrolment-weighted coefficient of variation per indicator, plus every school's verdict."""
from __future__ import annotations

import json
import math
import statistics
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from inspections.scoring.engine import InvalidFacts, county_cv, score_county
from inspections.scoring.enums import Verdict
from inspections.scoring.national import NATIONAL_2017
from tests.inspections.scoring.helpers import good_facts


def float_cv(pairs):
    """Independent float computation of the weighted CV, straight from the formula."""
    values = [float(x) for x, _ in pairs]
    weights = [float(p) for _, p in pairs]
    mean = statistics.fmean(values, weights)
    variance = statistics.fmean([(x - mean) ** 2 for x in values], weights)
    return math.sqrt(variance) / mean


def school(name, level="primary", enrolment=1000, **facts):
    return {"school": name, "facts": good_facts(level, enrolment, **facts)}


def test_cv_unequal_enrolments_by_hand():
    pairs = [(6, 500), (4, 1200), (3, 300)]
    # mean = (500x6 + 1200x4 + 300x3) / 2000 = 8700 / 2000 = 4.35
    # var = (500x1.65² + 1200x0.35² + 300x1.35²) / 2000 = (1361.25 + 147 + 546.75) / 2000 = 1.0275
    # CV = sqrt(1.0275) / 4.35 = 1.01365674.. / 4.35 = 0.23302453..
    cv = county_cv(pairs)
    assert abs(cv - Decimal(math.sqrt(1.0275) / 4.35)) < Decimal("1e-12")
    assert abs(float(cv) - float_cv(pairs)) < 1e-12
    assert str(cv)[:10] == "0.23302453"


def test_cv_one_school_and_all_equal_is_zero():
    assert county_cv([(Decimal("4.2"), 700)]) == 0
    assert county_cv([(Decimal("2.5"), 100), (Decimal("2.5"), 900), (Decimal("2.5"), 37)]) == 0


def test_cv_with_mean_zero_or_nothing_is_refused():
    with pytest.raises(ValueError):
        county_cv([(0, 100), (0, 200)])
    with pytest.raises(ValueError):
        county_cv([])
    with pytest.raises(ValueError):
        county_cv([(1, 0)])


def test_county_indicator_cv_matches_an_independent_computation():
    # R1 primary per 100: 60/1000 = 6.0, 48/1200 = 4.0, 15/500 = 3.0 -> Decimal vs float formula
    schools = [school("A", enrolment=1000, teachers_above_required_qualification=60),
               school("B", enrolment=1200, teachers_above_required_qualification=48),
               school("C", enrolment=500, teachers_above_required_qualification=15)]
    result = score_county(NATIONAL_2017, "primary", schools)
    r1 = result.indicators["R1"]
    expected = float_cv([(6.0, 1000), (4.0, 1200), (3.0, 500)])
    assert abs(float(r1.cv) - expected) < 1e-12
    assert r1.schools_counted == 3 and r1.met is True
    # mean = (6000 + 4800 + 1500) / 2700 = 4.5555.. -> 4.5556 (half up); CV shown rounded up
    out = result.to_json_dict()["indicators"]["R1"]
    assert out["mean"] == 4.5556
    assert out["cv"] == math.ceil(expected * 10000) / 10000
    assert out["limit"] == 0.5


def test_county_passes_when_every_school_passes_and_every_cv_is_within_limit():
    result = score_county(NATIONAL_2017, "junior", [school("A", "junior", 900), school("B", "junior", 1400)])
    out = result.to_json_dict()
    json.dumps(out)
    assert out["verdict"] == "pass" and out["reasons"] == []
    assert (out["schools_total"], out["schools_passing"], out["passing_schools"]) == (2, 2, ["A", "B"])
    assert out["schools"] == [{"school": "A", "verdict": "pass", "met_count": 7},
                              {"school": "B", "verdict": "pass", "met_count": 7}]
    assert set(out["indicators"]) == {f"R{i}" for i in range(1, 8)}
    assert {"mean", "cv", "limit", "met", "schools_counted"} <= set(out["indicators"]["R4"])
    assert out["indicators"]["R4"]["limit"] == 0.45


def test_cv_over_the_limit_fails_the_county():
    # R5 primary: 30 m²/student at 100 students, 9 at 1000 (both schools meet 7.5)
    # mean = (3000 + 9000) / 1100 = 10.9090..; S² = (100 x 19.0909² + 1000 x 1.9090²) / 1100 = 36.4462..
    # CV = 6.03707.. / 10.9090.. = 0.553398.. > 0.50, shown rounded up as 0.5534
    schools = [school("Big", enrolment=1000), school("Small", enrolment=100, sports_area_m2=3000)]
    result = score_county(NATIONAL_2017, "primary", schools)
    r5 = result.indicators["R5"]
    assert abs(float(r5.cv) - float_cv([(30, 100), (9, 1000)])) < 1e-12
    assert r5.met is False and float(r5.cv) > 0.5
    assert result.verdict == Verdict.failed
    assert result.reasons == ["R5: CV 0.5534 exceeds the limit 0.50"]
    assert result.to_json_dict()["schools_passing"] == 2


def test_a_failing_school_fails_the_county():
    schools = [school("Good"), school("Weak", key_teachers_county_level_or_above=5)]  # R2 at 50%
    result = score_county(NATIONAL_2017, "primary", schools)
    assert result.verdict == Verdict.failed
    assert any(r.startswith("Weak fails the school rule") for r in result.reasons)
    assert result.to_json_dict()["passing_schools"] == ["Good"]


def test_school_missing_a_fact_is_excluded_and_the_county_incomplete():
    incomplete = good_facts("primary")
    del incomplete["sports_area_m2"]
    result = score_county(NATIONAL_2017, "primary", [school("A"), school("B", enrolment=800),
                                                     {"school": "C", "facts": incomplete}])
    r5 = result.to_json_dict()["indicators"]["R5"]
    assert (r5["schools_counted"], r5["schools_excluded"]) == (2, 1)
    assert result.verdict == Verdict.incomplete
    assert "R5: 1 school(s) not assessed and left out of the CV: C" in result.reasons


def test_mean_zero_is_not_assessable():
    # Nobody has a key teacher: R2 = 0 everywhere, so the CV is undefined (and every school fails R2).
    schools = [school("A", key_teachers_county_level_or_above=0), school("B", key_teachers_county_level_or_above=0)]
    result = score_county(NATIONAL_2017, "primary", schools)
    r2 = result.indicators["R2"]
    assert (r2.cv, r2.met, r2.reason) == (None, None, "the mean is 0, so the CV cannot be assessed")
    assert "R2: the mean is 0, so the CV cannot be assessed" in result.reasons
    assert result.verdict == Verdict.failed


def test_one_school_county_has_cv_zero():
    result = score_county(NATIONAL_2017, "junior", [school("Only", "junior")])
    assert all(ind.cv == 0 and ind.met for ind in result.indicators.values())
    assert result.verdict == Verdict.passed


def test_no_schools_is_incomplete():
    result = score_county(NATIONAL_2017, "primary", [])
    assert result.verdict == Verdict.incomplete and "no schools to judge" in result.reasons


def test_invalid_facts_name_the_school():
    with pytest.raises(InvalidFacts) as info:
        score_county(NATIONAL_2017, "primary", [school("A"), {"school": "B", "facts": {"enrolment": -3}}])
    assert list(info.value.fields) == ["schools[1].facts.enrolment"]


# --- properties ----------------------------------------------------------------------------------

values = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False)
weights = st.integers(min_value=1, max_value=5000)
pairs_strategy = st.lists(st.tuples(values, weights), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(pairs=pairs_strategy, scale=st.decimals(min_value=Decimal("0.01"), max_value=1000, places=2))
def test_cv_does_not_change_when_every_value_is_scaled(pairs, scale):
    assume(scale > 0 and any(x > 0 for x, _ in pairs))
    scaled = [(x * scale, p) for x, p in pairs]
    assert abs(county_cv(pairs) - county_cv(scaled)) < Decimal("1e-30")


@settings(max_examples=200, deadline=None)
@given(value=st.decimals(min_value=Decimal("0.01"), max_value=100000, places=2),
       ws=st.lists(weights, min_size=1, max_size=30))
def test_cv_is_zero_when_all_schools_are_equal(value, ws):
    assert county_cv([(value, w) for w in ws]) == 0


@settings(max_examples=200, deadline=None)
@given(pairs=pairs_strategy)
def test_cv_agrees_with_the_float_formula(pairs):
    assume(any(x > 0 for x, _ in pairs))
    expected = float_cv(pairs)
    assert math.isclose(float(county_cv(pairs)), expected, rel_tol=1e-9, abs_tol=1e-12)
