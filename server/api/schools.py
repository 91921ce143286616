"""The school register."""
from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import or_, select

from inspections.accounts.scope import school_filter
from inspections.org import service as org
from inspections.org.models import Jurisdiction, School
from inspections.pagination import paginate
from schemas.common import PageArgs, page_of
from schemas.org import SchoolIn, SchoolOut, SchoolPatch, SchoolQuery
from server.api.common import Blueprint, get_in_scope, page_response
from server.auth import BEARER, EVERYONE, MANAGERS, current_principal, require
from server.extensions import session

PREFIX = "/schools"
blp = Blueprint("schools", __name__, description="Schools in my scope.")
SchoolPage = page_of(SchoolOut, "SchoolPage")


@blp.route("")
class Schools(MethodView):
    @blp.arguments(SchoolQuery, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, SchoolPage)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, query, limit, cursor):
        """List schools in my scope, ordered by code."""
        db = session()
        stmt = select(School).where(school_filter(current_principal()))
        if query["jurisdiction_id"]:
            node = db.get(Jurisdiction, query["jurisdiction_id"])
            stmt = stmt.where(School.jurisdiction_path.startswith(node.path if node else "/none/", autoescape=True))
        if query["kind"]:
            stmt = stmt.where(School.kind == query["kind"])
        if query["q"]:
            stmt = stmt.where(or_(School.name.contains(query["q"], autoescape=True),
                                  School.code.contains(query["q"], autoescape=True)))
        return page_response(paginate(db, stmt, [School.code], cursor=cursor, limit=limit))

    @blp.arguments(SchoolIn)
    @blp.response(201, SchoolOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def post(self, body):
        """Register a school in a county of my subtree."""
        db, p = session(), current_principal()
        county = org.county_for_write(db, p, body.pop("jurisdiction_id"))
        school = org.create_school(db, county=county, actor=p, **body)
        db.commit()
        return school


@blp.route("/<uuid:school_id>")
class SchoolById(MethodView):
    @blp.response(200, SchoolOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, school_id):
        """One school."""
        return get_in_scope(School, school_id, school_filter(current_principal()))

    @blp.arguments(SchoolPatch)
    @blp.response(200, SchoolOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def patch(self, body, school_id):
        """Change a school's register entry."""
        db, p = session(), current_principal()
        school = get_in_scope(School, school_id, school_filter(p))
        county = org.county_for_write(db, p, body.pop("jurisdiction_id")) if "jurisdiction_id" in body else None
        org.update_school(db, school, county=county, actor=p, **body)
        db.commit()
        return school
