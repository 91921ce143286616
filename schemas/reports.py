"""Wire formats of yearly reports (年度督导报告) and county evidence documents."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.scoring import JobOut


class YearlyReportIn(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "The business year (Asia/Shanghai) the report covers."})


class YearlyReportArgs(Schema):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100), load_default=None)


class YearlyReportOut(Schema):
    id = fields.UUID()
    jurisdiction_id = fields.UUID()
    year = fields.Integer()
    status = fields.String(metadata={"description": "queued (its job has not finished), ready or failed"})
    requested_at = fields.AwareDateTime()
    generated_at = fields.AwareDateTime(allow_none=True)
    error = fields.String(allow_none=True)
    job = fields.Nested(JobOut, allow_none=True)
    pdf_url = fields.String(allow_none=True, metadata={"description": "GET it for the PDF once ready"})
    xlsx_url = fields.String(allow_none=True, metadata={"description": "GET it for the XLSX once ready"})


class YearlyReportList(Schema):
    items = fields.List(fields.Nested(YearlyReportOut))


class FormatArgs(Schema):
    format = fields.String(required=True, validate=validate.OneOf(["pdf", "xlsx"]))


class CountyDocumentOut(Schema):
    id = fields.UUID()
    jurisdiction_id = fields.UUID()
    year = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    created_at = fields.AwareDateTime()
    url = fields.String(metadata={"description": "GET it for the file"})


class CountyDocumentList(Schema):
    items = fields.List(fields.Nested(CountyDocumentOut))


class DocumentUploadArgs(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "The self-report's year."})
    filename = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "The file's name as the county knows it (e.g. 2026年教师工资统计表.pdf)."})


class DocumentListArgs(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
