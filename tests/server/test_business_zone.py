"""The business zone setting: Asia/Shanghai unless told, a wrong name refused at start-up."""
from __future__ import annotations

import pytest

from server.config import from_env


def test_business_zone_defaults_to_shanghai_and_can_be_set(monkeypatch):
    monkeypatch.delenv("BUSINESS_TIMEZONE", raising=False)
    assert from_env({"VAR_DIR": "/tmp/cfg-test", "SECRET_KEY": "x"})["BUSINESS_TIMEZONE"] == "Asia/Shanghai"
    monkeypatch.setenv("BUSINESS_TIMEZONE", "Asia/Urumqi")
    assert from_env({"VAR_DIR": "/tmp/cfg-test", "SECRET_KEY": "x"})["BUSINESS_TIMEZONE"] == "Asia/Urumqi"


@pytest.mark.parametrize("value", ["Mars/Olympus", "../etc/passwd", "Asia/"])
def test_a_wrong_zone_is_refused_with_the_variable_named(monkeypatch, value):
    monkeypatch.setenv("BUSINESS_TIMEZONE", value)
    with pytest.raises(ValueError, match="BUSINESS_TIMEZONE"):
        from_env({"VAR_DIR": "/tmp/cfg-test", "SECRET_KEY": "x"})
