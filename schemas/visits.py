"""Visits and their answers."""
import math

from marshmallow import Schema, fields, validate

from inspections.visits.enums import VisitStatus
from schemas.common import DATES, JSONBool, Version, WholeNumber

ITEM = validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$", error="an item code")


def _finite_number(v) -> bool:
    # NaN and infinities parse from JSON text ("NaN") but are no measurement, and jsonb refuses them.
    return isinstance(v, (int, float)) and not isinstance(v, bool) and (isinstance(v, int) or math.isfinite(v))


class AnswerValue(fields.Raw):
    """A checklist answer: number, boolean, text (<= 2000 chars), or a list of <= 500 numbers (class sizes)."""

    default_error_messages = {"invalid": "must be a number, boolean, text (<= 2000 chars) or a list of <= 500 numbers"}

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None or isinstance(value, bool) or _finite_number(value) or (
                isinstance(value, str) and len(value) <= 2000):
            return value
        if isinstance(value, list) and len(value) <= 500 and all(_finite_number(v) for v in value):
            return value
        raise self.make_error("invalid")


class ResponseIn(Schema):
    """One answer to write: only the fields sent change (a new answer starts empty and unflagged)."""

    item_code = fields.String(required=True, validate=ITEM)
    section = fields.String(load_default="", validate=validate.OneOf(["", "primary", "junior"]))
    value = AnswerValue(allow_none=True, metadata={
        "description": "A value of the item's kind in the visit's template (whole number >= 0, number >= 0, "
                       "true/false, one of a rating's choices, text, a list of class sizes or room areas, "
                       "\"HH:MM\"; \"n/a\" only where the template allows it; null clears the answer). "
                       "Another is refused (422, `answers.N.value`): the rule scoring judges answers by."})
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    flagged = JSONBool()
    version = Version(metadata={
        "description": "The answer's version this edit is based on; refused (409) if the answer moved on."})


class ResponsesIn(Schema):
    answers = fields.List(fields.Nested(ResponseIn), required=True, validate=validate.Length(min=1, max=500))


class ResponseOut(Schema):
    id = fields.UUID()
    item_code = fields.String()
    section = fields.String()
    value = fields.Raw(allow_none=True)
    note = fields.String(allow_none=True)
    flagged = fields.Boolean()
    version = WholeNumber()
    updated_at = fields.AwareDateTime()


class VisitOut(Schema):
    id = fields.UUID()
    school_id = fields.UUID()
    template_version_id = fields.UUID()
    status = fields.Enum(VisitStatus)
    planned_for = fields.Date(allow_none=True)
    started_at = fields.AwareDateTime(allow_none=True)
    submitted_at = fields.AwareDateTime(allow_none=True)
    inspector_ids = fields.List(fields.UUID())
    notes = fields.String(allow_none=True)
    version = WholeNumber()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class VisitIn(Schema):
    id = fields.UUID(load_default=None, metadata={"description": "Client-generated id (offline devices)."})
    school_id = fields.UUID(required=True)
    inspector_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=20))
    planned_for = fields.Date(load_default=None, validate=DATES)
    template_version_id = fields.UUID(load_default=None, metadata={"description": (
        "The version the client has. The visit always pins the version in force for the school on planned_for "
        "(the record returned shows it); an id that is no published version of a template applying to the "
        "school is a 422.")})
    notes = fields.String(load_default=None, validate=validate.Length(max=4000))


class VisitPatch(Schema):
    planned_for = fields.Date(validate=DATES)
    inspector_ids = fields.List(fields.UUID(), validate=validate.Length(max=20))
    notes = fields.String(validate=validate.Length(max=4000))
    status = fields.Enum(VisitStatus, metadata={"description": "planned -> in_progress -> submitted; or cancelled."})
    version = Version(metadata={"description": "If given, the change is refused (409) unless it matches."})


class VisitQuery(Schema):
    school_id = fields.UUID(load_default=None)
    status = fields.Enum(VisitStatus, load_default=None)
    mine = fields.Boolean(load_default=False, metadata={"description": "Only visits I am an inspector on."})
