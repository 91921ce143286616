"""Template definitions: the national one is valid JSON; broken ones are rejected with clear paths."""
from __future__ import annotations

import copy
import json

import pytest

from inspections.scoring import expressions
from inspections.scoring.definition import DefinitionError, check_definition, validate_definition
from inspections.scoring.national import NATIONAL_2017


def broken(mutate) -> list[str]:
    defn = copy.deepcopy(NATIONAL_2017)
    mutate(defn)
    return validate_definition(defn)


def ind(defn, code):
    return next(i for i in defn["indicators"] if i["code"] == code)


def test_national_template_is_valid_and_survives_a_json_round_trip():
    assert validate_definition(NATIONAL_2017) == []
    stored = json.loads(json.dumps(NATIONAL_2017))
    assert stored == NATIONAL_2017 and validate_definition(stored) == []


def test_national_template_covers_the_standard():
    codes = [i["code"] for i in NATIONAL_2017["indicators"]]
    assert codes[:7] == [f"R{i}" for i in range(1, 8)]
    assert [i["code"] for i in NATIONAL_2017["indicators"] if i["school_rule"]] == codes[:7]
    expected = {"R1": ("4.2", "5.3"), "R2": ("1.0", "1.0"), "R3": ("0.9", "0.9"), "R4": ("4.5", "5.8"),
                "R5": ("7.5", "10.2"), "R6": ("2000", "2500"), "R7": ("2.3", "2.4")}
    for code, (primary, junior) in expected.items():
        assert ind(NATIONAL_2017, code)["threshold"] == {"primary": primary, "junior": junior}
    facts = {i["code"] for i in NATIONAL_2017["items"]}
    assert {"enrolment", "teachers_above_required_qualification", "key_teachers_county_level_or_above",
            "pe_art_teachers", "teaching_aux_area_m2", "sports_area_m2", "equipment_value_yuan",
            "multimedia_classrooms", "class_sizes", "music_rooms_m2", "art_rooms_m2", "training_budget_yuan",
            "public_funds_budget_yuan", "has_charter", "it_in_management_and_teaching", "full_curriculum",
            "no_excessive_homework", "moral_education_rating"} <= facts
    assert all(i["help"]["zh"] and i["help"]["en"] for i in NATIONAL_2017["items"])


@pytest.mark.parametrize("mutate,fragment", [
    (lambda d: ind(d, "R1").update(expr={"op": "eval", "fact": "__import__('os')"}), "unknown op 'eval'"),
    (lambda d: ind(d, "R1").update(expr={"op": "per_100", "fact": "teachers"}), "unknown fact 'teachers'"),
    (lambda d: ind(d, "R1").update(expr={"op": "per_100"}), "indicators[R1].expr.fact: required"),
    (lambda d: ind(d, "R1").update(expr={"op": "per_100", "fact": "class_sizes"}), "not a number"),
    (lambda d: ind(d, "R1").update(expr="teachers / enrolment * 100"), "must be an expression object"),
    (lambda d: ind(d, "R2").update(threshold={"primary": "1.0"}), "missing a threshold for junior"),
    (lambda d: ind(d, "R2").update(threshold={"primary": "1.0", "junior": 1.0}), "decimal string"),
    (lambda d: ind(d, "R2").update(threshold={"primary": "1.0", "junior": "-1"}), "must be a decimal string"),
    (lambda d: ind(d, "R3").update(comparator="gt"), "indicators[R3].comparator"),
    (lambda d: ind(d, "C7").update(comparator="ge"), "yes/no check"),
    (lambda d: ind(d, "C7").update(threshold="1"), "threshold true or false"),
    (lambda d: ind(d, "C6").update(expr={"op": "rating_at_least", "fact": "moral_education_rating",
                                         "value": "superb"}), "not one of the item's choices"),
    (lambda d: ind(d, "C6").update(school_rule=True), "school-rule indicators must compare a number"),
    (lambda d: ind(d, "C4").update(expr={"op": "percent", "num": {"op": "sum", "args": [
        {"op": "fact", "fact": "training_budget_yuan"}]}, "den": {"op": "fact", "fact": "public_funds_budget_yuan"}}),
     "cannot derive a shortfall"),
    (lambda d: ind(d, "B5").update(shortfall={"unit": "classes", "round": "cent"}), "counts elements"),
    (lambda d: ind(d, "R4").update(shortfall={"unit": "m2", "round": "nearest"}), "shortfall.round"),
    (lambda d: ind(d, "R4").update(severity="critical"), "indicators[R4].severity"),
    (lambda d: ind(d, "R4").update(levels=["senior"]), "indicators[R4].levels"),
    (lambda d: ind(d, "R4").update(applies_if={"op": "fact", "fact": "sports_area_m2"}), "boolean expression"),
    (lambda d: d["indicators"].append(copy.deepcopy(ind(d, "R7"))), "duplicate code 'R7'"),
    (lambda d: d["items"][0].update(kind="float"), "items[enrolment].kind"),
    (lambda d: d["items"][0].update(help={"zh": "在校生"}), "items[enrolment].help"),
    (lambda d: d["items"][-3].update(choices=[]), "a rating needs a list"),
    (lambda d: d["items"][1].update(levels=["junior"]), "not asked for primary"),
    (lambda d: d["rules"]["school"].update(min_ratio_not_met="1.5"), "rules.school.min_ratio_not_met"),
    (lambda d: d["rules"]["county"]["cv_limit"].pop("junior"), "rules.county.cv_limit.junior"),
    (lambda d: d.pop("rules"), "rules: required"),
])
def test_broken_definitions_are_rejected(mutate, fragment):
    errors = broken(mutate)
    assert any(fragment in e for e in errors), errors


def test_check_definition_raises_with_fields():
    defn = copy.deepcopy(NATIONAL_2017)
    ind(defn, "R1")["expr"] = {"op": "exec"}
    with pytest.raises(DefinitionError) as info:
        check_definition(defn)
    assert list(info.value.fields) == ["indicators[R1].expr"]
    assert check_definition(NATIONAL_2017) is NATIONAL_2017


def test_evaluator_refuses_an_op_it_does_not_know():
    with pytest.raises(ValueError, match="unknown op"):
        expressions.evaluate({"op": "eval", "fact": "1+1"}, {}, {})
