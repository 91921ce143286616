"""Site visits: planning, answers, submission."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort
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
from server.api.common import get_in_scope, page_response
from server.auth import BEARER, EVERYONE, current_principal, current_user, require
from server.extensions import session

PREFIX = "/visits"
blp = Blueprint("visits", __name__, description="Site visits and their checklist answers.")
VisitPage = page_of(VisitOut, "VisitPage")
PLANNERS = (Role.admin, Role.office, Role.inspector)


def _visit(visit_id) -> Visit:
    return get_in_scope(Visit, visit_id, visit_filter(current_principal()))


def _may_change(visit: Visit) -> None:
    """Offices (in scope) change any visit; an inspector only a visit it is on."""
    p = current_principal()
    if p.role == Role.inspector and p.user_id not in visit.inspector_ids:
        abort(403, message="Only the inspectors on this visit may change it.")


@blp.route("")
class Visits(MethodView):
    @blp.arguments(VisitQuery, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, VisitPage)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, query, limit, cursor):
        """Visits in my scope, newest first by creation."""
        p = current_principal()
        stmt = select(Visit).where(visit_filter(p)).options(selectinload(Visit.inspector_links))
        if query["school_id"]:
            stmt = stmt.where(Visit.school_id == query["school_id"])
        if query["status"]:
            stmt = stmt.where(Visit.status == query["status"])
        if query["mine"]:
            stmt = stmt.where(exists().where(VisitInspector.visit_id == Visit.id, VisitInspector.inspector_id == p.user_id))
        return page_response(paginate(session(), stmt, [Visit.created_at, Visit.id], cursor=cursor, limit=limit))

    @blp.arguments(VisitIn)
    @blp.response(201, VisitOut)
    @blp.doc(security=[BEARER])
    @require(*PLANNERS)
    def post(self, body):
        """Plan a visit to a school in my scope (an inspector planning one is put on it)."""
        db, p = session(), current_principal()
        school = db.scalar(select(School).where(School.id == body["school_id"], school_filter(p)))
        if school is None:
            abort(422, errors={"school_id": ["is not a school in your scope"]})
        inspector_ids = list(body["inspector_ids"])
        if p.role == Role.inspector and p.user_id not in inspector_ids:
            inspector_ids.insert(0, p.user_id)
        visit = visits.create(db, school=school, created_by=current_user(), inspector_ids=inspector_ids,
                              planned_for=body["planned_for"], template_version_id=body["template_version_id"],
                              notes=body["notes"], id=body["id"])
        audit.record(db, actor_id=p.user_id, action="create", entity="visit", entity_id=visit.id)
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
    @blp.doc(security=[BEARER])
    @require(*PLANNERS)
    def patch(self, body, visit_id):
        """Re-plan, reassign, start, submit or cancel a visit (submitted visits are frozen)."""
        db = session()
        visit = _visit(visit_id)
        _may_change(visit)
        expected = body.pop("version", None)
        if expected is not None and expected != visit.version:
            abort(409, message=f"The visit changed since version {expected}; it is now version {visit.version}.")
        visits.update(db, visit, **body)
        audit.record(db, actor_id=current_user().id, action="update", entity="visit", entity_id=visit.id,
                     data={k: str(v) for k, v in body.items()})
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
    @blp.doc(security=[BEARER])
    @require(Role.inspector)
    def put(self, body, visit_id):
        """Create or replace answers; all or nothing (one bad answer rejects the request)."""
        db = session()
        visit = _visit(visit_id)
        _may_change(visit)
        out = visits.put_responses(db, visit, answers=body["answers"], user=current_user())
        audit.record(db, actor_id=current_user().id, action="answer", entity="visit", entity_id=visit.id,
                     data={"items": [a["item_code"] for a in body["answers"]]})
        db.commit()
        return out
