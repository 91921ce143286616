"""Rectification tickets and their events."""
from marshmallow import Schema, fields, validate

from inspections.tickets.enums import Severity, TicketStatus
from schemas.common import DATES, WholeNumber


class TicketEventOut(Schema):
    id = fields.UUID()
    at = fields.AwareDateTime()
    actor_id = fields.UUID(allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    data = fields.Dict()


class TicketOut(Schema):
    id = fields.UUID()
    school_id = fields.UUID()
    item_code = fields.String()
    section = fields.String()
    title = fields.String()
    status = fields.Enum(TicketStatus)
    severity = fields.Enum(Severity)
    measured = fields.Raw(allow_none=True)
    required = fields.Raw(allow_none=True)
    shortfall = fields.Decimal(allow_none=True, as_string=True)
    unit = fields.String(allow_none=True)
    due_date = fields.Date(allow_none=True)
    overdue = fields.Boolean()
    inspector_id = fields.UUID(allow_none=True)
    opened_at = fields.AwareDateTime()
    closed_at = fields.AwareDateTime(allow_none=True)
    version = WholeNumber()


class TicketDetailOut(TicketOut):
    events = fields.List(fields.Nested(TicketEventOut))
    allowed_next = fields.List(fields.String(), metadata={"description": "States you may move it to now."})


class TicketQuery(Schema):
    status = fields.Enum(TicketStatus, load_default=None)
    school_id = fields.UUID(load_default=None)
    item_code = fields.String(load_default=None, validate=validate.Length(max=64))
    overdue = fields.Boolean(load_default=None)


class Milestone(Schema):
    milestone = fields.String(required=True, validate=[validate.Length(min=1, error="write the milestone"),
                                                       validate.Length(max=500)])
    due = fields.Date(required=True, validate=DATES)


class TransitionIn(Schema):
    to = fields.Enum(TicketStatus, required=True)
    note = fields.String(load_default=None, validate=validate.Length(max=4000))
    plan = fields.List(fields.Nested(Milestone), load_default=None, validate=validate.Length(max=50))
    photo_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=50), metadata={
        "description": "Evidence photos uploaded for this ticket, each named once (a photo named twice is a 422)."})
