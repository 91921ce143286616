"""Yearly supervision reports (年度督导报告) of a county or city: made by a job, downloaded as PDF or XLSX
by the offices in scope (anything else: 404, the same as for an id that does not exist)."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from inspections.accounts.scope import jurisdiction_filter
from inspections.audit import service as audit
from inspections.jobs.models import JobRecord
from inspections.org.models import Jurisdiction
from inspections.reports import service as reports
from schemas.reports import FormatArgs, YearlyReportArgs, YearlyReportIn, YearlyReportList, YearlyReportOut
from server.api.common import get_in_scope
from server.auth import BEARER, MANAGERS, current_principal, require
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
