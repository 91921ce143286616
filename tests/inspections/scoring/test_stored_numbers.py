"""Numbers of a stored definition outside the one decimal grammar (written before it was enforced, e.g. a
threshold "4_3" that Python's Decimal() read as 43): scoring names them and scores nothing with them, never
reading them as another number and never failing with a TypeError on None."""
from __future__ import annotations

import copy

import pytest

from inspections.scoring.engine import InvalidFacts, score_county, score_school
from inspections.scoring.national import NATIONAL_2017
from tests.inspections.scoring.helpers import good_facts


def _with(path: tuple, value) -> dict:
    d = copy.deepcopy(NATIONAL_2017)
    node = d
    for key in path[:-1]:
        node = next(x for x in node if x.get("code") == key) if isinstance(node, list) else node[key]
    node[path[-1]] = value
    return d


SCHOOL = [(("indicators", "R1", "threshold"), {"primary": "4_3", "junior": "5.3"}, "'4_3'"),
          (("indicators", "R1", "threshold"), {"primary": " 4.3", "junior": "5.3"}, "' 4.3'"),
          (("indicators", "R2", "threshold"), {"primary": "4.2e0", "junior": "4.2"}, "'4.2e0'"),
          (("rules", "school", "min_ratio_not_met"), "0.8_5", "'0.8_5'"),
          # a constant or a number fact's default inside an expression
          (("indicators", "R1", "expr"), {"op": "sum", "args": [
              {"op": "fact", "fact": "teachers_above_required_qualification"}, {"op": "const", "value": "1_0"}]},
           "'1_0'"),
          (("indicators", "R1", "expr"), {"op": "fact", "fact": "teachers_above_required_qualification",
                                          "default": "+3"}, "'+3'")]
COUNTY = SCHOOL + [(("rules", "county", "cv_limit"), {"primary": "0.5_0", "junior": "0.45"}, "'0.5_0'"),
                   (("county", "survey", "min_percent"), "８５", "'８５'"),
                   (("county", "indicators", "B7", "threshold"), "6_000", "'6_000'")]


@pytest.mark.parametrize("path,value,named", SCHOOL)
def test_a_school_is_not_scored_with_an_unreadable_number_of_its_template(path, value, named):
    with pytest.raises(InvalidFacts) as e:
        score_school(_with(path, value), "primary", good_facts("primary"))
    assert list(e.value.fields) == ["template"] and named in e.value.fields["template"][0]


@pytest.mark.parametrize("path,value,named", COUNTY)
def test_a_county_is_not_judged_with_an_unreadable_number_of_its_template(path, value, named):
    schools = [{"school": "A", "facts": good_facts("primary")}, {"school": "B", "facts": good_facts("primary")}]
    with pytest.raises(InvalidFacts) as e:
        score_county(_with(path, value), "primary", schools)
    assert "template" in e.value.fields and named in " ".join(e.value.fields["template"])


def test_the_same_numbers_in_the_grammar_score():
    d = _with(("indicators", "R1", "threshold"), {"primary": "4.30", "junior": "5.3"})
    assert score_school(d, "primary", good_facts("primary")).results
    assert score_county(d, "primary", [{"school": "A", "facts": good_facts("primary")}]).indicators


@pytest.mark.parametrize("value", ["1_000", " 95", "9.5e1", "９５"])
def test_a_county_report_stored_before_the_grammar_is_named_not_read(value):
    from inspections.scoring import county
    from tests.inspections.scoring.reports import good_report
    report = good_report()
    code = next(c for c, v in report["facts"].items() if isinstance(v, (int, str)) and not isinstance(v, bool))
    report["facts"][code] = value
    schools = [{"school": "A", "facts": good_facts("primary")}]
    with pytest.raises(InvalidFacts) as e:
        county.judge(NATIONAL_2017, "primary", score_county(NATIONAL_2017, "primary", schools), report)
    assert list(e.value.fields) == [f"report.facts.{code}"], e.value.fields
