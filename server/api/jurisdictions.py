"""The province > city > county tree."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from inspections.accounts.scope import can_manage_jurisdiction, jurisdiction_filter
from inspections.audit import service as audit
from inspections.org import service as org
from inspections.org.models import Jurisdiction
from inspections.pagination import paginate
from schemas.common import PageArgs, page_of
from schemas.org import JurisdictionIn, JurisdictionOut, JurisdictionPatch, JurisdictionQuery
from server.api.common import Blueprint, get_in_scope, page_response
from server.auth import BEARER, MANAGERS, STAFF, current_principal, require
from server.extensions import session

PREFIX = "/jurisdictions"
blp = Blueprint("jurisdictions", __name__, description="Provinces, cities and counties.")
JurisdictionPage = page_of(JurisdictionOut, "JurisdictionPage")


@blp.route("")
class Jurisdictions(MethodView):
    @blp.arguments(JurisdictionQuery, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, JurisdictionPage)
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, query, limit, cursor):
        """List the jurisdictions in my scope, ordered by code."""
        stmt = select(Jurisdiction).where(jurisdiction_filter(current_principal()))
        if query["parent_id"]:
            stmt = stmt.where(Jurisdiction.parent_id == query["parent_id"])
        if query["level"]:
            stmt = stmt.where(Jurisdiction.level == query["level"])
        return page_response(paginate(session(), stmt, [Jurisdiction.code], cursor=cursor, limit=limit))

    @blp.arguments(JurisdictionIn)
    @blp.response(201, JurisdictionOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def post(self, body):
        """Add a jurisdiction (a province needs an admin; an office adds under its own subtree)."""
        db, p = session(), current_principal()
        parent = None
        if body["parent_id"]:
            parent = get_in_scope(Jurisdiction, body["parent_id"], jurisdiction_filter(p))
            if not can_manage_jurisdiction(p, parent):
                abort(403, message="You may only add jurisdictions within your own subtree.")
        elif p.role.value != "admin":
            abort(403, message="Only an admin adds a province.")
        j = org.create_jurisdiction(db, id=body["id"], code=body["code"], name=body["name"], level=body["level"],
                                    parent=parent)
        audit.record(db, actor_id=p.user_id, action="create", entity="jurisdiction", entity_id=j.id,
                     data={"code": j.code})
        db.commit()
        return j


@blp.route("/<uuid:jurisdiction_id>")
class JurisdictionById(MethodView):
    @blp.response(200, JurisdictionOut)
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, jurisdiction_id):
        """One jurisdiction."""
        return get_in_scope(Jurisdiction, jurisdiction_id, jurisdiction_filter(current_principal()))

    @blp.arguments(JurisdictionPatch)
    @blp.response(200, JurisdictionOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def patch(self, body, jurisdiction_id):
        """Rename a jurisdiction or change its code."""
        db, p = session(), current_principal()
        j = get_in_scope(Jurisdiction, jurisdiction_id, jurisdiction_filter(p))
        # An office may see its own node but not rename it: that belongs to the level above.
        if p.role.value != "admin" and j.id == p.jurisdiction_id:
            abort(403, message="Your own jurisdiction is changed by the level above.")
        org.update_jurisdiction(db, j, **body)
        audit.record(db, actor_id=p.user_id, action="update", entity="jurisdiction", entity_id=j.id,
                     data={k: str(v) for k, v in body.items()})
        db.commit()
        return j
