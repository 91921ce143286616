"""Page words through gettext catalogues (Flask-Babel): zh-CN by default, English via ?lang=en (kept in the session).

The catalogues are server/web/translations/<locale>/LC_MESSAGES/messages.po; the compiled .mo files
beside them are committed (tests/web/test_i18n.py fails when one is older than its .po), so a fresh
clone needs no build step. `make translations` extracts new strings, updates both catalogues and
compiles them.

Under I18N_STRICT (on when the app is TESTING) a msgid missing from the page language's catalogue
raises MissingTranslation, so a page that shows an untranslated string fails its test.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from flask import current_app, g, has_request_context, session as web_session
from flask_babel import Babel, force_locale, get_translations
from flask_babel.speaklater import LazyString

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
# The page language as the session keeps it -> the catalogue's locale directory.
LOCALES = {"zh-CN": "zh_Hans_CN", "en": "en"}
DEFAULT_LANG = "zh-CN"

babel = Babel()


class MissingTranslation(LookupError):
    """A page used a msgid its language's catalogue does not translate."""


def page_lang() -> str:
    """The reader's language: "zh-CN" (default) or "en" (or the one a `speaking` block asks for)."""
    if has_request_context():
        if g.get("speaking") in LOCALES:
            return g.speaking
        lang = web_session.get("lang")
        if lang in LOCALES:
            return lang
    return DEFAULT_LANG


def reader_lang(asked: str | None = None) -> str:
    """The language of a file or an answer someone downloads: the one asked for (?lang), the page's language
    (the session's), the request's Accept-Language, else zh-CN."""
    from schemas.common import normal_lang
    asked = normal_lang(asked) if asked else None  # zh, zh_CN, en-US ... as the catalogue's locales
    if asked in LOCALES:
        return asked
    if has_request_context():
        from flask import request
        if web_session.get("lang") in LOCALES:
            return web_session["lang"]
        best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
        if best == "en":
            return "en"
    return DEFAULT_LANG


@contextmanager
def speaking(lang: str):
    """Words in `lang` inside the block, whatever the page's language (a file made in its reader's language)."""
    before = g.get("speaking")
    g.speaking = lang
    try:
        with force_locale(LOCALES[lang]):
            yield
    finally:
        g.speaking = before


def _locale_selector() -> str:
    return LOCALES[page_lang()]


def init_app(app) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LOCALES[DEFAULT_LANG])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("I18N_STRICT", bool(app.testing))
    babel.init_app(app, locale_selector=_locale_selector)
    # The templates' _() / ngettext() go through the checked functions below.
    app.jinja_env.install_gettext_callables(gettext, ngettext, newstyle=True)
    app.jinja_env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext)
    app.jinja_env.filters["local_time"] = local_time


def local_time(at) -> str:
    """A stored instant as the business zone's wall-clock time, to the minute ("2026-01-24 06:05")."""
    if at is None:
        return ""
    from inspections import clock
    return f"{clock.local(at):%Y-%m-%d %H:%M}"


def _check(key) -> None:
    if not current_app.config.get("I18N_STRICT"):
        return
    catalog = getattr(get_translations(), "_catalog", {})
    if key not in catalog:
        raise MissingTranslation(f"{page_lang()}: no translation for {key!r}")


def gettext(msgid: str, **variables) -> str:
    """msgid in the page's language, with %(name)s variables filled in."""
    _check(msgid)
    text = get_translations().ugettext(msgid)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num, **variables) -> str:
    """The plural form for `num` in the page's language; %(num)s is the number."""
    _check((singular, 0))
    variables.setdefault("num", num)
    return get_translations().ungettext(singular, plural, num) % variables


def lazy_gettext(msgid: str, **variables) -> LazyString:
    """A msgid translated when shown (for module-level tables of labels)."""
    return LazyString(gettext, msgid, **variables)


def pgettext(context: str, msgid: str, **variables) -> str:
    """msgid as said in a context: one English word with two meanings gets one translation each (a visit
    "In progress" is 进行中, a ticket's 整改中)."""
    _check(f"{context}\x04{msgid}")
    text = get_translations().upgettext(context, msgid)
    return text % variables if variables else text


def lazy_pgettext(context: str, msgid: str, **variables) -> LazyString:
    """`pgettext` when shown (for module-level tables of labels)."""
    return LazyString(pgettext, context, msgid, **variables)


def N_(msgid: str) -> str:
    """Marks a msgid for the catalogue where it is translated later (with _ at display time)."""
    return msgid


_ = gettext
_l = lazy_gettext
_lp = lazy_pgettext

# Codes the pages show, as words. Every table is keyed by the stored code.
LABELS = {
    "status": {"open": _l("Open"), "acknowledged": _l("Acknowledged"), "in_progress": _l("In progress"),
               "awaiting_verification": _l("Awaiting verification"), "closed": _l("Closed"),
               "cancelled": _l("Cancelled")},
    # The dashboard's state filter: classes of status, counted.
    "state": {"open": _l("Not closed"), "overdue": _l("Overdue"), "closed": _l("Closed"),
              "cancelled": _l("Cancelled")},
    "severity": {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High"), "veto": _l("Veto")},
    "level": {"primary": _l("Primary"), "junior": _l("Junior secondary")},
    "plan_state": {"upcoming": _l("Upcoming"), "late": _l("Late"), "missed": _l("Missed")},
    "recurrence": {"once": _l("Once"), "monthly": _l("Monthly"), "quarterly": _l("Quarterly"),
                   "termly": _l("Each term")},
    "chart": {"opened": _l("Opened"), "closed": _l("Closed")},
}


def label(kind: str, code) -> str:
    """The word for a stored code (an enum or its value); an unknown code is shown as it is."""
    value = getattr(code, "value", code)
    word = LABELS[kind].get(value)
    return str(word) if word is not None else ("" if value is None else str(value))

