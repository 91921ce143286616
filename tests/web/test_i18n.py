"""The page words' catalogues: complete in both languages, compiled .mo files fresh, plurals, strict lookups."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from server.web import i18n
from server.web.catalog import KEYWORDS, LOCALES, ROOT, mo_bytes, po_path


def _catalogue(locale: str):
    with open(po_path(locale), "rb") as fh:
        return read_po(fh, locale=locale)


def _translated(message) -> bool:
    s = message.string
    return bool(s) and (isinstance(s, str) or all(s))


@pytest.mark.parametrize("locale", LOCALES)
def test_committed_mo_is_compiled_from_the_po(locale):
    """A fresh clone runs without a build step: the committed .mo must be what its .po compiles to."""
    committed = po_path(locale).with_suffix(".mo").read_bytes()
    assert committed == mo_bytes(locale), f"{locale}: run `make translations` and commit the .mo"


def test_every_page_string_in_the_code_is_translated_in_both_catalogues(tmp_path: Path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
                    *KEYWORDS, "--omit-header", "-o", str(pot), "."], cwd=ROOT, check=True)
    with open(pot, "rb") as fh:
        used = [m for m in read_po(fh) if m.id]
    assert len(used) > 100  # the extraction found the templates and views
    for locale in LOCALES:
        cat = _catalogue(locale)
        missing = [m.id for m in used if cat.get(m.id) is None or not _translated(cat.get(m.id))]
        assert not missing, f"{locale} lacks translations (run `make translations`, then translate): {missing}"


def test_chinese_catalogue_is_chinese_and_keeps_the_placeholders():
    import re
    for m in _catalogue("zh_Hans_CN"):
        if not m.id:
            continue
        forms = [m.string] if isinstance(m.string, str) else list(m.string)
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        for s in forms:
            bare = re.sub(r"%\(\w+\)s", "", s)
            assert re.search(r"[\u4e00-\u9fff]", s) or not re.search(r"[A-Za-z]", bare), \
                f"not Chinese: {m.id!r} -> {s!r}"
            assert set(re.findall(r"%\((\w+)\)s", s)) == set(re.findall(r"%\((\w+)\)s", ids[0])), m.id


def test_strict_lookup_fails_on_a_msgid_the_catalogue_lacks(app):
    with app.test_request_context("/web/login"):
        assert app.config["I18N_STRICT"]
        assert i18n.gettext("Sign in") == "登录"
        with pytest.raises(i18n.MissingTranslation):
            i18n.gettext("A sentence no catalogue has")
        with pytest.raises(i18n.MissingTranslation):
            i18n.ngettext("%(num)s apple", "%(num)s apples", 2)


def test_plurals_follow_each_language(app, client):
    from flask import session
    wait = "Too many attempts; try again in %(num)s second"
    waits = "Too many attempts; try again in %(num)s seconds"
    with app.test_request_context("/web/login"):
        session["lang"] = "en"
        assert i18n.ngettext(wait, waits, 1) == "Too many attempts; try again in 1 second"
        assert i18n.ngettext(wait, waits, 5) == "Too many attempts; try again in 5 seconds"
    with app.test_request_context("/web/login"):
        assert i18n.ngettext(wait, waits, 1) == i18n.ngettext(wait, waits, 5).replace("5", "1")
        assert "秒" in i18n.ngettext(wait, waits, 5)


def test_language_is_chosen_per_session(client):
    assert "登录" in client.get("/web/login").get_data(as_text=True)
    assert ">Sign in<" in client.get("/web/login?lang=en").get_data(as_text=True)
    assert ">Sign in<" in client.get("/web/login").get_data(as_text=True)  # kept in the session
    assert "登录" in client.get("/web/login?lang=zh-CN").get_data(as_text=True)
