"""The county target "at least one oversized school fewer each year" (counted against the year before)
next to the 70% class-size target."""
from __future__ import annotations

import pytest

from inspections.scoring import county
from inspections.scoring.definition import DefinitionError
from inspections.scoring.engine import score_county
from inspections.scoring.national import NATIONAL_2017
from inspections.scoring.overlay import apply_overlay, weakening_problems
from tests.inspections.scoring.helpers import good_facts
from tests.inspections.scoring.reports import good_report
from tests.inspections.scoring.test_county_areas import CHANGSHA_B5_70

FEWER = {"code": "CS-B4-DOWN", "name": {"zh": "大规模学校每年至少减少1所",
                                        "en": "At least one oversized school fewer each year"},
         "section": "B", "indicator": ["B4.1", "B4.2"], "min_fewer_per_year": 1}


def _defn(*targets):
    return apply_overlay(NATIONAL_2017, {"code": "changsha-2022", "add_county_targets": list(targets)})


def _schools(oversized: int, n: int = 6):
    # An oversized primary school: 2,100 pupils (B4.1: at most 2,000).
    return [{"school": f"S{i}", "facts": good_facts("primary", 2100 if i < oversized else 600)} for i in range(n)]


@pytest.mark.parametrize("before,now,met", [(3, 2, True), (3, 3, False), (3, 4, False), (1, 0, True),
                                            (0, 0, True), (None, 2, None), (None, 0, True)])
def test_oversized_schools_must_fall_by_one_a_year(before, now, met):
    defn = _defn(FEWER)
    result = score_county(defn, "primary", _schools(now))
    previous = {} if before is None else {"CS-B4-DOWN": before}
    [t] = county.judge_targets(defn, result, previous)
    assert (t["schools_not_met"], t["previous_not_met"], t["met"]) == (now, before, met)
    assert t["schools_failing"] == [f"S{i}" for i in range(now)]
    out = county.judge(defn, "primary", result, good_report(), previous_targets=previous)
    b = out["areas"]["B"]
    mine = [r for r in b["reasons"] if r.startswith("CS-B4-DOWN ")]
    if met is True:
        assert not mine
    else:
        assert len(mine) == 1 and f"{now} school(s) fail B4.1/B4.2" in mine[0]
        assert out["verdict"] == "fail"  # an oversized school also fails B4.1 itself (every school meets it)
        if before is None:
            assert "no judgement of the year before" in mine[0]


def test_a_nine_year_school_over_2500_counts_as_oversized():
    defn = _defn(FEWER)
    big = good_facts("primary", 1600, combined_school=True, compulsory_enrolment=2700)
    result = score_county(defn, "primary", [{"school": "N", "facts": big}, {"school": "P", "facts": good_facts("primary")}])
    [t] = county.judge_targets(defn, result, {"CS-B4-DOWN": 1})
    assert (t["schools_failing"], t["met"]) == (["N"], False)


def test_both_targets_side_by_side():
    defn = _defn(CHANGSHA_B5_70, FEWER)
    schools = _schools(1, n=10)
    schools[5]["facts"] = good_facts("primary", 600, class_sizes=[40] * 14 + [56])
    out = county.judge(defn, "primary", score_county(defn, "primary", schools), good_report(),
                       previous_targets={"CS-B4-DOWN": 2})
    assert [(t["code"], t["met"]) for t in out["targets"]] == [("CS-B5-70", True), ("CS-B4-DOWN", True)]
    assert out["areas"]["B"]["verdict"] == "fail"  # B4.1 and B5 still fail at the schools themselves


@pytest.mark.parametrize("change,field", [
    ({"min_fewer_per_year": 0}, "county.targets[CS-B4-DOWN].min_fewer_per_year"),
    ({"min_fewer_per_year": "1"}, "county.targets[CS-B4-DOWN].min_fewer_per_year"),
    ({"min_share_met": "0.7"}, "county.targets[CS-B4-DOWN]"),
    ({"indicator": ["B4.1", "R99"]}, "county.targets[CS-B4-DOWN].indicator"),
    ({"indicator": []}, "county.targets[CS-B4-DOWN].indicator"),
])
def test_a_bad_year_on_year_target_is_refused(change, field):
    with pytest.raises(DefinitionError) as info:
        _defn({**FEWER, **change})
    assert field in info.value.fields


def test_a_local_template_may_not_lower_or_drop_the_year_on_year_target():
    city = _defn(FEWER)
    lowered = {**city, "county": {**city["county"], "targets": [{**FEWER, "min_fewer_per_year": 0}]}}
    assert [p for p, _ in weakening_problems(city, lowered)] == ["county.targets[CS-B4-DOWN]"]
    dropped = {**city, "county": {**city["county"], "targets": []}}
    assert [p for p, _ in weakening_problems(city, dropped)] == ["county.targets[CS-B4-DOWN]"]
    raised = {**city, "county": {**city["county"], "targets": [{**FEWER, "min_fewer_per_year": 2}]}}
    assert weakening_problems(city, raised) == []


def test_the_year_before_is_the_last_judgement_of_that_business_year(session):
    """Read from the stored county scores: the last one of the year before in Asia/Shanghai, so a judgement
    at 2025-12-31 17:00 UTC (2026-01-01 01:00 in Shanghai) belongs to 2026."""
    from datetime import datetime, timezone

    from inspections.scoring.models import CountyScore
    from inspections.scoring.service import previous_target_counts
    from inspections.templates.service import ensure_builtin
    from tests.factories import make_world
    w = make_world(session)
    version = ensure_builtin(session)[0]
    defn = _defn(FEWER)

    def stored(at, n, *, level="primary", legacy=False):
        result = {"items": {"B4.1": {"not_met": n - 1}, "B4.2": {"not_met": 1}}} if legacy else \
            {"targets": [{"code": "CS-B4-DOWN", "schools_not_met": n}]}
        session.add(CountyScore(jurisdiction_id=w.county_a1.id, level=level, template_version_id=version.id,
                                verdict="fail", inputs={}, result=result, computed_at=at))
        session.flush()

    utc = timezone.utc
    assert previous_target_counts(session, w.county_a1.id, "primary", defn, 2026) == {}
    stored(datetime(2025, 3, 1, tzinfo=utc), 5)
    stored(datetime(2025, 12, 31, 15, 59, tzinfo=utc), 4)  # 23:59 in Shanghai: still 2025
    stored(datetime(2025, 12, 31, 17, 0, tzinfo=utc), 1)  # already 2026 in Shanghai
    stored(datetime(2025, 12, 31, 15, 0, tzinfo=utc), 9, level="junior")
    assert previous_target_counts(session, w.county_a1.id, "primary", defn, 2026) == {"CS-B4-DOWN": 4}
    assert previous_target_counts(session, w.county_a1.id, "primary", defn, 2026, "UTC") == {"CS-B4-DOWN": 1}
    # A judgement made before the target existed: its per-item counts (B4.1 and B4.2 together).
    stored(datetime(2024, 6, 1, tzinfo=utc), 3, legacy=True)
    assert previous_target_counts(session, w.county_a1.id, "primary", defn, 2025) == {"CS-B4-DOWN": 3}
    session.rollback()
