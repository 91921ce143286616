"""Three-way, field-level merge of a device's changes into the server's copy of a record."""
from __future__ import annotations

from inspections.values import same

__all__ = ["same", "three_way"]


def three_way(base: dict | None, server: dict, client: dict) -> tuple[dict, dict]:
    """Split a client's changed fields into those to apply and those contested.

    A field is applied when the server has not changed it since the client's base (or both sides
    reached the same value); a field the client sends unchanged from its base keeps the server's value;
    it is contested when both changed it to different values, or when the
    base is unknown and the values differ. Values compare as JSON (`same`).
    Contested: {field: {"base", "server", "client"}}.
    """
    apply: dict = {}
    contested: dict = {}
    for field, theirs in client.items():
        ours = server.get(field)
        if same(theirs, ours):
            continue
        if base is not None and field in base and same(base[field], theirs):
            continue  # the device sent the value it started from: it did not change this field
        if base is not None and field in base and same(base[field], ours):
            apply[field] = theirs
        else:
            contested[field] = {"base": None if base is None else base.get(field), "server": ours, "client": theirs}
    return apply, contested
