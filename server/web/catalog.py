"""`make translations` (python -m server.web.catalog): extract the page words, merge them into both catalogues,
compile the .mo files. English is the source language: its catalogue repeats each msgid (so a missing
English entry is caught like a missing Chinese one). A msgid new to zh-CN is left empty and listed; the
page tests fail until it is translated in server/web/translations/zh_Hans_CN/LC_MESSAGES/messages.po.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LOCALES = ("zh_Hans_CN", "en")
KEYWORDS = ["-k", "_l", "-k", "lazy_gettext", "-k", "_lp:1c,2", "-k", "lazy_pgettext:1c,2"]


def _filled(string) -> bool:
    return bool(string) and (isinstance(string, str) or all(string))


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def mo_bytes(locale: str) -> bytes:
    """The .mo the locale's .po compiles to (what the committed .mo must equal)."""
    import io
    with open(po_path(locale), "rb") as fh:
        cat = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, cat)
    return buf.getvalue()


def main() -> int:
    pot = TRANSLATIONS / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", *KEYWORDS,
                    "--no-location", "--sort-output", "--omit-header", "-o", str(pot), "."], cwd=ROOT, check=True)
    with open(pot, "rb") as fh:
        template = read_po(fh)
    for locale in LOCALES:
        path = po_path(locale)
        old = None
        if path.exists():
            with open(path, "rb") as fh:
                old = read_po(fh, locale=locale)
        cat = Catalog(locale=locale, project="inspections", domain="messages", fuzzy=False)
        for m in template:
            if not m.id:
                continue
            prev = old.get(m.id, context=m.context) if old is not None else None
            if prev is not None and _filled(prev.string):
                string = prev.string
            elif locale == "en":
                string = m.id
            else:
                string = "" if isinstance(m.id, str) else ("",)
            cat.add(m.id, string, flags=m.flags, context=m.context)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            write_po(fh, cat, sort_output=True, width=120, no_location=True, omit_header=False)
        path.with_suffix(".mo").write_bytes(mo_bytes(locale))
        missing = [m.id for m in cat if m.id and not _filled(m.string)]
        for mid in missing:
            print(f"{locale}: needs a translation: {mid!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
