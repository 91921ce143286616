"""Every unit the shipped standards name has words in both languages, wherever a gap or value is worded:
the pages and CSV reasons (server.web.words), the ticket titles (scoring) and the yearly report."""
from __future__ import annotations

import re

import pytest
from flask import session as web_session

from inspections.reports import render
from inspections.scoring import service as scoring
from inspections.templates.service import builtin_definitions
from server.web import words

CJK = re.compile(r"[\u4e00-\u9fff]")


def _units(o, key: str = "") -> set[str]:
    """Every non-empty value of a key named unit anywhere in a definition (items, indicators, shortfalls)."""
    if isinstance(o, dict):
        out = {v for k, v in o.items() if k == "unit" and isinstance(v, str) and v}
        for v in o.values():
            out |= _units(v)
        return out
    if isinstance(o, list):
        return set().union(*(_units(x) for x in o)) if o else set()
    return set()


def _shortfall_units(o) -> set[str]:
    if isinstance(o, dict):
        out = {o["shortfall"]["unit"]} if isinstance(o.get("shortfall"), dict) and o["shortfall"].get("unit") else set()
        for v in o.values():
            out |= _shortfall_units(v)
        return out
    if isinstance(o, list):
        return set().union(*(_shortfall_units(x) for x in o)) if o else set()
    return set()


UNITS = sorted(set().union(*(_units(d) for d in builtin_definitions())) - {"time_of_day"})
SHORTFALL_UNITS = sorted(set().union(*(_shortfall_units(d) for d in builtin_definitions())))


def test_the_standards_name_the_units_this_test_knows():
    assert "percentage_points" in UNITS and "teachers" in UNITS and len(UNITS) >= 10
    assert set(SHORTFALL_UNITS) <= set(UNITS)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("unit", UNITS)
def test_every_unit_has_words_on_the_pages(app, lang, unit):
    assert unit in words.UNITS
    with app.test_request_context("/web/tickets"):
        web_session["lang"] = lang
        # A msgid missing from the language's catalogue raises here (MissingTranslation).
        for text in (words.amount_text("1.4", unit), words.amount_text(2, unit), words._unit_word(unit)):
            assert "_" not in text and re.search(r"[^\d.,\s]", text), text  # words, not a code or a bare number
            assert bool(CJK.search(text)) == (lang == "zh-CN"), text


@pytest.mark.parametrize("unit", UNITS)
def test_every_unit_has_words_in_titles(unit):
    for lang in ("zh-CN", "en"):
        text = scoring.shortfall_text("1.4", unit, lang)
        assert "_" not in text and re.search(r"[^\d.,\s]", text), text


@pytest.mark.parametrize("unit", SHORTFALL_UNITS)
def test_every_shortfall_unit_has_words_in_the_yearly_report(unit):
    text = render._amount("1.4", unit)
    assert "_" not in text and CJK.search(text), text
