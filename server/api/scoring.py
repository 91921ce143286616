"""Scoring: previews, a visit's stored score, county self-reports, county reports (JSON and CSV), scoring runs, jobs."""
from __future__ import annotations

import io
import uuid

from flask import Response
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from inspections.accounts.enums import Role
from inspections.accounts.scope import can_manage_jurisdiction, jurisdiction_filter, visit_filter
from inspections.audit import service as audit
from inspections.jobs.models import JobRecord
from inspections.org.enums import JurisdictionLevel
from inspections.org.models import Jurisdiction, School
from inspections.scoring import service as scoring
from inspections.scoring.models import VisitScore
from inspections.errors import ValidationFailed
from inspections.templates import service as templates
from inspections.templates.enums import VersionStatus
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Visit
from schemas.scoring import (CountyReportOut, CountyRunIn, JobOut, LevelArgs, PreviewIn, ReportArgs, SelfReportIn,
                             SelfReportOut, VisitScoreOut, YearArgs)
from server.api.common import Blueprint, get_in_scope
from server.auth import BEARER, EVERYONE, MANAGERS, STAFF, current_principal, require
from server.extensions import session
from server.jobs import enqueue_county, score_visit_job_id
from server.spreadsheet import SafeWriter

PREFIX = ""
blp = Blueprint("scoring", __name__, description="Scores of visits and counties against the standard.")


@blp.route("/scoring/preview")
class Preview(MethodView):
    @blp.arguments(PreviewIn)
    @blp.response(200)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def post(self, body):
        """Score a level and facts without storing anything (e.g. a school's self-assessment).

        `template_version_id` must be a published version the caller may read (GET /templates shows them);
        any other id is answered exactly as one that does not exist.
        """
        db = session()
        seen = templates.version_in_scope(db, current_principal(), body["template_version_id"]) \
            if body["template_version_id"] is not None else None
        if body["template_version_id"] is not None and (seen is None or seen.status != VersionStatus.published):
            raise ValidationFailed("Invalid template", {"template_version_id": ["does not exist"]})
        version = scoring.version_for_preview(db, body["template_version_id"])
        return scoring.preview(version.definition, body["level"], body["facts"], school_type=body["school_type"])


@blp.route("/visits/<uuid:visit_id>/score")
class VisitScoreView(MethodView):
    @blp.response(200, VisitScoreOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, visit_id):
        """The visit's stored score per section, or the state of its scoring job."""
        db = session()
        visit = get_in_scope(Visit, visit_id, visit_filter(current_principal()))
        rows = scoring.scores_for_visit(db, visit.id)
        job = db.get(JobRecord, score_visit_job_id(visit)) if visit.status == VisitStatus.submitted else None
        if visit.status != VisitStatus.submitted:
            state = "not_submitted"
        elif rows and all(r.visit_version == visit.version for r in rows):
            state = "scored"
        elif job is not None and job.status == "failed":
            state = "failed"
        else:
            state = "pending"
        return {"visit_id": visit.id, "state": state, "job": job, "sections": rows}


def _county(county_id) -> Jurisdiction:
    p = current_principal()
    county = get_in_scope(Jurisdiction, county_id, jurisdiction_filter(p))
    if county.level != JurisdictionLevel.county:
        abort(422, errors={"county_id": ["is not a county"]})
    return county


@blp.route("/counties/<uuid:county_id>/scoring-runs")
class CountyRuns(MethodView):
    @blp.arguments(LevelArgs, location="query")
    @blp.arguments(CountyRunIn, required=False)
    @blp.response(202, JobOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def post(self, args, body, county_id):
        """Judge the county at a level from each school's latest visit score and its veto items (an RQ job)."""
        db = session()
        county = _county(county_id)
        errors = scoring.validate_county_facts(body.get("county_facts") or {})
        if errors:
            abort(422, errors={f"county_facts.{k}": v for k, v in errors.items()})
        return enqueue_county(county.id, args["level"], scoring.county_inputs_stamp(db, county),
                              body.get("county_facts") or {})


@blp.route("/counties/<uuid:county_id>/self-report")
class CountySelfReports(MethodView):
    @blp.arguments(YearArgs, location="query", as_kwargs=True)
    @blp.response(200, SelfReportOut)
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, county_id, year):
        """A county's self-report for a year (areas B, C and D); offices above the county see it too."""
        county = _county(county_id)
        row = scoring.get_self_report(session(), county.id, year)
        if row is None:
            abort(404, message=f"{county.name} has no self-report for {year}.")
        return row

    @blp.arguments(YearArgs, location="query", as_kwargs=True)
    @blp.arguments(SelfReportIn)
    @blp.response(200, SelfReportOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def put(self, body, county_id, year):
        """Record or replace the county's self-report for a year: the figures of B1, B2, B6-B15, C1, C2 and C9,
        the survey by respondent group, the veto items and where the evidence is kept."""
        db, p = session(), current_principal()
        county = _county(county_id)
        if not can_manage_jurisdiction(p, county):
            abort(403, message="Only the county's office (or one above it) reports for it.")
        row = scoring.put_self_report(db, county, year, reported_by_id=p.user_id, **body)
        audit.record(db, actor_id=p.user_id, action="update", entity="county_self_report", entity_id=row.id,
                     data={"county": county.code, "year": year, "version": row.version})
        db.commit()
        return row


def _report_csv(county: Jurisdiction, row, lang: str | None) -> Response:
    """The county report as CSV in the reader's language (?lang, the page language, Accept-Language)."""
    from inspections import clock
    from server.web.counties import report_rows
    from server.web.i18n import reader_lang, speaking
    out = io.StringIO()
    w = SafeWriter(out)  # names and reasons are text, never formulas
    with speaking(reader_lang(lang)):
        w.writerows(report_rows(county, row))
    filename = f"county-{county.code}-{row.level}-{clock.local(row.computed_at):%Y%m%d}.csv"
    # A BOM lets Excel open the UTF-8 Chinese names correctly.
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}", "Vary": "Accept-Language"})


@blp.route("/counties/<uuid:county_id>/report")
class CountyReport(MethodView):
    @blp.arguments(ReportArgs, location="query")
    @blp.response(200, CountyReportOut)
    @blp.alt_response(200, description="CSV when format=csv", content_type="text/csv")
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, args, county_id):
        """The county's latest 差异系数 judgement at a level, as JSON or CSV."""
        db = session()
        county = _county(county_id)
        row = scoring.latest_county_score(db, county.id, args["level"])
        if row is None:
            abort(404, message=f"{county.name} has no {args['level']} score yet; "
                               f"POST /api/v1/counties/{county.id}/scoring-runs?level={args['level']} to compute one.")
        if args["format"] == "csv":
            return _report_csv(county, row, args.get("lang"))
        return {"county_id": county.id, "county": county.name, "level": row.level, "verdict": row.verdict,
                "computed_at": row.computed_at, "template_version_id": row.template_version_id, "result": row.result}


@blp.route("/jobs/<string:job_id>")
class JobById(MethodView):
    @blp.response(200, JobOut)
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, job_id):
        """A background job's status and, if it failed, why."""
        db, p = session(), current_principal()
        rec = db.get(JobRecord, job_id[:120])
        if rec is None or not _job_in_scope(db, p, rec):
            # Out of scope looks exactly like unknown: same status, same words.
            abort(404, message="No such job here.")
        return rec


def _job_in_scope(db, p, rec: JobRecord) -> bool:
    """A visit's scoring job follows the visit's scope, a county's the county's, a photo's processing the
    photo's; system jobs are the admin's."""
    if p.role == Role.admin:
        return True
    try:
        if rec.kind == "process_photo":
            from inspections.photos import service as photos
            from inspections.photos.models import Photo
            pid = uuid.UUID(str((rec.args or {}).get("photo_id")))
            return db.scalar(select(Photo.id).where(Photo.id == pid, photos.photo_filter(p))) is not None
        if rec.kind == "score_visit":
            vid = uuid.UUID(str((rec.args or {}).get("visit_id")))
            return db.scalar(select(Visit.id).where(Visit.id == vid, visit_filter(p))) is not None
        if rec.kind == "yearly_report" and p.role == Role.office:
            from inspections.reports import service as reports
            rid = uuid.UUID(str((rec.args or {}).get("report_id")))
            return reports.visible(db, rid, jurisdiction_filter(p)) is not None
        if rec.kind == "score_county" and p.role == Role.office:
            cid = uuid.UUID(str((rec.args or {}).get("county_id")))
            return db.scalar(select(Jurisdiction.id).where(Jurisdiction.id == cid, jurisdiction_filter(p))) is not None
    except ValueError:
        return False
    return False
