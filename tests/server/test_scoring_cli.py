"""score-preview and county-preview from the command line."""
from __future__ import annotations

import json

from tests.factories import GOOD_PRIMARY


def test_score_preview_prints_the_documented_shape(runner, tmp_path):
    path = tmp_path / "facts.json"
    path.write_text(json.dumps({**GOOD_PRIMARY, "pe_art_teachers": 4}))
    r = runner.invoke(args=["score-preview", "--level", "primary", "--facts", str(path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {"level", "verdict", "indicators", "met_count"} <= set(out)
    assert set(out["indicators"]) >= {f"R{i}" for i in range(1, 8)}
    assert {"value", "threshold", "met", "ratio", "shortfall", "unit"} <= set(out["indicators"]["R3"])
    assert out["indicators"]["R3"]["shortfall"] == 2


def test_score_preview_rejects_bad_files(runner, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    r = runner.invoke(args=["score-preview", "--level", "primary", "--facts", str(bad)])
    assert r.exit_code == 2 and "not valid JSON" in r.output
    bad.write_text(json.dumps({"enrolment": 0}))
    r = runner.invoke(args=["score-preview", "--level", "primary", "--facts", str(bad)])
    assert r.exit_code == 2 and "enrolment" in r.output


def test_county_preview(runner, tmp_path):
    schools = [{"school": "甲", "facts": GOOD_PRIMARY},
               {"school": "乙", "facts": {**GOOD_PRIMARY, "enrolment": 1200, "teaching_aux_area_m2": 6000}}]
    path = tmp_path / "schools.json"
    path.write_text(json.dumps(schools, ensure_ascii=False))
    r = runner.invoke(args=["county-preview", "--level", "primary", "--facts", str(path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {"verdict", "schools_passing", "indicators"} <= set(out)
    assert {"mean", "cv", "limit", "met"} <= set(out["indicators"]["R1"])
    # R4: 3000/600 = 5.0 and 6000/1200 = 5.0 -> no spread at all.
    assert out["indicators"]["R4"]["cv"] == 0
