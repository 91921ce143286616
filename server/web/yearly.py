"""Yearly supervision reports on the offices' county reports page: the latest of each county and city in
scope with its PDF and XLSX links, and a form to make one (the same service and job as the API)."""
from __future__ import annotations

import uuid

from flask import redirect, render_template_string, request, url_for
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
from server.web import _principal, bp, i18n

VIEWERS = (Role.office, Role.admin)
i18n.add({
    "zh-CN": {"yearly_reports": "年度督导报告", "make_report": "生成报告", "year": "年度", "jurisdiction": "辖区",
              "report_status": "状态", "generated_at": "生成时间", "download": "下载", "no_report": "尚未生成",
              "report_queued": "生成中", "report_ready": "已生成", "report_failed": "生成失败"},
    "en": {"yearly_reports": "Yearly supervision reports", "make_report": "Make the report", "year": "Year",
           "jurisdiction": "Area", "report_status": "State", "generated_at": "Made", "download": "Download",
           "no_report": "None yet", "report_queued": "Being made", "report_ready": "Ready",
           "report_failed": "Failed"},
})

SECTION = """<section data-testid="yearly-reports"><h2>{{ t('yearly_reports') }}</h2>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<table><tr><th>{{ t('jurisdiction') }}</th><th>{{ t('year') }}</th><th>{{ t('report_status') }}</th><th>{{ t('generated_at') }}</th><th>{{ t('download') }}</th><th></th></tr>
{% for j, r in rows %}<tr><td>{{ j.name }}</td>
{% if r %}<td>{{ r.year }}</td><td>{{ t('report_' ~ r.status) }}</td><td>{{ local(r.generated_at) }}</td>
<td>{% if r.status == 'ready' %}<a href="/api/v1/yearly-reports/{{ r.id }}/file?format=pdf">PDF</a> · <a href="/api/v1/yearly-reports/{{ r.id }}/file?format=xlsx">XLSX</a>{% endif %}</td>
{% else %}<td></td><td>{{ t('no_report') }}</td><td></td><td></td>{% endif %}
<td><form method="post" action="{{ url_for('web.make_yearly_report') }}" class="inline">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}"><input type="hidden" name="jurisdiction_id" value="{{ j.id }}">
<input name="year" type="number" min="2000" max="2100" value="{{ this_year }}" aria-label="{{ t('year') }}"> <button>{{ t('make_report') }}</button></form></td></tr>{% endfor %}
</table></section>"""


def _rows(p) -> list:
    db = session()
    js = db.scalars(select(Jurisdiction).where(jurisdiction_filter(p), Jurisdiction.level.in_(
        (JurisdictionLevel.city, JurisdictionLevel.county))).order_by(Jurisdiction.path)).all()
    return [(j, (reports.list_for(db, j.id, limit=1) or [None])[0]) for j in js]


def section(error: str | None = None) -> str:
    """The reports table, for the county reports page (`{{ yearly_section() }}`)."""
    p = _principal(*VIEWERS)
    html = render_template_string(SECTION, rows=_rows(p), error=error, this_year=clock.year_of(utcnow()),
                                  local=lambda at: clock.local(at).strftime("%Y-%m-%d %H:%M") if at else "")
    return Markup(html)  # rendered (and escaped) by the template above


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
        from flask import abort
        abort(404)
    try:
        year = int(request.form.get("year", ""))
        reports.request(db, j, year, requested_by_id=p.user_id, job_args=report_job_args())
    except (ValueError, DomainError) as e:
        db.rollback()
        message = getattr(e, "fields", None) or {"year": ["must be a whole number from 2000 to 2100"]}
        text = "; ".join(f"{k}: {', '.join(v)}" for k, v in message.items())
        page = render_template_string("{% extends 'base.html' %}{% block body %}{{ body }}{% endblock %}",
                                      body=section(error=text))
        return page, 422
    db.commit()
    return redirect(url_for("web.county_reports"), 303)
