"""Visit planning: recurring schedules per school, planned visits by state, assigning inspectors."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, fields, validate
from sqlalchemy import exists, false, select
from sqlalchemy.orm import selectinload

from inspections import clock
from inspections.accounts.enums import Role
from inspections.accounts.scope import Principal, school_filter, visit_filter
from inspections.org.models import Jurisdiction, School
from inspections.pagination import paginate
from inspections.planning import service as planning
from inspections.planning.enums import PlanState, Recurrence
from inspections.planning.models import ScheduleInspector, VisitSchedule
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Visit, VisitInspector
from schemas.common import DATES, PageArgs, Version, WholeNumber, page_of
from server.api.common import Blueprint, get_in_scope, page_response
from server.auth import BEARER, current_principal, current_user, require
from server.extensions import session

PREFIX = "/planning"
blp = Blueprint("planning", __name__, description="Visit planning: recurring schedules, upcoming, late and missed "
                                                  "visits, assigning inspectors.")
STAFF = (Role.admin, Role.office, Role.inspector)
MANAGERS = (Role.admin, Role.office)
INSPECTORS_DOC = {"description": "Inspectors put on every generated visit; each must cover the school (its "
                                 "jurisdiction holds it, or it is assigned to it)."}


class ScheduleIn(Schema):
    school_id = fields.UUID(required=True)
    recurrence = fields.Enum(Recurrence, required=True, metadata={"description": "termly = every six months."})
    every = WholeNumber(load_default=1, validate=validate.Range(min=1, max=24),
                           metadata={"description": "Every N months, quarters or terms."})
    start_date = fields.Date(required=True, validate=DATES, metadata={"description": "The first visit's date; later dates keep "
                                                                     "its day of month (or the month's last day)."})
    end_date = fields.Date(load_default=None, validate=DATES, metadata={"description": "No visit after this date."})
    inspector_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=20),
                                metadata=INSPECTORS_DOC)
    notes = fields.String(load_default=None, validate=validate.Length(max=2000))


class SchedulePatch(Schema):
    recurrence = fields.Enum(Recurrence)
    every = WholeNumber(validate=validate.Range(min=1, max=24))
    start_date = fields.Date(validate=DATES)
    end_date = fields.Date(allow_none=True, validate=DATES)
    inspector_ids = fields.List(fields.UUID(), validate=validate.Length(max=20), metadata=INSPECTORS_DOC)
    active = fields.Boolean()
    notes = fields.String(allow_none=True, validate=validate.Length(max=2000))
    version = Version(metadata={"description": "If given, the change is refused (409) unless it matches."})


class ScheduleOut(Schema):
    id = fields.UUID()
    school_id = fields.UUID()
    recurrence = fields.Enum(Recurrence)
    every = WholeNumber()
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)
    inspector_ids = fields.List(fields.UUID())
    active = fields.Boolean()
    notes = fields.String(allow_none=True)
    created_by_id = fields.UUID()
    version = WholeNumber()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class ScheduleQuery(Schema):
    school_id = fields.UUID(load_default=None)
    active = fields.Boolean(load_default=None)


class PlannedQuery(Schema):
    state = fields.Enum(PlanState, load_default=None,
                        metadata={"description": "upcoming: planned, today or later; late: date passed, not started, "
                                                 "within the grace period; missed: past the grace period and neither "
                                                 "submitted nor cancelled. Without it: all three."})
    county_id = fields.UUID(load_default=None, metadata={"description": "Schools under this jurisdiction."})
    school_id = fields.UUID(load_default=None)
    inspector_id = fields.UUID(load_default=None, metadata={"description": "Visits this inspector is on."})


class PlannedVisitOut(Schema):
    id = fields.UUID()
    school_id = fields.UUID()
    status = fields.Enum(VisitStatus)
    planned_for = fields.Date()
    state = fields.Enum(PlanState)
    schedule_id = fields.UUID(allow_none=True, metadata={"description": "The schedule it was generated from."})
    inspector_ids = fields.List(fields.UUID())
    template_version_id = fields.UUID()
    notes = fields.String(allow_none=True)
    version = WholeNumber()


class AssignIn(Schema):
    inspector_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=20))
    version = Version(metadata={"description": "If given, the change is refused (409) unless it matches."})


class DeletedOut(Schema):
    cancelled_visits = WholeNumber(metadata={"description": "The schedule's visits not yet started that were "
                                                            "cancelled."})


SchedulePage = page_of(ScheduleOut, "SchedulePage")
PlannedPage = page_of(PlannedVisitOut, "PlannedVisitPage")


def schedule_filter(p: Principal):
    """Schedules a principal may read: of schools in scope for offices; an inspector's own."""
    if p.role == Role.inspector:
        return exists().where(ScheduleInspector.schedule_id == VisitSchedule.id,
                              ScheduleInspector.inspector_id == p.user_id)
    if p.role == Role.school:
        return false()
    return VisitSchedule.school_id.in_(select(School.id).where(school_filter(p)))


def grace_days() -> int:
    return int(current_app.config["VISIT_GRACE_DAYS"])


def dump_planned(visits: list[Visit]) -> list[dict]:
    today, grace = clock.today(), grace_days()
    sched = planning.schedule_of(session(), [v.id for v in visits])
    return [{"id": v.id, "school_id": v.school_id, "status": v.status, "planned_for": v.planned_for,
             "state": planning.state_of(v, today, grace), "schedule_id": sched.get(v.id),
             "inspector_ids": v.inspector_ids, "template_version_id": v.template_version_id, "notes": v.notes,
             "version": v.version} for v in visits]


def _check_version(body: dict, obj) -> None:
    expected = body.pop("version", None)
    if expected is not None and expected != obj.version:
        abort(409, message=f"Changed since version {expected}; it is now version {obj.version}.")


@blp.route("/schedules")
class Schedules(MethodView):
    @blp.arguments(ScheduleQuery, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, SchedulePage)
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, query, limit, cursor):
        """Schedules of the schools in my scope (an inspector: the schedules it is on)."""
        stmt = select(VisitSchedule).where(schedule_filter(current_principal())) \
            .options(selectinload(VisitSchedule.inspector_links))
        if query["school_id"]:
            stmt = stmt.where(VisitSchedule.school_id == query["school_id"])
        if query["active"] is not None:
            stmt = stmt.where(VisitSchedule.active.is_(query["active"]))
        return page_response(paginate(session(), stmt, [VisitSchedule.created_at, VisitSchedule.id],
                                      cursor=cursor, limit=limit))

    @blp.arguments(ScheduleIn)
    @blp.response(201, ScheduleOut)
    @blp.alt_response(422, description="Invalid rule, a school out of scope, or an inspector not covering it.")
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def post(self, body):
        """Plan visits to a school in my scope, e.g. monthly by its responsibility inspector.

        The planned visits are made by the daily `plan-visits` job (and right away for the horizon).
        """
        db, p = session(), current_principal()
        school = db.scalar(select(School).where(School.id == body.pop("school_id"), school_filter(p)))
        if school is None:
            abort(422, errors={"school_id": ["is not a school in your scope"]})
        s = planning.create_schedule(db, school=school, created_by=current_user(), **body)
        planning.generate(db, today=clock.today(), horizon_days=int(current_app.config["PLAN_HORIZON_DAYS"]),
                          schedule_ids=[s.id])
        db.commit()
        return s


def _schedule(schedule_id) -> VisitSchedule:
    return get_in_scope(VisitSchedule, schedule_id, schedule_filter(current_principal()))


@blp.route("/schedules/<uuid:schedule_id>")
class ScheduleById(MethodView):
    @blp.response(200, ScheduleOut)
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, schedule_id):
        """One schedule."""
        return _schedule(schedule_id)

    @blp.arguments(SchedulePatch)
    @blp.response(200, ScheduleOut)
    @blp.alt_response(409, description="The version given is not the current one.")
    @blp.alt_response(422, description="Invalid rule or an inspector not covering the school.")
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def patch(self, body, schedule_id):
        """Change the rule, inspectors, notes or active flag.

        Visits still planned for today or later follow: dates the new rule no longer has are
        cancelled, the rest get the new inspectors, and the new rule's dates are planned at once.
        Visits started, done or in the past stay as they are."""
        db = session()
        s = _schedule(schedule_id)
        _check_version(body, s)
        today = clock.today()
        planning.update_schedule(db, s, actor_id=current_principal().user_id, today=today, **body)
        if s.active:
            planning.generate(db, today=today, horizon_days=int(current_app.config["PLAN_HORIZON_DAYS"]),
                              schedule_ids=[s.id], not_before=today)
        db.commit()
        return s

    @blp.response(200, DeletedOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def delete(self, schedule_id):
        """Delete a schedule; every visit of it not yet started (upcoming, late or missed) is cancelled."""
        db = session()
        n = planning.delete_schedule(db, _schedule(schedule_id), actor_id=current_principal().user_id,
                                     today=clock.today())
        db.commit()
        return {"cancelled_visits": n}


@blp.route("/visits")
class PlannedVisits(MethodView):
    @blp.arguments(PlannedQuery, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, PlannedPage)
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, query, limit, cursor):
        """Upcoming, late and missed visits in my scope, by planned date."""
        db, p = session(), current_principal()
        today, grace = clock.today(), grace_days()
        crit = planning.state_criterion(query["state"], today, grace) if query["state"] \
            else planning.any_state(today, grace)
        stmt = select(Visit).where(visit_filter(p), crit, Visit.planned_for.is_not(None)) \
            .options(selectinload(Visit.inspector_links))
        if query["school_id"]:
            stmt = stmt.where(Visit.school_id == query["school_id"])
        if query["county_id"]:
            path = db.scalar(select(Jurisdiction.path).where(Jurisdiction.id == query["county_id"]))
            stmt = stmt.where(Visit.school_id.in_(select(School.id).where(
                School.jurisdiction_path.startswith(path, autoescape=True)))) if path else stmt.where(false())
        if query["inspector_id"]:
            stmt = stmt.where(exists().where(VisitInspector.visit_id == Visit.id,
                                             VisitInspector.inspector_id == query["inspector_id"]))
        page = paginate(db, stmt, [Visit.planned_for, Visit.id], cursor=cursor, limit=limit)
        return {"items": dump_planned(page.items), "next_cursor": page.next_cursor}


@blp.route("/visits/<uuid:visit_id>/inspectors")
class VisitAssignment(MethodView):
    @blp.arguments(AssignIn)
    @blp.response(200, PlannedVisitOut)
    @blp.alt_response(409, description="The visit is no longer planned, or the version given is not current.")
    @blp.alt_response(422, description="An inspector whose jurisdiction does not cover the school.")
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def put(self, body, visit_id):
        """Assign (or reassign) the inspectors of a planned visit in my scope."""
        db = session()
        visit = get_in_scope(Visit, visit_id, visit_filter(current_principal()))
        _check_version(body, visit)
        planning.assign(db, visit, inspector_ids=body["inspector_ids"], actor_id=current_principal().user_id)
        db.commit()
        return dump_planned([visit])[0]
