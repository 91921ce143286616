"""Wire validation of the `fields` of a pushed mutation, per entity and operation."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from inspections.tickets.enums import TicketStatus
from inspections.visits.enums import VisitStatus
from schemas.common import DATES, JSONBool, field_paths
from schemas.fastload import FastSchema
from schemas.text import TEXT_MESSAGE, bad_text_paths, has_bad_text
from schemas.visits import AnswerValue


class VisitCreate(FastSchema):
    school_id = fields.UUID(required=True)
    inspector_ids = fields.List(fields.UUID(), validate=validate.Length(max=20))
    planned_for = fields.Date(allow_none=True, validate=DATES)
    template_version_id = fields.UUID(allow_none=True)
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))
    status = fields.Enum(VisitStatus)


class VisitUpdate(FastSchema):
    inspector_ids = fields.List(fields.UUID(), validate=validate.Length(max=20))
    planned_for = fields.Date(validate=DATES)
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))
    status = fields.Enum(VisitStatus)


class ResponseUpdate(FastSchema):
    value = AnswerValue(allow_none=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))
    flagged = JSONBool()


class ResponseCreate(ResponseUpdate):
    visit_id = fields.UUID(required=True)
    item_code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$", error="an item code"))
    section = fields.String(load_default="", validate=validate.OneOf(["", "primary", "junior"]))


class Milestone(FastSchema):
    milestone = fields.String(required=True, validate=validate.Length(min=1, max=500))
    due = fields.Date(required=True, validate=DATES)


class TicketEventCreate(FastSchema):
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
    if has_bad_text(data):  # PostgreSQL cannot store it: this mutation is rejected, the rest of the batch goes on
        return {}, {f"fields.{p}": [TEXT_MESSAGE] for p in bad_text_paths(data)}
    try:
        return SCHEMAS[(entity, op)].load(data or {}), {}
    except ValidationError as e:
        return {}, field_paths(e.messages, "fields")

