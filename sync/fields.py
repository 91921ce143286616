"""Wire validation of the `fields` of a pushed mutation, per entity and operation."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from inspections.tickets.enums import TicketStatus
from inspections.visits.enums import VisitStatus


class AnswerValue(fields.Raw):
    """A checklist answer: number, boolean, text (<= 2000 chars) or a list of <= 500 numbers."""

    default_error_messages = {"invalid": "must be a number, boolean, text (<= 2000 chars) or a list of <= 500 numbers"}

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 2000):
            return value
        if isinstance(value, list) and len(value) <= 500 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return value
        raise self.make_error("invalid")


class VisitCreate(Schema):
    school_id = fields.UUID(required=True)
    inspector_ids = fields.List(fields.UUID(), validate=validate.Length(max=20))
    planned_for = fields.Date(allow_none=True)
    template_version_id = fields.UUID(allow_none=True)
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))
    status = fields.Enum(VisitStatus)


class VisitUpdate(Schema):
    inspector_ids = fields.List(fields.UUID(), validate=validate.Length(max=20))
    planned_for = fields.Date()
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))
    status = fields.Enum(VisitStatus)


class ResponseUpdate(Schema):
    value = AnswerValue(allow_none=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    flagged = fields.Boolean()


class ResponseCreate(ResponseUpdate):
    visit_id = fields.UUID(required=True)
    item_code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$", error="an item code"))
    section = fields.String(load_default="", validate=validate.OneOf(["", "primary", "junior"]))


class Milestone(Schema):
    milestone = fields.String(required=True, validate=validate.Length(min=1, max=500))
    due = fields.Date(required=True)


class TicketEventCreate(Schema):
    """A step on a rectification ticket (append-only: never merged, never a conflict)."""

    ticket_id = fields.UUID(required=True)
    to = fields.Enum(TicketStatus, required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    plan = fields.List(fields.Nested(Milestone), load_default=None, allow_none=True, validate=validate.Length(max=50))
    photo_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=50))


SCHEMAS = {("visit", "create"): VisitCreate(), ("visit", "update"): VisitUpdate(),
           ("response", "create"): ResponseCreate(), ("response", "update"): ResponseUpdate(),
           ("ticket_event", "create"): TicketEventCreate()}
WRITABLE = {"visit", "response", "ticket_event"}


def load(entity: str, op: str, data: dict) -> tuple[dict, dict]:
    """(fields, errors): validated fields of a mutation, or field-path -> messages."""
    if op == "delete" and (entity, "update") in SCHEMAS:
        return {}, {}
    if (entity, op) not in SCHEMAS:
        return {}, {"op": [f"{entity} records can only be {' or '.join(o for e, o in SCHEMAS if e == entity)}d"]}
    try:
        return SCHEMAS[(entity, op)].load(data or {}), {}
    except ValidationError as e:
        return {}, {f"fields.{k}": v if isinstance(v, list) else [str(v)] for k, v in e.messages.items()}
