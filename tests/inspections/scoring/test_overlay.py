"""Local templates: overlays may tighten and add, never switch off or loosen."""
from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from inspections.scoring.definition import DefinitionError, validate_definition
from inspections.scoring.engine import score_school, validate_facts
from inspections.scoring.enums import IndicatorStatus, Verdict
from inspections.scoring.national import NATIONAL_2017
from inspections.scoring.overlay import apply_overlay, weakening_problems
from tests.inspections.scoring.helpers import good_facts

HELP = {"zh": "说明", "en": "help"}


def overlay(**changes):
    return {"code": "city-x-2020", "name": {"zh": "某市", "en": "City X"}, "parent": "national-2017", **changes}


def rejected(**changes) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        apply_overlay(NATIONAL_2017, overlay(**changes))
    return info.value


def result_of(defn, level="primary", **facts):
    return score_school(defn, level, good_facts(level, **facts))


def test_tightening_a_threshold_changes_the_verdict_for_a_school_near_it():
    # R1 at 43 / 1000 x 100 = 4.3 (national 4.2: met) and R3 missed at 0.8 / 0.9 = 88.9% (tolerated)
    facts = {"teachers_above_required_qualification": 43, "pe_art_teachers": 8}
    assert result_of(NATIONAL_2017, **facts).verdict == Verdict.passed
    city = apply_overlay(NATIONAL_2017, overlay(set_thresholds={"R1": {"primary": "4.5"}}))
    tightened = result_of(city, **facts)
    r1 = tightened.section("A")["R1"]
    # 4.3 / 4.5 = 0.9555..; 4.5 x 10 = 45 teachers -> 2 short; now two misses -> fail
    assert (r1.threshold, r1.met, r1.shortfall) == (Decimal("4.5"), False, 2)
    assert tightened.verdict == Verdict.failed
    # junior threshold untouched
    assert city["indicators"][0]["threshold"] == {"primary": "4.5", "junior": "5.3"}
    assert tightened.template == "city-x-2020"


def test_loosening_a_minimum_is_rejected():
    err = rejected(set_thresholds={"R1": {"primary": "4.0"}})
    assert list(err.fields) == ["set_thresholds.R1.primary"]
    assert "loosen" in err.fields["set_thresholds.R1.primary"][0]


def test_loosening_a_maximum_is_rejected_and_tightening_it_works():
    err = rejected(set_thresholds={"B5": {"junior": "55"}})
    assert "loosen" in err.errors[0] and err.errors[0].startswith("set_thresholds.B5.junior")
    city = apply_overlay(NATIONAL_2017, overlay(set_thresholds={"B5": "40"}))  # one value for both levels
    b5 = result_of(city, "junior", class_sizes=[42, 38]).section("B")["B5"]
    assert (b5.met, b5.threshold, b5.shortfall) == (False, Decimal("40"), 1)


def test_threshold_equal_to_the_parent_is_allowed():
    city = apply_overlay(NATIONAL_2017, overlay(set_thresholds={"R6": {"junior": "2500.00"}}))
    assert validate_definition(city) == []


@pytest.mark.parametrize("changes,path", [
    ({"set_thresholds": {"R9": {"primary": "1"}}}, "set_thresholds.R9"),
    ({"set_thresholds": {"R1": {"senior": "6"}}}, "set_thresholds.R1.senior"),
    ({"set_thresholds": {"R1": {"primary": 4.5}}}, "set_thresholds.R1.primary"),  # floats are refused
    ({"set_thresholds": {"C8": False}}, "set_thresholds.C8.primary"),
    ({"disable": ["C9"]}, "disable[0]"),
    ({"add_items": [{"code": "enrolment", "kind": "integer", "section": "A", "levels": ["primary"],
                     "help": HELP}]}, "add_items[0].code"),
    ({"set_rule": {}}, "set_rule"),
    ({"parent": "national-2030"}, "parent"),
    ({"set_rules": {"county": {"cv_limit": {"junior": "0.5"}}}}, "set_rules.county.cv_limit.junior"),
    ({"set_rules": {"school": {"min_ratio_not_met": "0.8"}}}, "set_rules.school.min_ratio_not_met"),
    ({"set_rules": {"school": {"max_not_met": 2}}}, "set_rules.school.max_not_met"),
])
def test_unknown_codes_and_loosening_rules_are_rejected(changes, path):
    assert path in rejected(**changes).fields


@pytest.mark.parametrize("code", ["C8", "R5", "sports_area_m2", "no_excessive_homework"])
def test_an_overlay_may_not_switch_off_a_parent_item_or_indicator(code):
    before = copy.deepcopy(NATIONAL_2017)
    err = rejected(disable=[code])
    assert list(err.fields) == ["disable[0]"] and code in err.fields["disable[0]"][0]
    assert "never switch" in err.fields["disable[0]"][0] or "never switch it off" in err.fields["disable[0]"][0]
    assert NATIONAL_2017 == before  # the parent is copied, never changed


def test_a_resolved_definition_weaker_than_its_parent_is_named():
    # What a hand-edited or old draft could hold: R5 switched off, sports_area_m2 dropped, B5 loosened.
    weak = copy.deepcopy(NATIONAL_2017)
    weak["code"] = "county-x"
    next(i for i in weak["indicators"] if i["code"] == "R5")["enabled"] = False
    weak["items"] = [i for i in weak["items"] if i["code"] != "sports_area_m2"]
    next(i for i in weak["indicators"] if i["code"] == "B5")["threshold"] = {"primary": "50", "junior": "50"}
    next(i for i in weak["indicators"] if i["code"] == "B3.1")["every_school"] = False
    weak["rules"]["county"]["cv_limit"]["junior"] = "0.50"
    paths = {path for path, _ in weakening_problems(NATIONAL_2017, weak)}
    assert paths == {"indicators[R5]", "items[sports_area_m2]", "indicators[B5].threshold.primary",
                     "indicators[B3.1].every_school", "rules.county.cv_limit.junior"}
    assert weakening_problems(NATIONAL_2017, apply_overlay(NATIONAL_2017, overlay(
        set_thresholds={"B5": "40"}))) == []


def test_added_item_and_indicator_are_scored_baoshan_homework():
    baoshan = apply_overlay(NATIONAL_2017, overlay(
        code="baoshan-2019",
        add_items=[{"code": "homework_minutes_daily", "kind": "integer", "unit": "minutes", "section": "C",
                    "levels": ["primary", "junior"], "photo_required": False, "enabled": True,
                    "help": {"zh": "每日书面作业时间（分钟）", "en": "Daily written homework (minutes)"}}],
        add_indicators=[{"code": "BS-HW", "name": {"zh": "作业时间", "en": "Homework time"}, "section": "C",
                         "levels": ["primary", "junior"], "expr": {"op": "fact", "fact": "homework_minutes_daily"},
                         "comparator": "le", "threshold": {"primary": "60", "junior": "90"}, "unit": "minutes",
                         "shortfall": {"unit": "minutes", "round": "whole"}, "severity": "medium", "weight": "1",
                         "enabled": True, "school_rule": False}]))
    # 75 minutes: 15 over the primary limit of 60, within the junior 90
    primary = result_of(baoshan, "primary", homework_minutes_daily=75).section("C")["BS-HW"]
    assert (primary.met, primary.shortfall, primary.shortfall_unit) == (False, 15, "minutes")
    assert result_of(baoshan, "junior", homework_minutes_daily=75).section("C")["BS-HW"].met is True
    missing = result_of(baoshan, "junior").section("C")["BS-HW"]
    assert missing.status == IndicatorStatus.not_assessed
    assert result_of(baoshan, "primary", homework_minutes_daily=75).verdict == Verdict.passed  # not a school-rule item


RURAL = {"code": "rural", "kind": "boolean", "unit": "", "section": "C", "levels": ["primary", "junior"],
         "help": {"zh": "是否农村学校", "en": "Is this a rural school?"}}
RURAL_TRAINING = {
    "code": "CS-C4R", "name": {"zh": "农村学校培训经费不低于8%", "en": "Rural school training budget at least 8%"},
    "section": "C", "levels": ["primary", "junior"],
    "expr": {"op": "percent", "num": {"op": "fact", "fact": "training_budget_yuan"},
             "den": {"op": "fact", "fact": "public_funds_budget_yuan"}},
    "applies_if": {"op": "fact", "fact": "rural", "default": False},
    "comparator": "ge", "threshold": "8", "unit": "percent", "shortfall": {"unit": "yuan", "round": "cent"},
    "severity": "medium", "weight": "1", "school_rule": False}
CLASS_CAP_INTERIM = {
    "code": "CS-B5-2018", "name": {"zh": "2018年过渡班额", "en": "Interim class-size cap (2018)"}, "section": "B",
    "levels": ["junior"], "expr": {"op": "max_of", "fact": "class_sizes"}, "comparator": "le", "threshold": "55",
    "unit": "students", "shortfall": {"unit": "classes", "round": "whole"}, "severity": "high", "school_rule": False}


def test_changsha_rural_training_budget_and_interim_class_cap():
    changsha = apply_overlay(NATIONAL_2017, overlay(code="changsha-2018", add_items=[RURAL],
                                                    add_indicators=[RURAL_TRAINING, CLASS_CAP_INTERIM]))
    # 6000 / 100000 = 6%: meets the national 5%; a rural school needs 8% -> 8000 - 6000 = 2000 yuan short
    urban = result_of(changsha, "junior", rural=False).section("C")
    assert urban["C4"].met is True and urban["CS-C4R"].status == IndicatorStatus.not_applicable
    unanswered = result_of(changsha, "junior").section("C")["CS-C4R"]
    assert unanswered.status == IndicatorStatus.not_applicable  # rural defaults to false
    rural = result_of(changsha, "junior", rural=True).section("C")["CS-C4R"]
    assert (rural.met, rural.shortfall, rural.shortfall_unit) == (False, Decimal("2000.00"), "yuan")
    # An added interim cap may be looser than the national one: it is an extra target, not a change to B5.
    gov = result_of(changsha, "junior", class_sizes=[52, 56, 58]).section("B")
    assert (gov["B5"].shortfall, gov["CS-B5-2018"].shortfall) == (3, 2)
    assert "CS-B5-2018" not in result_of(changsha, "primary").section("B")


def test_added_indicator_with_an_unknown_fact_is_rejected():
    bad = dict(RURAL_TRAINING, applies_if={"op": "fact", "fact": "is_rural"})
    err = rejected(add_indicators=[bad])
    assert "indicators[CS-C4R].applies_if.fact" in err.fields


def test_a_county_overlay_on_a_city_overlay_cannot_undercut_the_city():
    city = apply_overlay(NATIONAL_2017, overlay(set_thresholds={"R4": {"primary": "5.0"}}))
    with pytest.raises(DefinitionError) as info:
        apply_overlay(city, {"code": "county-y", "parent": "city-x-2020", "set_thresholds": {"R4": {"primary": "4.8"}}})
    assert "5.0" in info.value.fields["set_thresholds.R4.primary"][0]
    county = apply_overlay(city, {"code": "county-y", "set_thresholds": {"R4": {"primary": "5.2"}}})
    assert county["parent"] == "city-x-2020" and validate_definition(county) == []


def test_tightening_rules():
    strict = apply_overlay(NATIONAL_2017, overlay(set_rules={"school": {"min_ratio_not_met": "0.9"},
                                                             "county": {"cv_limit": {"primary": "0.40"}}}))
    # R3 at 0.8 / 0.9 = 88.9%: tolerated nationally, not under a 90% floor
    assert result_of(NATIONAL_2017, pe_art_teachers=8).verdict == Verdict.passed
    assert result_of(strict, pe_art_teachers=8).verdict == Verdict.failed
    assert strict["rules"]["county"]["cv_limit"] == {"primary": "0.40", "junior": "0.45"}


def test_county_items_are_tightened_never_dropped_or_loosened():
    baoshan = apply_overlay(NATIONAL_2017, overlay(set_thresholds={"C1": "99.5"}))
    c1 = next(i for i in baoshan["county"]["indicators"] if i["code"] == "C1")
    assert c1["threshold"] == {"junior": "99.5"}
    err = rejected(set_thresholds={"C1": "90"})
    assert "loosen" in err.fields["set_thresholds.C1.junior"][0]
    weak = copy.deepcopy(NATIONAL_2017)
    weak["county"]["indicators"] = [i for i in weak["county"]["indicators"] if i["code"] != "B8"]
    weak["county"]["survey"] = {"groups": ["students"], "min_percent": "80"}
    paths = {path for path, _ in weakening_problems(NATIONAL_2017, weak)}
    assert paths == {"county.indicators[B8]", "county.survey.groups", "county.survey.min_percent"}


AFTER_SCHOOL = {"code": "after_school_end", "kind": "time_of_day", "unit": "", "section": "C",
                "levels": ["primary", "junior"],
                "help": {"zh": "课后服务结束时间（24小时制，如17:30）", "en": "When after-school service ends (HH:MM)"}}


def _after_school_indicator(code, comparator, threshold, zh, en):
    return {"code": code, "name": {"zh": zh, "en": en}, "section": "C", "levels": ["primary", "junior"],
            "expr": {"op": "fact", "fact": "after_school_end"}, "comparator": comparator, "threshold": threshold,
            "unit": "time_of_day", "shortfall": None, "severity": "medium", "school_rule": False}


def test_baoshan_after_school_service_ends_between_1730_and_1800():
    baoshan = apply_overlay(NATIONAL_2017, overlay(code="baoshan-2019", add_items=[AFTER_SCHOOL], add_indicators=[
        _after_school_indicator("BS-AS1", "ge", "17:30", "课后服务结束时间不早于17:30", "Ends no earlier than 17:30"),
        _after_school_indicator("BS-AS2", "le", "18:00", "课后服务结束时间不晚于18:00", "Ends no later than 18:00")]))
    assert validate_definition(baoshan) == []

    def statuses(end):
        c = result_of(baoshan, after_school_end=end).section("C")
        return c["BS-AS1"].met, c["BS-AS2"].met

    assert statuses("17:30") == (True, True) and statuses("18:00") == (True, True)
    assert statuses("17:00") == (False, True) and statuses("18:15") == (True, False)
    for bad in ("5:30pm", "24:00", "17:60", 1730):
        assert list(validate_facts(baoshan, "primary", {"after_school_end": bad})) == ["after_school_end"]
    err = rejected(add_items=[AFTER_SCHOOL], add_indicators=[
        _after_school_indicator("BS-AS1", "ge", "half past five", "x", "x")])
    assert "indicators[BS-AS1].threshold" in err.fields
    # A county above Baoshan may tighten the window, never widen it.
    with pytest.raises(DefinitionError):
        apply_overlay(baoshan, {"code": "y", "set_thresholds": {"BS-AS1": "17:00"}})
    assert apply_overlay(baoshan, {"code": "y", "set_thresholds": {"BS-AS1": "17:45"}})


def test_an_added_item_needs_an_answerable_code_and_words_in_both_languages():
    item = {"code": "library books", "kind": "integer", "unit": "", "section": "C", "levels": ["primary"],
            "help": {"zh": "藏书", "en": "  "}}
    err = rejected(add_items=[item])
    assert "add_items[0].code" in err.fields and "items[library books].help" in err.fields
    ind = {"code": "L.books", "name": {"zh": "", "en": "Books"}, "section": "C", "levels": ["primary"],
           "expr": {"op": "fact", "fact": "enrolment"}, "comparator": "ge", "threshold": "1", "unit": "",
           "shortfall": None, "severity": "low"}
    assert "indicators[L.books].name" in rejected(add_indicators=[ind]).fields
    assert apply_overlay(NATIONAL_2017, overlay(add_items=[{**item, "code": "library_books",
                                                            "help": {"zh": "藏书", "en": "Books"}}]))


@pytest.mark.parametrize("code,level,value,words", [
    ("R1", "primary", "1e400", "decimal string"),  # an exponent is no decimal of the grammar
    ("R1", "primary", "99999999999999999999", "out of range"),
    ("C4", "primary", "101", "percentage"),
    ("B9", "primary", "100.5", "percentage"),
    ("B5", "primary", "0", "upper limit of 0"),
    ("R1", "primary", "４.５", "decimal string"),
])
def test_an_absurd_or_full_width_threshold_is_refused_once(code, level, value, words):
    fields = rejected(set_thresholds={code: {level: value}}).fields
    assert list(fields) == [f"set_thresholds.{code}.{level}"] and len(fields[f"set_thresholds.{code}.{level}"]) == 1, \
        fields
    assert words in fields[f"set_thresholds.{code}.{level}"][0]


def test_an_added_indicator_with_an_absurd_threshold_is_refused():
    item = {"code": "library_books", "kind": "integer", "unit": "", "section": "C", "levels": ["primary"],
            "help": HELP}
    ind = {"code": "L.library_books", "name": HELP, "section": "C", "levels": ["primary"],
           "expr": {"op": "fact", "fact": "library_books"}, "comparator": "ge", "threshold": {"primary": "1" + "0" * 400},
           "unit": "", "shortfall": None, "severity": "low", "weight": "1", "school_rule": False}
    fields = rejected(add_items=[item], add_indicators=[ind]).fields
    assert any(p.endswith("threshold.primary") and "out of range" in m[0] for p, m in fields.items()), fields


def test_an_added_code_already_in_the_parent_is_reported_once():
    item = {"code": "R1", "kind": "integer", "unit": "", "section": "C", "levels": ["primary"], "help": HELP}
    fields = rejected(add_items=[item]).fields
    assert fields == {"add_items[0].code": ["'R1' already exists in 'national-2017'"]}


def test_a_county_target_may_not_take_an_indicator_code():
    target = {"code": "B5", "name": HELP, "section": "B", "indicator": "B5", "min_share_met": "0.7"}
    fields = rejected(add_county_targets=[target]).fields
    assert fields["add_county_targets[0].code"] == ["'B5' already exists in the parent"]
