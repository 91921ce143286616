"""Checklist templates (read)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from inspections.pagination import paginate
from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate
from schemas.common import PageArgs, page_of
from schemas.templates import TemplateIn, TemplateOut, TemplateVersionDetail, VersionIn
from server.api.common import Blueprint, get_in_scope, page_response
from inspections.accounts.scope import can_manage_jurisdiction, jurisdiction_filter
from inspections.audit import service as audit
from inspections.org.enums import JurisdictionLevel
from inspections.org.models import Jurisdiction
from server.auth import BEARER, EVERYONE, MANAGERS, current_principal, require
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

    @blp.arguments(TemplateIn)
    @blp.response(201, TemplateOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def post(self, body):
        """Create a city or county template that extends a parent (local overlays, 地方标准)."""
        db, p = session(), current_principal()
        owner = db.scalar(select(Jurisdiction).where(Jurisdiction.id == body["jurisdiction_id"], jurisdiction_filter(p)))
        if owner is None:
            abort(422, errors={"jurisdiction_id": ["is not a jurisdiction in your scope"]})
        if not can_manage_jurisdiction(p, owner):
            abort(403, message="You may only create templates within your own subtree.")
        if owner.level == JurisdictionLevel.province and p.role.value != "admin":
            abort(403, message="Provincial templates are created by an admin.")
        parent = get_in_scope(ChecklistTemplate, body["parent_id"], templates.visible_filter(db, p))
        tpl = templates.create_template(db, code=body["code"], name=body["name"], jurisdiction=owner, parent=parent)
        audit.record(db, actor_id=p.user_id, action="create", entity="template", entity_id=tpl.id,
                     data={"code": tpl.code})
        db.commit()
        return tpl


def _managed_template(template_id) -> ChecklistTemplate:
    db, p = session(), current_principal()
    tpl = get_in_scope(ChecklistTemplate, template_id, templates.visible_filter(db, p))
    owner = db.get(Jurisdiction, tpl.jurisdiction_id) if tpl.jurisdiction_id else None
    if owner is None or not can_manage_jurisdiction(p, owner):
        abort(403, message="Only the owning office (or one above it) changes this template.")
    return tpl


@blp.route("/<uuid:template_id>/versions")
class TemplateVersions(MethodView):
    @blp.arguments(VersionIn)
    @blp.response(201, TemplateVersionDetail)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def post(self, body, template_id):
        """Add a draft version: an overlay on the parent's version in force on effective_from."""
        db = session()
        tpl = _managed_template(template_id)
        v = templates.create_version(db, tpl, overlay=body["overlay"], effective_from=body["effective_from"])
        audit.record(db, actor_id=current_principal().user_id, action="create", entity="template_version",
                     entity_id=v.id, data={"template": tpl.code, "number": v.number})
        db.commit()
        return v


@blp.route("/versions/<uuid:version_id>/publish")
class PublishVersion(MethodView):
    @blp.response(200, TemplateVersionDetail)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def post(self, version_id):
        """Publish a draft: it becomes immutable and applies to visits planned from its effective date."""
        db = session()
        v = templates.version_in_scope(db, current_principal(), version_id)
        if v is None:
            abort(404, message=f"No template version {version_id} here.")
        _managed_template(v.template_id)
        templates.publish(db, v)
        audit.record(db, actor_id=current_principal().user_id, action="publish", entity="template_version",
                     entity_id=v.id)
        db.commit()
        return v


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
    @blp.response(200, TemplateVersionDetail)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, version_id):
        """One version with its full definition (items and indicators)."""
        db = session()
        v = templates.version_in_scope(db, current_principal(), version_id)
        if v is None:
            abort(404, message=f"No template version {version_id} here.")
        return v
