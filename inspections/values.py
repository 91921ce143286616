"""Comparing stored values as the wire writes them."""
from __future__ import annotations


def same(a, b) -> bool:
    """Equality as JSON values (RFC 8259): `true`, `1`, `1.0` and `"1"` are four different values,
    though Python calls `True == 1 == 1.0`. Objects compare by keys, arrays in order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b
