"""Checklist templates (read side)."""
from marshmallow import Schema, fields, validate

from inspections.templates.enums import VersionStatus
from schemas.common import DATES, WholeNumber


class TemplateVersionSummary(Schema):
    id = fields.UUID()
    number = WholeNumber()
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


class TemplateIn(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_.-]{1,63}$",
                                                                 error="lower-case letters, digits, . _ -"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    jurisdiction_id = fields.UUID(required=True, metadata={"description": "The city or county that owns it."})
    parent_id = fields.UUID(required=True, metadata={"description": "The template it extends (e.g. national-2017)."})


class VersionIn(Schema):
    overlay = fields.Dict(required=True, metadata={
        "description": "set_thresholds, set_rules, add_items, add_indicators, disable (see docs)."})
    effective_from = fields.Date(load_default=None, allow_none=True, validate=DATES, metadata={
        "description": "The first day it applies: today or later; left out or null, it applies from publication "
                       "(as the empty date on the web form)."})


class TemplateVersionDetail(TemplateVersionOut):
    overlay = fields.Dict(allow_none=True)
    parent_version_id = fields.UUID(allow_none=True)
