"""Yearly supervision reports on the offices' county reports page: the latest of each county and city in
scope with its PDF and XLSX links, and a form to make one (the same service and job as the API)."""
from __future__ import annotations

import uuid

from flask import abort, flash, g, redirect, render_template, render_template_string, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from inspections import clock
from inspections.accounts.enums import Role
from inspections.accounts.scope import jurisdiction_filter
from inspections.db import utcnow
from inspections.errors import DomainError
from inspections.org.enums import JurisdictionLevel
from inspections.org.models import Jurisdiction
from inspections.reports import service as reports
from server.extensions import session
from server.jobs import report_job_args
from server.web import _principal, bp, forms
from server.web.i18n import _, _l

VIEWERS = (Role.office, Role.admin)
REPORT_STATE = {"queued": _l("Being made"), "ready": _l("Ready"), "failed": _l("Failed")}


def _rows(p) -> list:
    db = session()
    js = db.scalars(select(Jurisdiction).where(jurisdiction_filter(p), Jurisdiction.level.in_(
        (JurisdictionLevel.city, JurisdictionLevel.county))).order_by(Jurisdiction.path)).all()
    return [(j, (reports.list_for(db, j.id, limit=1) or [None])[0]) for j in js]


def section(error: str | None = None) -> str:
    """The reports table, for the county reports page (`{{ yearly_section() }}`)."""
    p = _principal(*VIEWERS)
    html = render_template("_yearly_reports.html", rows=_rows(p), error=error, this_year=clock.year_of(utcnow()),
                           report_states={k: str(v) for k, v in REPORT_STATE.items()})
    return Markup(html)  # rendered (and escaped) by the template


@bp.app_context_processor
def _yearly_helpers():
    return {"yearly_section": section}


@bp.post("/yearly-reports")
def make_yearly_report():
    """Make a county's or city's yearly report in my scope (a job); back to the reports page."""
    p = _principal(*VIEWERS)
    db = session()
    try:
        jid = uuid.UUID(request.form.get("jurisdiction_id", ""))
    except ValueError:
        jid = None
    j = db.scalar(select(Jurisdiction).where(Jurisdiction.id == jid, jurisdiction_filter(p))) if jid else None
    if j is None:
        abort(404)
    try:
        year = int(request.form.get("year", ""))
        reports.request(db, j, year, requested_by_id=p.user_id, job_args=report_job_args())
    except (ValueError, DomainError) as e:
        db.rollback()
        # The service's own reason in the page's words (the first field's); a year that is no number at all
        # reads like one out of range.
        said = [m for ms in (getattr(e, "fields", None) or {}).values() for m in ms] or \
            [getattr(e, "message", None) or reports.YEAR_RANGE()]
        text = forms.message(said[0])
        g.page_url = url_for("web.county_reports")
        page = render_template_string("{% extends 'base.html' %}{% block body %}{{ body }}{% endblock %}",
                                      body=section(error=text))
        return page, 422
    db.commit()
    flash(_("The %(year)s report of %(area)s is being made; reload the page in a moment.", year=year, area=j.name))
    return redirect(url_for("web.county_reports"), 303)
