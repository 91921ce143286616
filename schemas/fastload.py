"""A fast path for loading big, well-formed payloads with the wire schemas: same result, marshmallow's rules.

Marshmallow spends ~30 µs on each small nested object (a getter closure, an error store and a
validator call per field). A device's push of 500 mutations, each with its `fields` loaded by
another schema, spent ~17 ms there, a fifth of the whole push. `FastSchema.load` first runs a
loader compiled from the schema's own declaration (its fields, data keys, defaults, `allow_none`
and validators), which checks each value with plain Python and returns exactly what marshmallow
would. The moment a value is not plainly valid (a wrong type, a failed validator, an unknown key,
a field kind it does not know how to check), the loader gives up and marshmallow loads the data
itself, so marshmallow stays the one authority for errors and their messages
(`tests/schemas/test_fastload.py` checks both give the same result on generated input).

Schemas with load hooks (`pre_load`, `post_load`, `validates`, `validates_schema`), `many`,
`partial` or an `unknown` other than RAISE are not compiled: their loads always go to marshmallow.
Field kinds the loader does not check itself are run through the field's own `deserialize`.
"""
from __future__ import annotations

import datetime as dt
import uuid

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA


class Decline(Exception):
    """The fast loader will not vouch for this input: load it with marshmallow."""


class Invalid:
    """An item of an `EachOrInvalid` list that did not load: the item as sent and marshmallow's messages."""

    def __init__(self, raw, messages):
        self.raw, self.messages = raw, messages

    def __eq__(self, other):
        return isinstance(other, Invalid) and (self.raw, self.messages) == (other.raw, other.messages)

    def __repr__(self):
        return f"Invalid({self.raw!r}, {self.messages!r})"


class EachOrInvalid(fields.List):
    """A list loaded item by item: an item that does not load becomes an `Invalid` in its place instead
    of failing the whole list (one bad mutation must not sink its batch). The list itself must still be
    a list, within its validators."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise self.make_error("invalid")
        out = []
        for each in value:
            try:
                out.append(self.inner.deserialize(each, **kwargs))
            except ValidationError as e:
                out.append(Invalid(each, e.messages))
        return out


def _uuid(value):
    if type(value) is not str:
        raise Decline
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Decline from None


def _str(value):
    if type(value) is not str:
        raise Decline
    return value


def _int(value):
    if type(value) is not int:  # bool is not int here; marshmallow refuses it, floats and text it coerces
        raise Decline
    return value


def _bool(value):
    if value is True or value is False:
        return value
    raise Decline


def _date(value):
    if type(value) is not str or not value:
        raise Decline
    try:
        return dt.date.fromisoformat(value)  # what marshmallow's Date runs for the "iso" format
    except ValueError:
        raise Decline from None


def _plain_dict(value):
    if type(value) is not dict:
        raise Decline
    return dict(value)


def _validator_check(v):
    """A predicate for a validator: hand-written for the common ones, else the validator itself."""
    if type(v) is validate.Length:
        lo, hi, eq = v.min, v.max, v.equal
        if eq is not None:
            return lambda x: len(x) == eq
        return lambda x: (lo is None or len(x) >= lo) and (hi is None or len(x) <= hi)
    if type(v) is validate.OneOf:
        choices = v.choices
        return lambda x: x in choices
    if type(v) is validate.Regexp:
        match = v.regex.match
        return lambda x: match(x) is not None
    if type(v) is validate.Range and v.min_inclusive and v.max_inclusive:
        lo, hi = v.min, v.max
        return lambda x: (lo is None or x >= lo) and (hi is None or x <= hi)

    def run(x):
        try:
            r = v(x)
        except ValidationError:
            return False
        return isinstance(v, validate.Validator) or r is not False
    return run


def _field_loader(field: fields.Field, name: str):
    """value -> loaded value, or Decline. `None` handling and validators as marshmallow's `deserialize`."""
    kind = type(field)
    check = None
    if field.pre_load or field.post_load:
        check = None
    elif kind is fields.String:
        check = _str
    elif kind is fields.UUID:
        check = _uuid
    elif issubclass(kind, fields.Integer):  # an int passes; anything else is the field's own to refuse
        check = _int
    elif kind is fields.Boolean and True in field.truthy and False in field.falsy:
        check = _bool
    elif kind is fields.Date and (field.format in (None, "iso", "iso8601")):
        check = _date
    elif kind is fields.Dict and field.key_field is None and field.value_field is None:
        check = _plain_dict
    elif kind is fields.Raw:
        check = lambda value: value  # noqa: E731
    elif kind is fields.Enum and field.by_value is False:
        members = field.enum.__members__

        def check(value):
            if type(value) is not str or value not in members:
                raise Decline
            return members[value]
    elif kind is EachOrInvalid:
        inner = _field_loader(field.inner, name)

        def one(v):
            try:
                return inner(v)
            except Decline:
                try:
                    return field.inner.deserialize(v)
                except ValidationError as e:
                    return Invalid(v, e.messages)

        def check(value):
            if type(value) is not list:
                raise Decline
            return [one(v) for v in value]
    elif kind is fields.List:
        inner = _field_loader(field.inner, name)

        def check(value):
            if type(value) is not list:
                raise Decline
            return [inner(v) for v in value]
    elif kind is fields.Nested and not field.many and field.only is None and not field.exclude \
            and field.unknown is None:
        nested = compile_schema(field.schema)
        if nested is not None:
            check = nested

    if check is None:
        def generic(value):  # the field's own code: exact by construction
            try:
                return field.deserialize(value, name, None)
            except ValidationError:
                raise Decline from None
        return generic

    preds = [_validator_check(v) for v in field.validators]
    allow_none = field.allow_none

    def load(value):
        if value is None:
            if allow_none:
                return None
            raise Decline
        out = check(value)
        for ok in preds:
            if not ok(out):
                raise Decline
        return out
    return load


def compile_schema(schema: Schema):
    """A loader `data -> dict` (raising Decline) for the schema, or None if it cannot be compiled."""
    if schema.many or schema.partial or schema.unknown != RAISE:
        return None
    hooks = schema._hooks
    if any(hooks.get(tag) for tag in (PRE_LOAD, POST_LOAD, VALIDATES, VALIDATES_SCHEMA)):
        return None
    plan = []
    for attr, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else attr
        plan.append((key, field.attribute or attr, _field_loader(field, key), field.required, field.load_default))
    known = frozenset(p[0] for p in plan)

    def load(data):
        if type(data) is not dict:
            raise Decline
        for k in data:
            if k not in known:
                raise Decline
        out = {}
        for key, attr, loader, required, default in plan:
            if key in data:
                out[attr] = loader(data[key])
            elif required:
                raise Decline
            elif default is not missing:
                out[attr] = default() if callable(default) else default
        return out
    return load


class FastSchema(Schema):
    """A schema whose plain `load(data)` tries the compiled loader first (see the module docstring)."""

    def load(self, data, *, many=None, partial=None, unknown=None):
        if many is None and partial is None and unknown is None:
            loader = self.__dict__.get("_fast_loader", missing)
            if loader is missing:
                loader = self.__dict__["_fast_loader"] = compile_schema(self)
            if loader is not None:
                try:
                    return loader(data)
                except Decline:
                    pass
        return super().load(data, many=many, partial=partial, unknown=unknown)
