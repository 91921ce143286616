"""The field app's Vitest suite (sync core, evaluator) run from pytest, so CI runs it: the evaluator is fed
a few hundred schools scored by the server's engine and must match every value, status and shortfall."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.browser.field.parity_cases import write, write_wire

# The field app's own tests: no backend changes them.
pytestmark = pytest.mark.once


def test_vitest_sync_core_and_evaluator_parity(field_node, tmp_path):
    cases = tmp_path / "parity.json"
    write(cases, n=300)
    wire = tmp_path / "wire.json"
    write_wire(wire)
    env = {**os.environ, "FIELD_PARITY_CASES": str(cases), "FIELD_WIRE_CASES": str(wire), "CI": "true", "NO_COLOR": "1"}
    run = subprocess.run([str(field_node / "node_modules" / ".bin" / "vitest"), "run", "--reporter=verbose"],
                         cwd=field_node, env=env, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert "wire limits as the server's" in out and "sync core model" in out
    assert "evaluator parity with the server engine" in out and "skipped" not in out.split("Tests")[-1], out[-3000:]


def test_parity_cases_cover_the_engines_newer_rules(tmp_path):
    """The generated cases reach every newer rule, so the parity test above checks them: time of day, the
    strict 'lt' (at exactly its limit too), n/a where allowed and refused elsewhere, exempt school types,
    and a combined school's rooms and size judged once."""
    import json
    from collections import Counter
    path = tmp_path / "parity.json"
    write(path, n=300)
    data = json.loads(path.read_text(encoding="utf-8"))
    seen = Counter()
    for case in data["cases"]:
        seen["whole_school" if "whole_school" in case["context"] else "judged_in" if "judged_in" in case["context"] else ""] += 1
        if "errors" in case:
            seen.update(f"refused {c}" for c in case["errors"] if case["facts"].get(c) == "n/a")
            continue
        seen[case["verdict"]] += 1
        for r in case["results"]:
            seen[f"{r['code']} {r['status']}"] += 1
            if r["code"] == "X10" and case["facts"].get("r") in ("0.15", 0.15, "0.150"):
                seen[f"X10 at limit {r['status']}"] += 1
            if (r["reason"] or "").startswith("judged once for the whole school"):
                seen["judged once"] += 1
            if r["status"] == "not_applicable" and (r["reason"] or "").endswith("answered n/a"):
                seen["n/a allowed"] += 1
    visits = Counter(s.get("verdict", "errors") for v in data["visits"] for s in v["sections"])
    for key in ("X8 met", "X8 not_met", "X9 not_met", "X10 met", "X10 not_met", "X10 at limit not_met", "X11 met",
                "X11 not_met", "X12 met", "X12 not_met", "exempt", "pass", "fail", "incomplete", "judged once",
                "n/a allowed", "whole_school", "judged_in", "B4.2 met", "B4.2 not_met", "B3.1 not_met"):
        assert seen[key] > 0, (key, seen)
    assert any(k.startswith("refused ") for k in seen), seen
    assert visits["exempt"] and visits["pass"] and visits["fail"] and visits["errors"], visits
    assert sum(1 for v in data["visits"] for s in v["sections"] if "whole_school" in s["context"]) > 10
