"""Checklist templates (read side)."""
from marshmallow import Schema, fields

from inspections.templates.enums import VersionStatus


class TemplateVersionSummary(Schema):
    id = fields.UUID()
    number = fields.Integer()
    status = fields.Enum(VersionStatus)
    effective_from = fields.Date(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)
    content_sha256 = fields.String(allow_none=True)


class TemplateOut(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    jurisdiction_id = fields.UUID(allow_none=True)
    parent_id = fields.UUID(allow_none=True)
    versions = fields.List(fields.Nested(TemplateVersionSummary))


class TemplateVersionOut(TemplateVersionSummary):
    template_id = fields.UUID()
    definition = fields.Dict()
