"""Yearly supervision reports (年度督导报告) of a county or city: made by a job, downloaded as PDF or XLSX
by the offices in scope (anything else: 404, the same as for an id that does not exist); and the files a
county attaches to its self-report as evidence."""
from __future__ import annotations

import os
from urllib.parse import quote

from flask import Response, current_app, jsonify, request, stream_with_context
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from inspections.accounts.scope import can_manage_jurisdiction, jurisdiction_filter
from inspections.audit import service as audit
from inspections.jobs.models import JobRecord
from inspections.org.models import Jurisdiction
from inspections.reports import service as reports
from inspections.scoring import documents as evidence
from inspections.scoring.models import CountyDocument
from schemas.reports import (CountyDocumentList, CountyDocumentOut, DocumentListArgs, DocumentUploadArgs, FormatArgs,
                             YearlyReportArgs, YearlyReportIn, YearlyReportList, YearlyReportOut)
from server.api.common import Blueprint, get_in_scope
from server.auth import BEARER, MANAGERS, STAFF, current_principal, require
from server.extensions import session, storage
from server.jobs import report_job_args

PREFIX = ""
blp = Blueprint("reports", __name__, description="Yearly supervision reports of counties and cities.")
TYPES = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def dump(row) -> dict:
    """A report as the API shows it: a report whose job gave up is `failed`, with the job's reason."""
    job = session().get(JobRecord, reports.job_id(row.id))
    status, error = row.status, row.error
    if status == "queued" and job is not None and job.status == "failed":
        status, error = "failed", job.error
    ready = status == "ready"
    base = f"/api/v1/yearly-reports/{row.id}/file"
    return {"id": row.id, "jurisdiction_id": row.jurisdiction_id, "year": row.year, "status": status,
            "requested_at": row.requested_at, "generated_at": row.generated_at, "error": error, "job": job,
            "pdf_url": f"{base}?format=pdf" if ready else None, "xlsx_url": f"{base}?format=xlsx" if ready else None}


@blp.route("/jurisdictions/<uuid:jurisdiction_id>/yearly-reports")
class YearlyReports(MethodView):
    @blp.arguments(YearlyReportArgs, location="query", as_kwargs=True)
    @blp.response(200, YearlyReportList)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def get(self, jurisdiction_id, year):
        """The county's or city's yearly reports, newest first (the last 20)."""
        j = get_in_scope(Jurisdiction, jurisdiction_id, jurisdiction_filter(current_principal()))
        return {"items": [dump(r) for r in reports.list_for(session(), j.id, year)]}

    @blp.arguments(YearlyReportIn)
    @blp.response(202, YearlyReportOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def post(self, body, jurisdiction_id):
        """Make the yearly report of a county or city for a year (a job; poll the report for its files)."""
        db, p = session(), current_principal()
        j = get_in_scope(Jurisdiction, jurisdiction_id, jurisdiction_filter(p))
        row = reports.request(db, j, body["year"], requested_by_id=p.user_id, job_args=report_job_args())
        audit.record(db, actor_id=p.user_id, action="create", entity="yearly_report", entity_id=row.id,
                     data={"jurisdiction": j.code, "year": body["year"]})
        db.commit()
        return dump(row)


def _report(report_id):
    row = reports.visible(session(), report_id, jurisdiction_filter(current_principal()))
    if row is None:
        abort(404, message=f"No yearly report {report_id} here.")
    return row


@blp.route("/yearly-reports/<uuid:report_id>")
class YearlyReportById(MethodView):
    @blp.response(200, YearlyReportOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def get(self, report_id):
        """One yearly report: its state and, once ready, where its files are."""
        return dump(_report(report_id))


@blp.route("/yearly-reports/<uuid:report_id>/file")
class YearlyReportFile(MethodView):
    @blp.arguments(FormatArgs, location="query", as_kwargs=True)
    @blp.doc(security=[BEARER], responses={"200": {"description": "The PDF or the XLSX"},
                                           "409": {"description": "Not made yet"}})
    @require(*MANAGERS)
    def get(self, report_id, format):
        """Download the report as `pdf` (printable, Chinese fonts embedded) or `xlsx`."""
        row = _report(report_id)
        if row.status != "ready":
            abort(409, message="The report is not made yet; GET /api/v1/yearly-reports/{id} shows its state.")
        key = row.pdf_key if format == "pdf" else row.xlsx_key
        j = session().get(Jurisdiction, row.jurisdiction_id)
        ascii_name = f"yearly-report-{j.code}-{row.year}.{format}"
        local_name = f"{j.name}{row.year}年度督导报告.{format}"
        resp = Response(stream_with_context(storage().open(key)), mimetype=TYPES[format])
        resp.headers["Content-Disposition"] = f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(local_name)}"
        resp.headers["Cache-Control"] = "private, no-store"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp


# --- evidence documents of a county's self-report ---------------------------------------------------

BINARY = ("application/octet-stream", "application/pdf")


def _county(county_id):
    from inspections.org.enums import JurisdictionLevel
    county = get_in_scope(Jurisdiction, county_id, jurisdiction_filter(current_principal()))
    if county.level != JurisdictionLevel.county:
        abort(422, errors={"county_id": ["is not a county"]})
    return county


def dump_document(row) -> dict:
    return {"id": row.id, "jurisdiction_id": row.jurisdiction_id, "year": row.year, "filename": row.filename,
            "content_type": row.content_type, "size": row.size, "sha256": row.sha256, "created_at": row.created_at,
            "url": f"/api/v1/county-documents/{row.id}"}


@blp.route("/counties/<uuid:county_id>/self-report/documents")
class CountyDocuments(MethodView):
    @blp.arguments(DocumentListArgs, location="query", as_kwargs=True)
    @blp.response(200, CountyDocumentList)
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, county_id, year):
        """The files the county attached to its self-report of a year (offices above it see them too)."""
        county = _county(county_id)
        return {"items": [dump_document(d) for d in evidence.list_for(session(), county.id, year)]}

    @blp.arguments(DocumentUploadArgs, location="query", as_kwargs=True)
    @blp.doc(security=[BEARER], requestBody={"required": True, "content": {
        t: {"schema": {"type": "string", "format": "binary"}} for t in BINARY}},
        responses={"201": {"description": "Kept; cite it in the self-report as {item, title, document_id}.",
                           "content": {"application/json": {"schema": CountyDocumentOut}}},
                   "413": {"description": "Larger than DOCUMENT_MAX_BYTES."},
                   "422": {"description": "Empty, or not a PDF, JPEG, PNG, Word, Excel or PowerPoint file."}})
    @require(*MANAGERS)
    def post(self, county_id, year, filename):
        """Attach one evidence file (the raw bytes as the body) to the county's self-report of a year."""
        db, p = session(), current_principal()
        county = _county(county_id)
        if not can_manage_jurisdiction(p, county):
            abort(403, message="Only the county's office (or one above it) reports for it.")
        if (request.mimetype or "") not in BINARY:
            abort(415, message="Send the file's bytes as application/octet-stream, its name in ?filename=.")
        limit = current_app.config["DOCUMENT_MAX_BYTES"]
        request.max_content_length = limit + 1  # documents have their own body limit (the app-wide one is for JSON)
        data = request.get_data(cache=False)
        if len(data) > limit:
            abort(413, message=f"A document is at most {limit} bytes.")
        row = evidence.add(db, storage(), county, year, filename=filename, data=data, max_bytes=limit,
                           uploaded_by_id=p.user_id)
        audit.record(db, actor_id=p.user_id, action="create", entity="county_document", entity_id=row.id,
                     data={"county": county.code, "year": year, "sha256": row.sha256, "size": row.size})
        db.commit()
        resp = jsonify(CountyDocumentOut().dump(dump_document(row)))
        resp.status_code = 201
        resp.headers["Location"] = f"/api/v1/county-documents/{row.id}"
        return resp


@blp.route("/county-documents/<uuid:document_id>")
class CountyDocumentFile(MethodView):
    @blp.doc(security=[BEARER], responses={"200": {"description": "The file, as a download"}})
    @require(*STAFF)
    def get(self, document_id):
        """Download one evidence file of a county self-report (404 outside your scope)."""
        row = session().scalar(select(CountyDocument).join(Jurisdiction, Jurisdiction.id == CountyDocument.jurisdiction_id)
                               .where(CountyDocument.id == document_id, jurisdiction_filter(current_principal())))
        if row is None:
            abort(404, message=f"No county document {document_id} here.")
        resp = Response(stream_with_context(storage().open(row.storage_key)), mimetype=row.content_type)
        name = evidence.named_as(row.filename, row.content_type)  # also for files kept before names were fixed
        ascii_name = f"document-{row.id}{os.path.splitext(name)[1][:10]}"
        resp.headers["Content-Disposition"] = (f"attachment; filename={ascii_name}; "
                                               f"filename*=UTF-8''{quote(name)}")
        resp.headers["Cache-Control"] = "private, no-store"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Content-Security-Policy"] = "sandbox"
        return resp
