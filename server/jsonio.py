"""Responses serialised with orjson: the JSON Flask's provider writes, ~10x faster for big bodies.

A push answer (500 results with their records) or a pull page (1,000 changes) took 2-4 ms in the
standard library's encoder; orjson takes a tenth of that. What Flask's provider does is kept:
keys sorted, compact separators, dates, decimals, UUIDs and dataclasses through Flask's own
`default` (a date is still an HTTP date, a Decimal its text). Two differences, both still valid
JSON: text is written as UTF-8 rather than `\\u` escapes, and a non-finite float is `null`
(the standard library wrote `NaN`, which no JSON parser accepts). Anything orjson refuses (an
integer beyond 64 bits, a key it cannot sort) is written by Flask's provider as before; so is
pretty-printed output (debug mode) and any direct `dumps` call other than `response()`'s.

Request bodies are read by orjson too, with exactly the standard library's result: a body orjson
refuses, or one with a number orjson could read differently (19 digits or more), is read by the standard
library (`inspections.jsontext`, which the database's JSON columns are read through too;
tests/server/test_jsonio.py).
"""
from __future__ import annotations

import typing as t

import orjson
from flask.json.provider import DefaultJSONProvider

from inspections import jsontext

_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider with orjson doing the compact, key-sorted dumps."""

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        # Only the compact dump `response()` asks for; any other call is Flask's own.
        if self.sort_keys and kwargs == {"separators": (",", ":")}:
            try:
                return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()
            except TypeError:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits
                pass
        return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        # A request body read by `request.get_json()` (orjson: about half the standard library's time for
        # 126 kB of mutations) reads as the standard library reads it (`jsontext.loads`: what orjson refuses
        # or might read otherwise goes to `json.loads`, which is what Flask's own provider calls).
        return jsontext.loads(s) if not kwargs else super().loads(s, **kwargs)
