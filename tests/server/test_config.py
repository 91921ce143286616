"""Settings from the environment: planning windows are configurable and bad values stop start-up."""
from __future__ import annotations

import pytest

from server.config import from_env


def test_planning_days_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("VISIT_GRACE_DAYS", "3")
    monkeypatch.setenv("PLAN_HORIZON_DAYS", "90")
    cfg = from_env({"VAR_DIR": "/tmp/cfg-test", "SECRET_KEY": "x"})
    assert (cfg["VISIT_GRACE_DAYS"], cfg["PLAN_HORIZON_DAYS"]) == (3, 90)
    monkeypatch.delenv("VISIT_GRACE_DAYS")
    monkeypatch.delenv("PLAN_HORIZON_DAYS")
    cfg = from_env({"VAR_DIR": "/tmp/cfg-test", "SECRET_KEY": "x"})
    assert (cfg["VISIT_GRACE_DAYS"], cfg["PLAN_HORIZON_DAYS"]) == (7, 60)


@pytest.mark.parametrize("value, message", [("soon", "whole number"), ("0", "between 1 and 730"),
                                            ("1000", "between 1 and 730")])
def test_bad_planning_days_are_refused_with_the_variable_named(monkeypatch, value, message):
    monkeypatch.setenv("VISIT_GRACE_DAYS", value)
    with pytest.raises(ValueError, match=f"VISIT_GRACE_DAYS.*{message}"):
        from_env({"VAR_DIR": "/tmp/cfg-test", "SECRET_KEY": "x"})
