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
