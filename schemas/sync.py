"""Sync wire formats: pull pages, push batches and their results, conflicts."""
from marshmallow import Schema, fields, validate

from schemas.common import Version, WholeNumber
from schemas.fastload import EachOrInvalid, FastSchema
from schemas.text import storable

OPS = ("create", "update", "delete")


class PullArgs(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=500),
                           metadata={"description": "Opaque cursor from the previous page; omit for a full snapshot."})
    limit = WholeNumber(text=True, load_default=500, validate=validate.Range(min=1, max=1000))


class ChangeOut(Schema):
    entity = fields.String(metadata={"description": "school, template_version, visit, response, ticket, "
                                                    "ticket_event or photo"})
    id = fields.String()
    op = fields.String(metadata={"description": "upsert or delete (a tombstone: data is null)"})
    version = WholeNumber(allow_none=True)
    data = fields.Dict(allow_none=True)
    changed_at = fields.String()


class MissingEvidenceOut(Schema):
    item_code = fields.String(allow_none=True)
    photo_id = fields.String(allow_none=True)
    reason = fields.String()


class PullEvidenceOut(Schema):
    complete = fields.Boolean()
    photos = WholeNumber()
    missing = fields.List(fields.Nested(MissingEvidenceOut))
    flagged = fields.List(fields.String())


class PullOut(Schema):
    changes = fields.List(fields.Nested(ChangeOut))
    has_more = fields.Boolean()
    cursor = fields.String(metadata={"description": "Store it; pass it as ?cursor= next time (410 means resync)."})
    snapshot = fields.Boolean(metadata={"description": "This page started a full snapshot (no cursor given)."})
    evidence = fields.Dict(keys=fields.String(), values=fields.Nested(PullEvidenceOut), metadata={
        "description": "For each visit whose visit or photo records are in this page: is its photo evidence "
                       "complete, and what is still missing (photo not sent, not processed, rejected)."})


class MutationIn(FastSchema):
    # Text is checked here, not at the door: a mutation with unstorable text is rejected alone (textguard).
    mutation_id = fields.String(required=True, validate=[validate.Length(min=1, max=64), storable],
                                metadata={"description": "Client-generated, unique per device; retries reuse it."})
    entity = fields.String(required=True, validate=[validate.Length(min=1, max=32), storable], metadata={
        "description": "visit | response (staff) | ticket_event (create only: a step on a ticket, e.g. a school "
                       "answering it; the ticket's state machine applies, a refusal is `rejected` with its reason)."})
    id = fields.UUID(required=True)
    op = fields.String(required=True, validate=validate.OneOf(OPS))
    base_version = Version(load_default=None, allow_none=True,
                           metadata={"description": "The server version the change was made on."})
    # Keys and values are checked per entity by sync.fields (a typed key field here would re-check each key).
    fields_ = fields.Dict(data_key="fields", attribute="fields", load_default=dict)


class PushIn(FastSchema):
    device_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    # Each mutation loads on its own: a malformed one is answered `rejected` with its field errors, the
    # rest of the batch is applied (schemas.fastload.EachOrInvalid).
    mutations = EachOrInvalid(fields.Nested(MutationIn), required=True, validate=validate.Length(min=1))


class PushOut(Schema):
    results = fields.List(fields.Dict(), metadata={
        "description": "One per mutation, in order: status applied | merged | conflict | duplicate | rejected. A "
                       "rejected one carries `reason` (English), `errors` (field -> messages) and `code`, the "
                       "refusal's kind for a client to tell its user from: visit.frozen, visit.open_conflicts, "
                       "visit.cannot_go_back, visit.submit_contested, visit.school_not_covered, answer.invalid_value, "
                       "sync.deleted, "
                       "sync.id_used, sync.not_writable, or a family: invalid, not_found, forbidden, conflict, "
                       "refused."})


class ConflictOut(Schema):
    id = fields.UUID()
    entity = fields.String()
    entity_id = fields.UUID()
    school_id = fields.UUID()
    visit_id = fields.UUID(allow_none=True)
    base_version = WholeNumber(allow_none=True)
    server_version = WholeNumber()
    fields_ = fields.Dict(data_key="fields", attribute="fields")
    status = fields.String()
    device_id = fields.String(allow_none=True)
    created_by_id = fields.UUID(allow_none=True)
    created_at = fields.AwareDateTime()
    resolved_by_id = fields.UUID(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    resolution = fields.Dict(allow_none=True)


class ConflictQuery(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved", "all"]))
    visit_id = fields.UUID(load_default=None)
    id = fields.UUID(load_default=None, metadata={"description": "Only this conflict."})


class FieldChoice(Schema):
    take = fields.String(required=True, validate=validate.OneOf(["server", "client", "custom"]))
    value = fields.Raw(allow_none=True, metadata={"description": "The value to write: with take \"custom\" only "
                                                                "(beside server or client it is a 422)."})


class ResolveIn(Schema):
    conflict_id = fields.UUID(required=True)
    take = fields.String(load_default=None, validate=validate.OneOf(["server", "client"]),
                         metadata={"description": "Default choice for every contested field."})
    fields_ = fields.Dict(keys=fields.String(), values=fields.Nested(FieldChoice), data_key="fields",
                          attribute="fields", load_default=dict)
    version = Version(load_default=None, metadata={"description": (
        "The record's version the choice was made against. Needed only to keep a client or custom value on a "
        "record changed since the conflict was recorded (the 409 shows `current.version` and `current.fields`);"
        " it must be the current version.")})
