"""Text rules shared by every wire format: what PostgreSQL can store.

Two things JSON can spell that PostgreSQL's text and jsonb cannot hold: the NUL character (the escape
\\u0000) and an unpaired UTF-16 surrogate (an escape such as \\ud800 with no partner, which is no
character at all and cannot be encoded as UTF-8). Left alone, either fails deep inside a write.
"""
from __future__ import annotations

TEXT_MESSAGE = "may not contain a NUL character (U+0000) or an unpaired surrogate"


def unstorable(s: str) -> bool:
    """Whether a string holds a NUL character or an unpaired surrogate."""
    if "\x00" in s:
        return True
    if s.isascii():
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def bad_text_paths(value, path: str = "") -> list[str]:
    """Dotted paths of the strings (and keys) in a JSON value that PostgreSQL cannot store."""
    out: list[str] = []
    if isinstance(value, str):
        if unstorable(value):
            out.append(path or "_body")
    elif isinstance(value, dict):
        for k, v in value.items():
            p = f"{path}.{printable(k)}" if path else printable(k)
            if isinstance(k, str) and unstorable(k):
                out.append(p)
            out.extend(bad_text_paths(v, p))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(bad_text_paths(v, f"{path}.{i}" if path else str(i)))
    return out


def printable(key) -> str:
    """A key as it can be shown in an error (an unstorable one with its bad characters escaped)."""
    k = str(key)
    return k.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000") if unstorable(k) else k


def has_bad_text(value) -> bool:
    """Whether any string (or key) in a JSON value is unstorable (quick; `bad_text_paths` names them)."""
    t = type(value)
    if t is str:
        return unstorable(value)
    if t is dict:
        return any((type(k) is str and unstorable(k)) or has_bad_text(v) for k, v in value.items())
    if t is list:
        return any(has_bad_text(v) for v in value)
    return False


def storable(value: str) -> None:
    """A marshmallow validator: ValidationError (TEXT_MESSAGE) for text PostgreSQL cannot store
    (`unstorable`), where the field is checked in the schema rather than at the door (`server.textguard`)."""
    from marshmallow import ValidationError
    if unstorable(value):
        raise ValidationError(TEXT_MESSAGE)
