"""Scoring previews, stored scores, county reports and job status."""
from marshmallow import Schema, fields, validate
from schemas.common import Lang, WholeNumber

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
    attempts = WholeNumber()
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
    visit_version = WholeNumber()
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
    lang = Lang(metadata={
        "description": "The CSV's language (headers, verdicts, reasons); otherwise Accept-Language, then zh-CN."})


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


class YearArgs(Schema):
    year = WholeNumber(text=True, required=True, validate=validate.Range(min=2000, max=2100),
                       metadata={"description": "The assessment year the self-report is for."})


class SelfReportIn(Schema):
    facts = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), load_default=dict,
                        validate=validate.Length(max=100), metadata={
                            "description": "County item code -> value: the figures areas B and C need "
                                           "(e.g. b8_teacher_avg_pay_yuan, c1_junior_retention_percent)."})
    survey = fields.Dict(keys=fields.String(validate=validate.Length(max=32)), load_default=dict,
                         validate=validate.Length(max=20), metadata={
                             "description": "Respondent group (students, parents, teachers, principals, deputies) "
                                            "-> {respondents, satisfied}."})
    vetoes = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), load_default=dict,
                         validate=validate.Length(max=10), metadata={
                             "description": "admission_by_exam, illegal_school_choice, key_schools_or_classes "
                                            "-> true/false."})
    documents = fields.List(fields.Dict(), load_default=list, validate=validate.Length(max=200), metadata={
        "description": "Evidence: [{item: code, title, reference: where the document is kept}]."})


class SelfReportOut(Schema):
    id = fields.UUID()
    jurisdiction_id = fields.UUID()
    year = WholeNumber()
    facts = fields.Dict()
    survey = fields.Dict()
    vetoes = fields.Dict()
    documents = fields.List(fields.Dict())
    version = WholeNumber()
    reported_by_id = fields.UUID(allow_none=True)
    updated_at = fields.AwareDateTime()
