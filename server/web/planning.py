"""Visit planning pages: the office's schedules and planned visits, and the inspector's own page."""
from __future__ import annotations

import uuid
from datetime import date

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from inspections import clock
from inspections.accounts.enums import Role
from inspections.accounts.models import InspectorAssignment, User
from inspections.accounts.scope import school_filter, user_filter, visit_filter
from inspections.errors import DomainError
from inspections.org.models import School
from inspections.planning import service as planning
from inspections.planning.enums import PlanState, Recurrence
from inspections.planning.models import VisitSchedule
from inspections.tickets.enums import TicketStatus
from inspections.tickets.models import Ticket
from inspections.visits.models import Visit
from server.extensions import session
from server.web import _principal, bp, nav_link
from server.web.forms import field_errors
from server.web.i18n import _, _l, ngettext

nav_link("web.planning_page", _l("Visit planning"), Role.office, Role.admin)
nav_link("web.my_visits", _l("My visits"), Role.inspector)


LIST_LIMIT = 200


def _grace() -> int:
    return int(current_app.config["VISIT_GRACE_DAYS"])


def _visits_by_state(criterion) -> dict[str, list[Visit]]:
    today, db = clock.today(), session()
    out = {}
    for state in PlanState:
        out[state.value] = db.scalars(
            select(Visit).where(criterion, planning.state_criterion(state, today, _grace()))
            .options(selectinload(Visit.inspector_links), selectinload(Visit.school))
            .order_by(Visit.planned_for, Visit.id).limit(LIST_LIMIT)).all()
    return out


def _names(ids) -> dict[uuid.UUID, str]:
    ids = set(ids)
    if not ids:
        return {}
    return {u.id: u.display_name for u in session().scalars(select(User).where(User.id.in_(ids)))}


def _render_planning(p, *, error=None, fields=None, form=None, status=200):
    g.page_url = url_for("web.planning_page")  # a failed form's page links to the GET address (language switch)
    db = session()
    schedules = db.scalars(select(VisitSchedule).where(VisitSchedule.school_id.in_(
        select(School.id).where(school_filter(p)))).options(selectinload(VisitSchedule.inspector_links),
                                                            selectinload(VisitSchedule.school))
        .order_by(VisitSchedule.created_at.desc(), VisitSchedule.id).limit(LIST_LIMIT)).all()
    by_state = _visits_by_state(visit_filter(p))
    schools = db.scalars(select(School).where(school_filter(p), School.active.is_(True))
                         .order_by(School.code).limit(1000)).all()
    inspectors = db.scalars(select(User).where(user_filter(p), User.role == Role.inspector, User.active.is_(True))
                            .options(selectinload(User.jurisdiction)).order_by(User.username).limit(1000)).all()
    assigned = set(db.execute(select(InspectorAssignment.inspector_id, InspectorAssignment.school_id).where(
        InspectorAssignment.inspector_id.in_([u.id for u in inspectors])))) if inspectors else set()

    def covering(school: School) -> list[User]:
        """The inspectors a visit to this school may be assigned to (the same rule the service enforces)."""
        return [u for u in inspectors if (u.id, school.id) in assigned
                or (u.jurisdiction is not None and school.jurisdiction_path.startswith(u.jurisdiction.path))]
    ids = [i for s in schedules for i in s.inspector_ids] + [i for vs in by_state.values() for v in vs
                                                              for i in v.inspector_ids]
    return render_template("planning.html", schedules=schedules, by_state=by_state, schools=schools,
                           inspectors=inspectors, covering=covering, names=_names(ids), recurrences=list(Recurrence), error=error,
                           fields=field_errors(fields), form=form or {}), status


@bp.route("/planning", methods=["GET", "POST"])
def planning_page():
    """The office's schedules and its upcoming, late and missed visits, with forms to plan and assign.

    The new-schedule form posts here, so a form that failed is shown again at the page's own address."""
    if request.method == "POST":
        return planning_create_schedule()
    return _render_planning(_principal(Role.office, Role.admin))


def _parse_date(value: str, field: str, errors: dict) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[field] = ["is not a date (YYYY-MM-DD)"]
        return None


def _schedule_form(f, errors: dict) -> dict:
    """A schedule's rule from the create or edit form (recurrence, every, dates, inspectors, notes), as
    the planning service takes it; what does not parse goes into `errors` by field."""
    rule = {"recurrence": None, "every": 1, "inspector_ids": [],
            "notes": (f.get("notes") or "").strip() or None}
    try:
        rule["recurrence"] = Recurrence(f.get("recurrence", ""))
    except ValueError:
        errors["recurrence"] = ["must be one of"]
    try:
        rule["every"] = int(f.get("every") or 1)
    except ValueError:
        errors["every"] = ["is not a whole number"]
    rule["start_date"] = _parse_date(f.get("start_date", ""), "start_date", errors)
    if rule["start_date"] is None and "start_date" not in errors:
        errors["start_date"] = ["is required"]
    rule["end_date"] = _parse_date(f.get("end_date", ""), "end_date", errors)
    for raw in f.getlist("inspector_id"):
        if raw:
            try:
                rule["inspector_ids"].append(uuid.UUID(raw))
            except ValueError:
                errors["inspector_ids"] = ["is not an inspector"]
    return rule


@bp.post("/planning/schedules")
def planning_create_schedule():
    """Create a schedule from the form; its visits for the horizon are planned at once."""
    p = _principal(Role.office, Role.admin)
    db, f, errors = session(), request.form, {}
    school = None
    try:
        school = db.scalar(select(School).where(School.id == uuid.UUID(f.get("school_id", "")), school_filter(p)))
    except ValueError:
        pass
    if school is None:
        errors["school_id"] = ["is not a school in your scope"]
    rule = _schedule_form(f, errors)
    if errors:
        return _render_planning(p, error=_("The schedule was not saved."), fields=errors, form=f, status=422)
    try:
        s = planning.create_schedule(db, school=school, created_by=db.get(User, p.user_id), **rule)
        planning.generate(db, today=clock.today(), horizon_days=int(current_app.config["PLAN_HORIZON_DAYS"]),
                          schedule_ids=[s.id])
        db.commit()
    except DomainError as e:
        db.rollback()
        return _render_planning(p, error=_("The schedule was not saved."), fields=e.fields or {"_": [e.message]},
                                form=f, status=422)
    flash(_("The schedule was saved."))
    return redirect(url_for("web.planning_page"), 303)


@bp.post("/planning/visits/<visit_id>/assign")
def planning_assign(visit_id):
    """Assign an inspector to a planned visit in my scope (replacing those on it)."""
    p = _principal(Role.office, Role.admin)
    db = session()
    try:
        vid = uuid.UUID(visit_id)
    except ValueError:
        abort(404)
    visit = db.scalar(select(Visit).where(Visit.id == vid, visit_filter(p)))
    if visit is None:
        abort(404)
    try:
        inspector_id = uuid.UUID(request.form.get("inspector_id", ""))
    except ValueError:
        return _render_planning(p, error=_("The inspector was not assigned."),
                                fields={"inspector_ids": ["choose an inspector"]}, status=422)
    try:
        planning.assign(db, visit, inspector_ids=[inspector_id], actor_id=p.user_id)
        db.commit()
    except DomainError as e:
        db.rollback()
        return _render_planning(p, error=_("The inspector was not assigned."), fields=e.fields or {"_": [e.message]},
                                status=e.status)
    flash(_("The inspector was assigned."))
    return redirect(url_for("web.planning_page"), 303)


@bp.get("/my-visits")
def my_visits():
    """The inspector's planned visits (upcoming, late, missed) and the tickets awaiting its verification."""
    p = _principal(Role.inspector)
    by_state = _visits_by_state(planning.on_visit_by(p.user_id))
    awaiting = session().scalars(
        select(Ticket).where(Ticket.status == TicketStatus.awaiting_verification,
                             Ticket.school_id.in_(select(School.id).where(school_filter(p))))
        .order_by(Ticket.opened_at, Ticket.id).limit(LIST_LIMIT)).all()
    schools = {s.id: s.name for s in session().scalars(
        select(School).where(School.id.in_({t.school_id for t in awaiting})))} if awaiting else {}
    return render_template("inspector_visits.html", by_state=by_state, awaiting=awaiting, school_names=schools)


def _schedule_or_404(p, schedule_id) -> VisitSchedule:
    try:
        sid = uuid.UUID(schedule_id)
    except ValueError:
        abort(404)
    s = session().scalar(select(VisitSchedule).where(VisitSchedule.id == sid, VisitSchedule.school_id.in_(
        select(School.id).where(school_filter(p)))))
    if s is None:
        abort(404)
    return s


@bp.route("/planning/schedules/<schedule_id>", methods=["GET", "POST"])
def planning_schedule(schedule_id):
    """Edit a schedule (rule, dates, inspector, notes); its future planned visits follow the change."""
    p = _principal(Role.office, Role.admin)
    db, s = session(), _schedule_or_404(p, schedule_id)
    error, fields, form = None, {}, {}
    if request.method == "POST":
        f, errors = request.form, {}
        form = f
        rule = _schedule_form(f, errors)
        if not errors:
            try:
                today = clock.today()
                planning.update_schedule(db, s, actor_id=p.user_id, today=today, **rule)
                if s.active:
                    planning.generate(db, today=today, horizon_days=int(current_app.config["PLAN_HORIZON_DAYS"]),
                                      schedule_ids=[s.id], not_before=today)
                db.commit()
            except DomainError as e:
                db.rollback()
                s = _schedule_or_404(p, schedule_id)
                errors = e.fields or {"_": [e.message]}
            else:
                flash(_("The schedule was saved."))
                return redirect(url_for("web.planning_page"), 303)
        error, fields = _("The schedule was not saved."), errors
    inspectors = db.scalars(select(User).where(user_filter(p), User.role == Role.inspector, User.active.is_(True))
                            .order_by(User.username).limit(1000)).all()
    return render_template("schedule.html", s=s, recurrences=list(Recurrence), inspectors=inspectors, error=error,
                           fields=field_errors(fields), form=form), (422 if error else 200)


@bp.post("/planning/schedules/<schedule_id>/pause")
def planning_pause(schedule_id):
    """Pause a schedule (its future planned visits are cancelled) or resume it (they are planned again)."""
    p = _principal(Role.office, Role.admin)
    db, s = session(), _schedule_or_404(p, schedule_id)
    today = clock.today()
    try:
        planning.update_schedule(db, s, actor_id=p.user_id, today=today, active=not s.active)
        if s.active:
            planning.generate(db, today=today, horizon_days=int(current_app.config["PLAN_HORIZON_DAYS"]),
                              schedule_ids=[s.id], not_before=today)
        db.commit()
    except DomainError as e:  # e.g. the school was closed meanwhile: the rule no longer holds
        db.rollback()
        return _render_planning(p, error=_("The schedule was not saved."), fields=e.fields or {"_": [e.message]},
                                status=422)
    flash(_("The schedule was resumed.") if s.active else _("The schedule was paused."))
    return redirect(url_for("web.planning_page"), 303)


@bp.route("/planning/schedules/<schedule_id>/delete", methods=["GET", "POST"])
def planning_delete(schedule_id):
    """Delete a schedule, after a confirmation page (its visits not yet started are cancelled)."""
    p = _principal(Role.office, Role.admin)
    db, s = session(), _schedule_or_404(p, schedule_id)
    if request.method == "GET":
        return render_template("schedule_delete.html", s=s)
    n = planning.delete_schedule(db, s, actor_id=p.user_id, today=clock.today())
    db.commit()
    flash(ngettext("The schedule was deleted; %(num)s planned visit was cancelled.",
                   "The schedule was deleted; %(num)s planned visits were cancelled.", n))
    return redirect(url_for("web.planning_page"), 303)
