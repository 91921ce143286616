"""Checklist templates (read)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from inspections.pagination import paginate
from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate, TemplateVersion
from schemas.common import PageArgs, page_of
from schemas.templates import TemplateOut, TemplateVersionOut
from server.api.common import get_in_scope, page_response
from server.auth import BEARER, EVERYONE, current_principal, require
from server.extensions import session

PREFIX = "/templates"
blp = Blueprint("templates", __name__, description="Checklist templates and their versions.")
TemplatePage = page_of(TemplateOut, "TemplatePage")


@blp.route("")
class Templates(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, TemplatePage)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, limit, cursor):
        """Templates that apply to me: national ones and those of my jurisdictions."""
        db = session()
        stmt = (select(ChecklistTemplate).where(templates.visible_filter(db, current_principal()))
                .options(selectinload(ChecklistTemplate.versions)))
        return page_response(paginate(db, stmt, [ChecklistTemplate.code], cursor=cursor, limit=limit))


@blp.route("/<uuid:template_id>")
class TemplateById(MethodView):
    @blp.response(200, TemplateOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, template_id):
        """One template with its version list."""
        db = session()
        return get_in_scope(ChecklistTemplate, template_id, templates.visible_filter(db, current_principal()))


@blp.route("/versions/<uuid:version_id>")
class VersionById(MethodView):
    @blp.response(200, TemplateVersionOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, version_id):
        """One version with its full definition (items and indicators)."""
        db = session()
        v = db.scalar(select(TemplateVersion).join(ChecklistTemplate)
                      .where(TemplateVersion.id == version_id, templates.visible_filter(db, current_principal())))
        if v is None:
            abort(404, message=f"No template version {version_id} here.")
        return v
