"""Days are the business zone's (inspections.clock), never the UTC date or the machine's.

From 16:00 UTC it is already tomorrow in Asia/Shanghai: `date.today()` or `utcnow().date()` named
yesterday there, so a template effective "today" was refused as past, and a county's self-report was
checked against the template in force the day before. Every day is `clock.today()` or
`clock.day_of(instant)`; this scan keeps the other spellings out of the code, tests and benchmarks.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UTC_DAY = re.compile(r"\bdate\.today\(\)|utcnow\(\)\.date\(\)|datetime\.(?:utc)?now\(\)\.date\(\)")


def test_no_day_is_taken_from_the_utc_date_or_the_machines_zone():
    found = []
    for folder in ("inspections", "server", "sync", "schemas", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == Path(__file__).resolve():
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if UTC_DAY.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "use clock.today() / clock.day_of(...):\n" + "\n".join(found)


def test_the_scan_recognises_each_spelling():
    for line in ("d = date.today()", "x = utcnow().date() + t", "datetime.now().date()", "datetime.utcnow().date()"):
        assert UTC_DAY.search(line), line
    assert not UTC_DAY.search("d = clock.today()")
