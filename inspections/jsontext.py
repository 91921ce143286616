"""JSON text read with orjson where it reads exactly as the standard library does, and by the standard
library otherwise: request bodies (`server.jsonio`) and the database's json/jsonb columns (`db.make_engine`).

orjson takes about half the standard library's time. It reads an integer of 19 digits or more as a float
where the standard library keeps it exact, and refuses what the standard library takes (NaN, 1e400, a
lone surrogate, a BOM): such text is read by the standard library, so the result never differs.
"""
from __future__ import annotations

import json

import orjson

# A run of 19 digits may be an integer beyond 64 bits: found by mapping every digit to "0" and looking for
# 19 of them in a row (a regular expression took 1.3 ms over a push of 500 creates, 126 kB; this a tenth).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def long_digits(s: str | bytes) -> bool:
    """Whether the text holds a run of 19 or more digits."""
    raw = s if isinstance(s, bytes) else s.encode("utf-8", "surrogatepass")
    return b"0" * 19 in raw.translate(_DIGITS_AS_ZERO)


def loads(s: str | bytes):
    """The value of JSON text, as `json.loads` reads it. Raises ValueError (json.JSONDecodeError) on
    text that is not JSON, and TypeError on what is not text (SQLite hands a number stored as one), as
    `json.loads` does."""
    if type(s) in (str, bytes) and not long_digits(s):
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            pass
    return json.loads(s)
