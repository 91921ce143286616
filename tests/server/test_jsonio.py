"""Responses written by orjson read exactly as Flask's own provider wrote them."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from server.jsonio import OrjsonProvider


@dataclass
class Point:
    x: int
    y: str


def _both(obj):
    app = Flask("t")
    ours, flask_own = OrjsonProvider(app), DefaultJSONProvider(app)
    compact = {"separators": (",", ":")}  # what response() asks for
    return ours.dumps(obj, **compact), flask_own.dumps(obj, **compact)


def test_same_document_as_flasks_provider():
    obj = {"b": [1, 2.5, None, True], "a": "还差 2 名教师", "when": datetime(2026, 11, 29, 8, 30, tzinfo=timezone.utc),
           "day": date(2026, 11, 29), "id": uuid.UUID(int=7), "area": Decimal("12.50"), "p": Point(1, "二"),
           "nested": {"z": 1, "y": {"x": []}}}
    ours, theirs = _both(obj)
    assert json.loads(ours) == json.loads(theirs)
    assert ours.index('"a"') < ours.index('"area"') < ours.index('"b"')  # keys sorted, as Flask sorts them
    assert "还差" in ours and "\\u" not in ours  # UTF-8 text rather than escapes
    assert json.loads(ours)["when"] == "Sun, 29 Nov 2026 08:30:00 GMT"  # Flask's date rule kept


def test_what_orjson_refuses_is_written_by_flask():
    big = {"n": 2 ** 70, "k": "x"}
    ours, theirs = _both(big)
    assert ours == theirs and json.loads(ours)["n"] == 2 ** 70


def test_app_responses_use_it(client):
    assert isinstance(client.application.json, OrjsonProvider)
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == json.loads(r.data)


def test_what_it_reads_is_what_the_standard_library_reads():
    """Request bodies are read by orjson where it reads them exactly as `json.loads` does, by the
    standard library otherwise (long integers, NaN, lone surrogates, BOMs, UTF-16, broken UTF-8)."""
    provider = OrjsonProvider(Flask("t"))
    texts = ['{"a": 1, "a": 2}', "123456789012345678901234567890", "18446744073709551616", "-9223372036854775809",
             '{"v": 1234567890123456789012}', "[1e400, -1e400]", "NaN", '"\\ud800"', "1.0", "0.1", "-0", "1E5",
             "0.30000000000000004", '{"t": "还差 2 名教师", "n": null, "b": [true, false]}', '"\\u0000"',
             '{"x": 12345678901234567.5}', "  {} "]
    for text in texts:
        for raw in (text, text.encode(), text.encode("utf-16"), b"\xef\xbb\xbf" + text.encode()):
            assert repr(provider.loads(raw)) == repr(json.loads(raw)), raw
    assert provider.loads(b'"\xed\xa0\x80"') == json.loads(b'"\xed\xa0\x80"') == "\ud800"  # not UTF-8, read
    for bad in ("[1, 2", '"\t"', "{}x", b'"\xff"', ""):
        try:
            json.loads(bad)
        except ValueError as e:
            expected = type(e)
        try:
            provider.loads(bad)
            raise AssertionError(f"{bad!r} was read")
        except ValueError as e:
            assert type(e) is expected, (bad, e)


def test_a_long_run_of_digits_is_found_wherever_it_is():
    """A body goes to the standard library exactly when it has 19 digits in a row (in a number, a string
    or a key; as text or bytes); 18, or 19 split by anything, stay with orjson."""
    from inspections.jsontext import long_digits as _long_digits
    for text, long in (('{"v": 1234567890123456789}', True), ('{"v": 123456789012345678}', False),
                       ('["a0000000000000000000"]', True), ('{"9999999999999999999": 1}', True),
                       ('[123456789.0123456789]', False), ('[1234567890, 123456789]', False),
                       ('"\\ud800 1234567890123456789"', True), ("0" * 19, True), ("0" * 18 + "x0", False)):
        assert _long_digits(text) is long and _long_digits(text.encode("utf-8", "surrogatepass")) is long, text


def test_the_database_json_columns_read_as_the_standard_library_reads_them(app, session):
    """json/jsonb columns are read by `jsontext.loads` (orjson where it agrees): an integer beyond 64
    bits, a long fraction and text orjson would refuse come back exactly as written."""
    import json

    from sqlalchemy import select

    from inspections.audit.models import AuditRecord
    from inspections.db import utcnow
    data = {"big": 123456789012345678901234, "neg": -9223372036854775809, "frac": 0.1234567890123456789,
            "small": 18, "text": "教育督导 \u00e9", "nested": [1, {"x": None, "y": True}]}
    session.add(AuditRecord(at=utcnow(), action="test.json", entity="visit", entity_id="x", data=data))
    session.commit()
    session.expire_all()
    (got,) = session.scalars(select(AuditRecord.data).where(AuditRecord.action == "test.json")).all()
    assert got == json.loads(json.dumps(data)) and type(got["big"]) is int and got["big"] == data["big"]
    assert type(got["neg"]) is int
