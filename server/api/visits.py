"""Site visits: planning, answers, submission."""
from __future__ import annotations

from flask import json
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from inspections.accounts.enums import Role
from inspections.accounts.scope import can_see_school, school_filter, visit_filter
from inspections.audit import service as audit
from inspections.org.models import School
from inspections.pagination import paginate
from inspections.visits import service as visits
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Visit, VisitInspector
from schemas.common import PageArgs, page_of
from schemas.visits import ResponseOut, ResponsesIn, VisitIn, VisitOut, VisitPatch, VisitQuery
from server.api.common import Blueprint, get_in_scope, page_response
from server.auth import BEARER, EVERYONE, current_principal, current_user, require
from server.errors import problem
from server.extensions import session

PREFIX = "/visits"
blp = Blueprint("visits", __name__, description="Site visits and their checklist answers.")
VisitPage = page_of(VisitOut, "VisitPage")
PLANNERS = (Role.admin, Role.office, Role.inspector)


def _visit(visit_id, *, lock: bool = False) -> Visit:
    visit = get_in_scope(Visit, visit_id, visit_filter(current_principal()))
    if lock:
        # Row lock, read afresh: a concurrent push or edit of this visit goes one after the other.
        visit = session().scalar(select(Visit).where(Visit.id == visit.id).with_for_update(of=Visit)
                                 .execution_options(populate_existing=True))
    return visit


def _stale(e: visits.Stale, schema):
    """409 with the server's copy, so the caller can redo its edit on it (as a push's conflict carries it)."""
    return problem(409, e.message, errors=e.fields, current=json.loads(json.dumps(schema.dump(e.record))))


@blp.route("")
class Visits(MethodView):
    @blp.arguments(VisitQuery, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, VisitPage)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, query, limit, cursor):
        """Visits in my scope, newest first by creation (then by id: a stable order to page in)."""
        p = current_principal()
        stmt = select(Visit).where(visit_filter(p)).options(selectinload(Visit.inspector_links))
        if query["school_id"]:
            stmt = stmt.where(Visit.school_id == query["school_id"])
        if query["status"]:
            stmt = stmt.where(Visit.status == query["status"])
        if query["mine"]:
            stmt = stmt.where(exists().where(VisitInspector.visit_id == Visit.id, VisitInspector.inspector_id == p.user_id))
        return page_response(paginate(session(), stmt, [Visit.created_at, Visit.id], cursor=cursor, limit=limit,
                                      descending=True))

    @blp.arguments(VisitIn)
    @blp.response(201, VisitOut)
    @blp.doc(security=[BEARER])
    @require(*PLANNERS)
    def post(self, body):
        """Plan a visit to a school in my scope (an inspector planning one is put on it).

        The visit pins the template version in force for the school on its planned day, whatever version
        the client names (see `template_version_id`); the response shows the version pinned.
        """
        db = session()
        visit = visits.create_in_scope(db, actor=current_principal(), school_id=body["school_id"],
                                       inspector_ids=list(body["inspector_ids"]), planned_for=body["planned_for"],
                                       template_version_id=body["template_version_id"], notes=body["notes"],
                                       id=body["id"])
        db.commit()
        return visit


@blp.route("/<uuid:visit_id>")
class VisitById(MethodView):
    @blp.response(200, VisitOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, visit_id):
        """One visit."""
        return _visit(visit_id)

    @blp.arguments(VisitPatch)
    @blp.response(200, VisitOut)
    @blp.alt_response(409, description="Frozen, an impossible status move, or `version` is behind: the "
                                       "problem document's `current` is the server's copy.")
    @blp.doc(security=[BEARER])
    @require(*PLANNERS)
    def patch(self, body, visit_id):
        """Re-plan, reassign, start, submit or cancel a visit (submitted visits are frozen). A status moves
        along the lifecycle (planned -> in_progress -> submitted); `version`, if given, must be current."""
        db = session()
        visit = _visit(visit_id, lock=True)
        expected = body.pop("version", None)
        try:
            visits.edit(db, visit, actor=current_principal(), changes=body, expected_version=expected)
        except visits.Stale as e:
            return _stale(e, VisitOut())
        db.commit()
        return visit


@blp.route("/<uuid:visit_id>/responses")
class VisitResponses(MethodView):
    @blp.response(200, ResponseOut(many=True))
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, visit_id):
        """The visit's answers."""
        return sorted(_visit(visit_id).responses, key=lambda r: (r.item_code, r.section))

    @blp.arguments(ResponsesIn)
    @blp.response(200, ResponseOut(many=True))
    @blp.alt_response(409, description="An answer's `version` is behind: `current` is the server's copy of it.")
    @blp.doc(security=[BEARER])
    @require(Role.inspector)
    def put(self, body, visit_id):
        """Write answers, all or nothing (one bad answer rejects the request). Partial: an answer changes only
        the fields it carries (value, note, flagged); one carrying `version` is refused (409) if the answer
        moved on since, as a push is."""
        db = session()
        visit = _visit(visit_id, lock=True)
        try:
            out = visits.put_responses(db, visit, answers=body["answers"], actor=current_principal())
        except visits.Stale as e:
            return _stale(e, ResponseOut())
        db.commit()
        return out
