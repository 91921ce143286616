"""Text rules shared by every wire format."""
from __future__ import annotations

NUL_MESSAGE = "may not contain a NUL character (U+0000)"


def nul_paths(value, path: str = "") -> list[str]:
    """Dotted paths of the strings (and keys) in a JSON value that hold a NUL character, which
    PostgreSQL's text and jsonb cannot store."""
    out: list[str] = []
    if isinstance(value, str):
        if "\x00" in value:
            out.append(path or "_body")
    elif isinstance(value, dict):
        for k, v in value.items():
            p = f"{path}.{k}" if path else str(k)
            if "\x00" in str(k):
                out.append(p)
            out.extend(nul_paths(v, p))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(nul_paths(v, f"{path}.{i}" if path else str(i)))
    return out


def has_nul(value) -> bool:
    """Whether any string (or key) in a JSON value holds a NUL character (quick; `nul_paths` names them)."""
    t = type(value)
    if t is str:
        return "\x00" in value
    if t is dict:
        return any("\x00" in k or has_nul(v) for k, v in value.items()) if all(type(k) is str for k in value) \
            else bool(nul_paths(value))
    if t is list:
        return any(has_nul(v) for v in value)
    return False
