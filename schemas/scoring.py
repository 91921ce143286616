"""Scoring previews, stored scores, county reports and job status."""
from marshmallow import Schema, fields, validate

LEVEL = validate.OneOf(["primary", "junior"])


class PreviewIn(Schema):
    level = fields.String(required=True, validate=LEVEL)
    facts = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), required=True,
                        validate=validate.Length(max=200), metadata={"description": "Fact code -> value, e.g. enrolment."})
    template_version_id = fields.UUID(load_default=None, metadata={"description": "Defaults to the national standard."})
    school_type = fields.String(load_default="ordinary", validate=validate.OneOf(
        ["ordinary", "teaching_point", "special_education"]), metadata={
        "description": "The register's school type: teaching points under 50 pupils and special-education schools "
                       "are not judged on R1-R7 (verdict exempt)."})


class JobOut(Schema):
    id = fields.String()
    kind = fields.String()
    status = fields.String(metadata={"description": "queued, started, retrying, finished or failed"})
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    enqueued_at = fields.AwareDateTime()
    started_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    result = fields.Dict(allow_none=True)


class SectionScoreOut(Schema):
    section = fields.String()
    level = fields.String()
    verdict = fields.String()
    template_version_id = fields.UUID()
    template_sha256 = fields.String()
    visit_version = fields.Integer()
    facts = fields.Dict()
    result = fields.Dict()
    computed_at = fields.AwareDateTime()


class VisitScoreOut(Schema):
    visit_id = fields.UUID()
    state = fields.String(metadata={"description": "scored, pending (job queued or running), failed or not_submitted"})
    job = fields.Nested(JobOut, allow_none=True)
    sections = fields.List(fields.Nested(SectionScoreOut))


class ReportArgs(Schema):
    level = fields.String(required=True, validate=LEVEL)
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


class LevelArgs(Schema):
    level = fields.String(required=True, validate=LEVEL)


class CountyRunIn(Schema):
    county_facts = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "Veto items the county reports: admission_by_exam, illegal_school_choice, "
                       "key_schools_or_classes (booleans), social_recognition_percent (0-100)."})


class CountyReportOut(Schema):
    county_id = fields.UUID()
    county = fields.String()
    level = fields.String()
    verdict = fields.String()
    computed_at = fields.AwareDateTime()
    template_version_id = fields.UUID()
    result = fields.Dict()
