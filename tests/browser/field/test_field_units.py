"""The field app's Vitest suite (sync core, evaluator) run from pytest, so CI runs it: the evaluator is fed
a few hundred schools scored by the server's engine and must match every value, status and shortfall."""
from __future__ import annotations

import os
import subprocess

from tests.browser.field.parity_cases import write


def test_vitest_sync_core_and_evaluator_parity(field_node, tmp_path):
    cases = tmp_path / "parity.json"
    write(cases, n=300)
    env = {**os.environ, "FIELD_PARITY_CASES": str(cases), "CI": "true", "NO_COLOR": "1"}
    run = subprocess.run([str(field_node / "node_modules" / ".bin" / "vitest"), "run", "--reporter=verbose"],
                         cwd=field_node, env=env, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert "evaluator parity with the server engine" in out and "skipped" not in out.split("Tests")[-1], out[-3000:]
