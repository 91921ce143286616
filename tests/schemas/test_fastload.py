"""The compiled fast path of the wire schemas gives marshmallow's result, or steps aside."""
from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, post_load, validate

from schemas.fastload import Decline, FastSchema, Invalid, compile_schema
from schemas.sync import MutationIn, PushIn
from sync import fields as wire

SCHEMAS = [MutationIn(), PushIn(), *wire.SCHEMAS.values()]
U = str(uuid.uuid4())

# Values near every field's edge: right and wrong types, every UUID spelling, enum names and
# values, dates real and impossible, lengths at and past the limits, non-finite floats, huge ints.
EDGE = st.sampled_from([
    None, True, False, 0, 1, -1, 2 ** 70, 1.5, 3.0, float("nan"), float("inf"), "", "x", "1", "true",
    U, U.upper(), "{" + U + "}", U.replace("-", ""), "urn:uuid:" + U, U[:-1],
    "planned", "in_progress", "submitted", "open", "closed", "acknowledged", "PLANNED",
    "2026-11-29", "2026-02-30", "20261129", "2026-W48-7", "29/11/2026",
    "primary", "junior", "other", "enrolment", "teachers.R1-x", "bad code!", "a" * 64, "a" * 65,
    "n" * 2000, "n" * 2001, "create", "update", "delete", "merge", "visit", "response",
    [], [1, 2], [1.5, True], [U], [U, "nope"], {}, {"a": 1}, {"milestone": "m", "due": "2026-12-01"},
])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)
VALUE = EDGE | JSON


def _keys(schema: Schema) -> list[str]:
    return [f.data_key or name for name, f in schema.load_fields.items()]


@st.composite
def payload(draw, schema: Schema, depth: int = 0):
    out = {}
    for key in _keys(schema):
        if draw(st.integers(0, 9)) == 0:
            continue  # missing
        field = schema.load_fields[next(n for n, f in schema.load_fields.items() if (f.data_key or n) == key)]
        inner = getattr(field, "inner", None)
        nested = getattr(inner, "schema", None) or getattr(field, "schema", None)
        if nested is not None and depth < 2 and draw(st.booleans()):
            items = draw(st.lists(payload(nested, depth + 1), max_size=3))
            out[key] = items if inner is not None else (items[0] if items else {})
        else:
            out[key] = draw(VALUE)
    if draw(st.integers(0, 14)) == 0:
        out[draw(st.text(max_size=5))] = 1  # perhaps an unknown key
    return out


def _marshmallow(schema: Schema, data, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(FastSchema, "load", Schema.load)  # marshmallow alone, nested schemas included
        try:
            return schema.load(data)
        except ValidationError as e:
            return e


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: type(s).__name__)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_fast_path_gives_marshmallows_result_or_steps_aside(schema, data, monkeypatch):
    raw = data.draw(payload(schema))
    loader = compile_schema(schema)
    try:
        fast = loader(raw)
    except Decline:
        fast = Decline
    reference = _marshmallow(schema, raw, monkeypatch)
    if fast is not Decline:
        assert not isinstance(reference, ValidationError), (raw, reference)
        assert fast == reference
    # And the schema's own load always answers as marshmallow does.
    try:
        got = schema.load(raw)
    except ValidationError as e:
        assert isinstance(reference, ValidationError) and e.messages == reference.messages
    else:
        assert got == reference


def _push():
    vid = str(uuid.uuid4())
    return {"device_id": "tablet-7", "mutations": [
        {"mutation_id": "m1", "entity": "visit", "id": vid, "op": "create",
         "fields": {"school_id": U, "planned_for": "2026-12-01", "notes": "上午", "inspector_ids": [U]}},
        {"mutation_id": "m2", "entity": "response", "id": str(uuid.uuid4()), "op": "create", "base_version": None,
         "fields": {"visit_id": vid, "item_code": "enrolment", "value": 480, "flagged": False}},
        {"mutation_id": "m3", "entity": "response", "id": str(uuid.uuid4()), "op": "update", "base_version": 2,
         "fields": {"value": [1.5, 2], "note": None}},
    ]}


def test_a_plain_push_takes_the_fast_path_and_loads_what_marshmallow_loads(monkeypatch):
    body = _push()
    loaded = compile_schema(PushIn())(body)  # raises Decline if the fast path stepped aside
    assert loaded == _marshmallow(PushIn(), body, monkeypatch)
    m = loaded["mutations"][0]
    assert m["id"] == uuid.UUID(body["mutations"][0]["id"]) and m["base_version"] is None
    assert loaded["mutations"][1]["fields"] == body["mutations"][1]["fields"]  # a copy of the raw dict
    visit = compile_schema(wire.SCHEMAS[("visit", "create")])(m["fields"])
    assert visit == {"school_id": uuid.UUID(U), "planned_for": date(2026, 12, 1), "notes": "上午",
                     "inspector_ids": [uuid.UUID(U)]}
    answer = compile_schema(wire.SCHEMAS[("response", "create")])(loaded["mutations"][1]["fields"])
    assert answer["section"] == "" and answer["value"] == 480  # load_default filled in


def test_bad_input_still_gets_marshmallows_messages():
    body = _push()
    body["mutations"][1]["op"] = "merge"
    body["mutations"][2]["base_version"] = True
    body["mutations"][0]["surprise"] = 1
    # Each mutation loads on its own: the bad ones come back as Invalid with marshmallow's messages.
    loaded = PushIn().load(body)["mutations"]
    assert [m.messages if isinstance(m, Invalid) else None for m in loaded[:3]] == [
        {"surprise": ["Unknown field."]}, {"op": ["Must be one of: create, update, delete."]},
        {"base_version": ["Not a valid integer."]}]
    with pytest.raises(ValidationError) as e:
        PushIn().load(body | {"mutations": "all"})
    assert e.value.messages == {"mutations": ["Not a valid list."]}
    assert wire.load("response", "create", {"visit_id": U, "item_code": "x y", "value": float("nan")})[1] == {
        "fields.item_code": ["an item code"], "fields.value": [wire.AnswerValue.default_error_messages["invalid"]]}


def test_schemas_with_load_hooks_or_options_are_left_to_marshmallow():
    class Hooked(FastSchema):
        a = fields.String()

        @post_load
        def upper(self, data, **kwargs):
            return {k: v.upper() for k, v in data.items()}

    class Plain(FastSchema):
        a = fields.String(validate=validate.Length(max=3))

    assert compile_schema(Hooked()) is None and Hooked().load({"a": "x"}) == {"a": "X"}
    assert compile_schema(Plain(partial=True)) is None and compile_schema(Plain(many=True)) is None
    assert compile_schema(Plain(unknown="exclude")) is None
    assert Plain(unknown="exclude").load({"a": "x", "b": 1}) == {"a": "x"}
    with pytest.raises(Decline):
        compile_schema(Plain())({"a": "long"})
