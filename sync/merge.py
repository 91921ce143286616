"""Three-way, field-level merge of a device's changes into the server's copy of a record."""
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


def three_way(base: dict | None, server: dict, client: dict) -> tuple[dict, dict]:
    """Split a client's changed fields into those to apply and those contested.

    A field is applied when the server has not changed it since the client's base (or both sides
    reached the same value); it is contested when both changed it to different values, or when the
    base is unknown and the values differ. Values compare as JSON (`same`).
    Contested: {field: {"base", "server", "client"}}.
    """
    apply: dict = {}
    contested: dict = {}
    for field, theirs in client.items():
        ours = server.get(field)
        if same(theirs, ours):
            continue
        if base is not None and field in base and same(base[field], ours):
            apply[field] = theirs
        else:
            contested[field] = {"base": None if base is None else base.get(field), "server": ours, "client": theirs}
    return apply, contested
