"""Shared pieces: pagination, problems."""
import re
from datetime import date, datetime, timezone

from marshmallow import Schema, ValidationError, fields, validate

from inspections.numbers import DECIMAL_TEXT

# Dates and times a record may carry: the years around now (a date far outside them is a typing
# slip, and at the calendar's ends converting it to UTC or adding a day overflows).
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
DATES = validate.Range(min=EARLIEST, max=LATEST, error="must be a date from 2000-01-01 to 2100-12-31")

_LANG = re.compile(r"^(zh|en)(?:[-_][A-Za-z0-9]{1,8})*$")


def normal_lang(value) -> str | None:
    """A language as people write it (zh, zh_CN, zh-Hans-CN, en, en-US, EN_gb) as the catalogue's locale
    ("zh-CN" or "en"); None for one the pages do not speak."""
    m = _LANG.match(str(value or "").strip().lower())
    return None if m is None else ("zh-CN" if m.group(1) == "zh" else "en")


class Lang(fields.String):
    """A language argument in any of its common spellings, loaded as "zh-CN" or "en"."""

    default_error_messages = {"invalid_lang": "must be Chinese (zh-CN, zh, zh_CN) or English (en, en-US)"}

    def _deserialize(self, value, attr, data, **kwargs):
        lang = normal_lang(super()._deserialize(value, attr, data, **kwargs))
        if lang is None:
            raise self.make_error("invalid_lang")
        return lang


def times(value: datetime) -> None:
    """Validator for an aware date-time: within DATES once in UTC (no OverflowError at the ends)."""
    try:
        day = value.astimezone(timezone.utc).date()
    except (OverflowError, ValueError):
        day = None
    if day is None or not EARLIEST <= day <= LATEST:
        raise ValidationError("must be a time from 2000-01-01 to 2100-12-31 (UTC)")


class WholeNumber(fields.Integer):
    """An integer as JSON writes one: `3`. marshmallow's own Integer takes `3.5` as 3 and `"3"` as 3;
    here a fraction, a float, a boolean or text is refused ("Not a valid integer."). `text=True` (query
    strings, whose values are all text) takes digits too: `"3"`."""

    _DIGITS = re.compile(r"[+-]?[0-9]+")

    def __init__(self, *args, text: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.text = text

    def _validated(self, value):
        if isinstance(value, (bool, float)) or (isinstance(value, str) and not (self.text and self._DIGITS.fullmatch(value))):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class DecimalText(fields.Decimal):
    """A decimal as JSON writes a number (12.5) or as text in the one decimal grammar ("12.5",
    inspections.numbers). marshmallow's own Decimal reads whatever Python's Decimal() does: "1_0" as 10,
    " 12.5 ", "1e1", "+3" and full-width "１２"; those are refused here ("Not a valid number.")."""

    def _validated(self, value):
        if isinstance(value, str) and not DECIMAL_TEXT.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class JSONBool(fields.Boolean):
    """A boolean as JSON writes one: `true` or `false`. marshmallow's Boolean also takes 1, "yes",
    "on" and more (and Python calls 1 == True), which would bend "values compare as JSON"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


# A record version as stored (a PostgreSQL integer): a bigger one is no version of ours, and binding it
# would fail the query.
VERSION = validate.Range(min=0, max=2**31 - 1)


class Version(WholeNumber):
    """A record version a request says it is based on: a whole number within what a version can be (else 422
    on the field, never a 409 saying it moved on, nor a query failing). The one definition every way in uses."""

    def __init__(self, *args, **kwargs):
        kwargs["validate"] = [VERSION, *([kwargs["validate"]] if callable(kwargs.get("validate"))
                                         else kwargs.get("validate") or [])]
        super().__init__(*args, **kwargs)


class PageArgs(Schema):
    limit = WholeNumber(text=True, load_default=50, validate=validate.Range(min=1, max=500),
                           metadata={"description": "Items per page (1-500)."})
    cursor = fields.String(load_default=None, validate=validate.Length(max=500),
                           metadata={"description": "Opaque cursor from the previous page's next_cursor."})


def page_of(item_schema: type[Schema], name: str) -> type[Schema]:
    """A page schema wrapping a list of items."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema)),
        "next_cursor": fields.String(allow_none=True, metadata={"description": "Pass as ?cursor= for the next page; null on the last."}),
    }, name=name)


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = WholeNumber()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "Field path -> messages."})
    code = fields.String(metadata={"description": "The refusal's kind, else its HTTP family (server/openapi.py)."})


def field_paths(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as flat field paths: {"inspector_ids": {1: ["Not a valid UUID."]}} ->
    {"inspector_ids.1": ["Not a valid UUID."]}, under `prefix` (a bare message at the top: "_body"). The
    one way the API, the push's per-mutation errors and the pages name a field."""
    out: dict[str, list[str]] = {}

    def walk(path, node):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{path}.{k}" if path else str(k), v)
        elif isinstance(node, list) and all(isinstance(x, str) for x in node):
            out.setdefault(path or "_body", []).extend(node)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(f"{path}.{i}", v)
        else:
            out.setdefault(path or "_body", []).append(str(node))

    walk(prefix, messages)
    return out
