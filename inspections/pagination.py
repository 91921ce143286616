"""Keyset pagination: stable under concurrent inserts, cheap at any depth."""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from inspections.db import as_utc
from inspections.errors import ValidationFailed

MAX_LIMIT = 500


@dataclass
class Page:
    items: list
    next_cursor: str | None


def _encode(values: tuple) -> str:
    def enc(v):
        if isinstance(v, (uuid.UUID, datetime, date)):
            return {"t": type(v).__name__, "v": v.isoformat() if not isinstance(v, uuid.UUID) else str(v)}
        return v
    raw = json.dumps([enc(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, order_cols: list) -> tuple:
    """The keyset position in a cursor, each value of its column's type (else 422: a forged cursor
    must not reach the database as a mistyped comparison)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        items = json.loads(raw)
        if not isinstance(items, list) or len(items) != len(order_cols):
            raise ValueError
        out = []
        for v, col in zip(items, order_cols):
            if isinstance(v, dict):
                t, s = v["t"], v["v"]
                v = {"UUID": uuid.UUID, "datetime": datetime.fromisoformat, "date": date.fromisoformat}[t](s)
            want = col.type.python_type
            if not isinstance(v, want) or isinstance(v, bool) != (want is bool) or (
                    want is date and isinstance(v, datetime)):
                raise ValueError
            if isinstance(v, datetime):
                as_utc(v)  # naive, or past the calendar's ends: ValueError
            out.append(v)
        return tuple(out)
    except (ValueError, KeyError, TypeError, NotImplementedError, json.JSONDecodeError):
        raise ValidationFailed("Invalid cursor", {"cursor": ["is not a cursor this API issued"]}) from None


def paginate(session: Session, stmt: Select, order_cols: list, *, cursor: str | None, limit: int,
             descending: bool = False) -> Page:
    """Rows after `cursor` ordered by `order_cols` (the last must be unique), at most `limit`; `descending`
    orders every column from the highest (newest first), the last one still breaking ties."""
    stmt = stmt.order_by(*(c.desc() for c in order_cols)) if descending else stmt.order_by(*order_cols)
    if cursor:
        after = _decode(cursor, order_cols)
        stmt = stmt.where(tuple_(*order_cols) < tuple_(*after) if descending
                          else tuple_(*order_cols) > tuple_(*after))
    rows = list(session.scalars(stmt.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = _encode(tuple(getattr(last, c.key) for c in order_cols))
    return Page(items=rows, next_cursor=next_cursor)
