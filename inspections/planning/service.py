"""Visit planning: schedules, generating their planned visits, the upcoming/late/missed views.

Generated visits are ordinary planned `Visit` rows with their inspectors linked, so they reach
the inspectors' devices through sync like any other visit.
"""
from __future__ import annotations

import calendar
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from types import SimpleNamespace

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inspections import clock
from inspections.accounts.enums import Role
from inspections.accounts.models import InspectorAssignment, User
from inspections.audit import service as audit
from inspections.errors import Conflict, Says, ValidationFailed
from inspections.org.models import School
from inspections.planning.enums import MONTHS, PlanState, Recurrence
from inspections.planning.models import ScheduleInspector, ScheduleOccurrence, VisitSchedule
from inspections.visits import service as visits
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Visit, VisitInspector

GRACE_DAYS = 7          # a planned visit is late for this many days after its date, then missed
HORIZON_DAYS = 60       # how far ahead the generator materialises visits
MAX_OCCURRENCES = 400   # safety bound on one schedule's dates in one window

# What a schedule or an assignment can be refused for (the API shows the sentence, the pages their own words).
INVALID_SCHEDULE = Says("planning.invalid_schedule", "Invalid visit schedule")
INVALID_INSPECTORS = Says("planning.invalid_inspectors", "Invalid inspectors")
NOT_COVERING = Says("planning.inspector_not_covering",
                    "not an active inspector whose jurisdiction covers this school: {inspectors}")
EVERY_RANGE = Says("planning.every_range", "must be between 1 and 24")
END_BEFORE_START = Says("planning.end_before_start", "must not be before start_date")
ONCE_EVERY_ONE = Says("planning.once_every_one", "must be 1 for a one-off visit")
ALL_PAST = Says("planning.all_past", "leaves the schedule no date from today on: it would plan nothing")
NOTES_TOO_LONG = Says("planning.notes_too_long", "too long (at most 2,000 characters)")
SAME_SCHEDULE = Says("planning.same_schedule", "the school already has this schedule (same recurrence, interval, "
                                               "dates and inspectors)")
NOTES_MAX = 2000
SCHOOL_INACTIVE = Says("planning.school_inactive", "the school is not active")
ONLY_PLANNED = Says("planning.only_planned_reassigned", "visit is {status}; only a planned visit can be reassigned")


def add_months(d: date, months: int, day: int) -> date:
    """`d` moved by `months`, on `day` or the month's last day if shorter (Jan 31 -> Feb 28/29)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def occurrences(schedule: VisitSchedule, start: date, end: date) -> Iterator[date]:
    """The schedule's dates within [start, end] (and within its own start and end dates).

    Each date is computed from the start date, never from the previous one, so a schedule starting
    on the 31st visits on the 31st again in months that have one.
    """
    last = min(end, schedule.end_date) if schedule.end_date else end
    first = schedule.start_date
    if schedule.recurrence == Recurrence.once:
        if start <= first <= last:
            yield first
        return
    step = MONTHS[schedule.recurrence] * schedule.every
    # Skip whole steps before the window without walking them.
    k = 0
    if start > first:
        k = max(0, ((start.year - first.year) * 12 + start.month - first.month) // step - 1)
    for _ in range(MAX_OCCURRENCES):
        d = add_months(first, k * step, first.day)
        if d > last:
            return
        if d >= start:
            yield d
        k += 1


def covers(session: Session, inspector: User, school: School) -> bool:
    """Whether the inspector's jurisdiction holds the school, or it is assigned to the school."""
    if inspector.jurisdiction is not None and school.jurisdiction_path.startswith(inspector.jurisdiction.path):
        return True
    return bool(session.scalar(select(exists().where(InspectorAssignment.inspector_id == inspector.id,
                                                     InspectorAssignment.school_id == school.id))))


def check_inspectors(session: Session, school: School, inspector_ids: list[uuid.UUID],
                     field: str = "inspector_ids") -> dict[str, list[str]]:
    """Field errors for inspectors who are not active inspectors covering the school."""
    if not inspector_ids:
        return {}
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(inspector_ids)))}
    bad = [str(i) for i in inspector_ids if i not in found or found[i].role != Role.inspector
           or not found[i].active or not covers(session, found[i], school)]
    if bad:
        return {field: [NOT_COVERING(inspectors=", ".join(bad))]}
    return {}


def _check_schedule(session, school, recurrence, every, start_date, end_date, inspector_ids, notes=None,
                    today: date | None = None) -> None:
    """ValidationFailed naming each field that is wrong. With `today` (a new schedule), one with no date
    from today on (a one-off visit yesterday, a series that ended or ends before its next date) is
    refused: it would plan nothing."""
    errors = check_inspectors(session, school, inspector_ids)
    once = recurrence == Recurrence.once
    bounded = once or end_date is not None  # an open series always has a next date
    if today is not None and bounded and 1 <= every <= 24 and (end_date or start_date) >= start_date:
        # Its dates from today to its last one.
        rule = SimpleNamespace(recurrence=recurrence, every=every, start_date=start_date, end_date=end_date)
        if next(occurrences(rule, today, end_date or start_date), None) is None:
            errors["start_date" if once else "end_date"] = [ALL_PAST()]
    if notes is not None and len(notes) > NOTES_MAX:
        errors["notes"] = [NOTES_TOO_LONG()]
    if not 1 <= every <= 24:
        errors["every"] = [EVERY_RANGE()]
    if end_date is not None and end_date < start_date:
        errors["end_date"] = [END_BEFORE_START()]
    if recurrence == Recurrence.once and every != 1:
        errors["every"] = [ONCE_EVERY_ONE()]
    if not school.active:
        errors["school_id"] = [SCHOOL_INACTIVE()]
    if errors:
        raise ValidationFailed(INVALID_SCHEDULE(), errors)


def create_schedule(session: Session, *, school: School, created_by: User, recurrence: Recurrence,
                    start_date: date, every: int = 1, end_date: date | None = None,
                    inspector_ids: list[uuid.UUID] = (), notes: str | None = None) -> VisitSchedule:
    """Plan recurring visits to a school; the inspectors must cover the school. A schedule the school already
    has (same recurrence, interval, dates and inspectors; a repeated form or request) is refused (409)."""
    inspector_ids = list(dict.fromkeys(inspector_ids))
    _check_schedule(session, school, recurrence, every, start_date, end_date, inspector_ids, notes, clock.today())
    same = session.scalars(select(VisitSchedule).where(
        VisitSchedule.school_id == school.id, VisitSchedule.recurrence == recurrence, VisitSchedule.every == every,
        VisitSchedule.start_date == start_date,
        VisitSchedule.end_date.is_(None) if end_date is None else VisitSchedule.end_date == end_date)).all()
    if any(set(other.inspector_ids) == set(inspector_ids) for other in same):
        raise Conflict(SAME_SCHEDULE())
    # Stamped by the business clock: its day is the first one `generate` plans for.
    s = VisitSchedule(school_id=school.id, recurrence=recurrence, every=every, start_date=start_date,
                      end_date=end_date, created_by_id=created_by.id, notes=notes, created_at=clock.now())
    s.school = school
    s.inspector_links = [ScheduleInspector(inspector_id=i) for i in inspector_ids]
    session.add(s)
    session.flush()
    audit.record(session, actor_id=created_by.id, action="create", entity="visit_schedule", entity_id=s.id,
                 data={"school_id": str(school.id), "recurrence": recurrence.value, "every": every,
                       "start_date": start_date.isoformat(), "end_date": end_date and end_date.isoformat(),
                       "inspector_ids": [str(i) for i in inspector_ids]})
    return s


def update_schedule(session: Session, schedule: VisitSchedule, *, actor_id: uuid.UUID, today: date | None = None,
                    **changes) -> VisitSchedule:
    """Change a schedule's rule, inspectors, notes or active flag, and re-plan its future visits.

    Visits still planned for today or later follow the change: those on dates the new rule (or a
    paused schedule) no longer has are cancelled, and the rest get the new inspectors. Visits
    already started, done or in the past stay as they are. The caller then runs `generate` for the
    schedule to add the new rule's dates.
    """
    today = today or clock.today()
    new = {k: changes.get(k, getattr(schedule, k)) for k in ("recurrence", "every", "start_date", "end_date")}
    inspector_ids = list(dict.fromkeys(changes["inspector_ids"])) if "inspector_ids" in changes \
        else schedule.inspector_ids
    rule_changed = any(getattr(schedule, k) != v for k, v in new.items())
    # Dates in the past are allowed here: an end date of today or before is how an office ends a series
    # (its visits still planned from today on are cancelled below); only a new schedule must plan something.
    _check_schedule(session, schedule.school, new["recurrence"], new["every"], new["start_date"], new["end_date"],
                    inspector_ids if "inspector_ids" in changes else [], changes.get("notes"))
    for k, v in new.items():
        setattr(schedule, k, v)
    if "inspector_ids" in changes:
        schedule.inspector_links = [ScheduleInspector(inspector_id=i) for i in inspector_ids]
    for k in ("active", "notes"):
        if k in changes:
            setattr(schedule, k, changes[k])
    schedule.version += 1
    session.flush()
    replanned = _replan(session, schedule, actor_id=actor_id, today=today, rule_changed=rule_changed,
                        inspectors_changed="inspector_ids" in changes)
    audit.record(session, actor_id=actor_id, action="update", entity="visit_schedule", entity_id=schedule.id,
                 data={k: (v.isoformat() if isinstance(v, date) else [str(x) for x in v] if isinstance(v, list)
                           else str(v) if isinstance(v, uuid.UUID) else v) for k, v in changes.items()} | replanned)
    return schedule


def _replan(session: Session, schedule: VisitSchedule, *, actor_id, today: date, rule_changed: bool,
            inspectors_changed: bool) -> dict[str, int]:
    """Bring the schedule's visits still planned for today or later in line with it."""
    out = {"cancelled_visits": 0, "reassigned_visits": 0}
    if not (rule_changed or inspectors_changed or not schedule.active):
        return out
    rows = session.execute(select(Visit, ScheduleOccurrence).join(ScheduleOccurrence,
                                                                  ScheduleOccurrence.visit_id == Visit.id)
                           .where(ScheduleOccurrence.schedule_id == schedule.id, Visit.status == VisitStatus.planned,
                                  Visit.planned_for >= today)).all()
    if not rows:
        return out
    last = max(v.planned_for for v, _occ in rows)
    wanted = set(occurrences(schedule, today, last)) if schedule.active else set()
    inspectors = [u.id for u in session.scalars(select(User).where(User.id.in_(schedule.inspector_ids),
                                                                   User.active.is_(True)))] \
        if schedule.inspector_ids else []
    for v, occ in rows:
        if v.planned_for not in wanted:
            visits.transition(session, v, VisitStatus.cancelled)
            v.version += 1
            # The date may come back under a later rule: let `generate` plan it afresh then.
            session.delete(occ)
            audit.record(session, actor_id=actor_id, action="cancel", entity="visit", entity_id=v.id,
                         data={"reason": "schedule changed" if schedule.active else "schedule paused",
                               "schedule_id": str(schedule.id)})
            out["cancelled_visits"] += 1
        elif inspectors_changed and sorted(v.inspector_ids) != sorted(inspectors):
            assign(session, v, inspector_ids=inspectors, actor_id=actor_id)
            out["reassigned_visits"] += 1
    session.flush()
    return out


def delete_schedule(session: Session, schedule: VisitSchedule, *, actor_id: uuid.UUID, today: date) -> int:
    """Delete a schedule; every visit of it not yet started (still planned, whatever its date: upcoming, late or
    missed) is cancelled, so none is left planned without its schedule. Returns how many."""
    pending = session.scalars(select(Visit).join(ScheduleOccurrence, ScheduleOccurrence.visit_id == Visit.id)
                              .where(ScheduleOccurrence.schedule_id == schedule.id,
                                     Visit.status == VisitStatus.planned)
                              .order_by(Visit.planned_for, Visit.id)).all()
    for v in pending:
        visits.transition(session, v, VisitStatus.cancelled)
        v.version += 1
        audit.record(session, actor_id=actor_id, action="cancel", entity="visit", entity_id=v.id,
                     data={"reason": "schedule deleted", "schedule_id": str(schedule.id),
                           "planned_for": v.planned_for.isoformat() if v.planned_for else None,
                           "past": bool(v.planned_for and v.planned_for < today)})
    audit.record(session, actor_id=actor_id, action="delete", entity="visit_schedule", entity_id=schedule.id,
                 data={"school_id": str(schedule.school_id), "cancelled_visits": len(pending)})
    session.delete(schedule)
    session.flush()
    return len(pending)


def generate(session: Session, *, today: date, horizon_days: int = HORIZON_DAYS,
             schedule_ids: list[uuid.UUID] | None = None, not_before: date | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Materialise planned visits for every active schedule up to `today + horizon_days`.

    Idempotent: a (schedule, date) pair gets one visit ever (the occurrence's primary key; a
    concurrent run losing the race skips the date). Dates from the business day of the schedule's
    creation onwards are made (never a day already past when it was made), so a run after downtime
    catches up (those visits then show as late or missed);
    `not_before` stops that (a schedule just edited plans from today on). The caller commits.
    """
    until = today + timedelta(days=horizon_days)
    stmt = (select(VisitSchedule).join(School, School.id == VisitSchedule.school_id)
            .where(VisitSchedule.active.is_(True), School.active.is_(True), VisitSchedule.start_date <= until,
                   or_(VisitSchedule.end_date.is_(None), VisitSchedule.end_date >= today - timedelta(days=GRACE_DAYS)))
            .order_by(VisitSchedule.created_at, VisitSchedule.id))
    if schedule_ids is not None:
        stmt = stmt.where(VisitSchedule.id.in_(schedule_ids))
    totals = {"schedules": 0, "created": 0, "existing": 0, "skipped": 0}
    for schedule in session.scalars(stmt).all():
        totals["schedules"] += 1
        since = max(schedule.start_date, clock.day_of(schedule.created_at), not_before or date.min)
        dates = list(occurrences(schedule, since, until))
        done = set(session.scalars(select(ScheduleOccurrence.due_on).where(
            ScheduleOccurrence.schedule_id == schedule.id, ScheduleOccurrence.due_on.in_(dates)))) if dates else set()
        active_inspectors = [u.id for u in session.scalars(
            select(User).where(User.id.in_(schedule.inspector_ids), User.active.is_(True)))] \
            if schedule.inspector_ids else []
        created, creator = 0, session.get(User, schedule.created_by_id)
        for d in dates:
            if d in done:
                totals["existing"] += 1
                continue
            try:
                with session.begin_nested():
                    visit = visits.create(session, school=schedule.school, created_by=creator,
                                          inspector_ids=active_inspectors, planned_for=d,
                                          notes=schedule.notes)
                    session.add(ScheduleOccurrence(schedule_id=schedule.id, due_on=d, visit_id=visit.id))
                    session.flush()
            except IntegrityError:  # another run made this date meanwhile
                totals["existing"] += 1
                continue
            except ValidationFailed as exc:  # e.g. no template applies to the school on that date
                totals["skipped"] += 1
                if progress:
                    progress(f"schedule {schedule.id} {d}: skipped ({exc.message}: {exc.fields})")
                continue
            audit.record(session, actor_id=None, action="generate", entity="visit", entity_id=visit.id,
                         data={"schedule_id": str(schedule.id), "planned_for": d.isoformat()})
            created += 1
        totals["created"] += created
        if progress:
            progress(f"{schedule.school.name}: {created} new, {len(dates) - created} already planned or skipped")
    return totals


def state_criterion(state: PlanState, today: date, grace_days: int = GRACE_DAYS):
    """SQL criterion on Visit for a planning state (uses ix_visits_status_planned_for)."""
    cutoff = today - timedelta(days=grace_days)
    if state == PlanState.upcoming:
        return and_(Visit.status == VisitStatus.planned, Visit.planned_for >= today)
    if state == PlanState.late:
        return and_(Visit.status == VisitStatus.planned, Visit.planned_for < today, Visit.planned_for >= cutoff)
    return and_(Visit.status.in_([VisitStatus.planned, VisitStatus.in_progress]), Visit.planned_for < cutoff)


def state_of(visit: Visit, today: date, grace_days: int = GRACE_DAYS) -> PlanState | None:
    """The planning state of one loaded visit (the same rule as `state_criterion`)."""
    if visit.planned_for is None or visit.status not in (VisitStatus.planned, VisitStatus.in_progress):
        return None
    if visit.planned_for < today - timedelta(days=grace_days):
        return PlanState.missed
    if visit.status != VisitStatus.planned:
        return None
    return PlanState.upcoming if visit.planned_for >= today else PlanState.late


def any_state(today: date, grace_days: int = GRACE_DAYS):
    """Visits in one of the three planning states."""
    return or_(*(state_criterion(s, today, grace_days) for s in PlanState))


def assign(session: Session, visit: Visit, *, inspector_ids: list[uuid.UUID], actor_id: uuid.UUID) -> Visit:
    """Put inspectors on a planned visit (replacing the current ones); they must cover the school."""
    if visit.status != VisitStatus.planned:
        raise Conflict(ONLY_PLANNED(status=visit.status.value))
    inspector_ids = list(dict.fromkeys(inspector_ids))
    errors = check_inspectors(session, visit.school, inspector_ids)
    if errors:
        raise ValidationFailed(INVALID_INSPECTORS(), errors)
    before = [str(i) for i in visit.inspector_ids]
    visits.update(session, visit, inspector_ids=inspector_ids)
    audit.record(session, actor_id=actor_id, action="assign", entity="visit", entity_id=visit.id,
                 data={"from": before, "to": [str(i) for i in inspector_ids]})
    return visit


def schedule_of(session: Session, visit_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """visit id -> the schedule it was generated from."""
    if not visit_ids:
        return {}
    rows = session.execute(select(ScheduleOccurrence.visit_id, ScheduleOccurrence.schedule_id)
                           .where(ScheduleOccurrence.visit_id.in_(visit_ids)))
    return {v: s for v, s in rows}


def on_visit_by(inspector_id: uuid.UUID):
    """SQL criterion: the inspector is on the visit."""
    return exists().where(VisitInspector.visit_id == Visit.id, VisitInspector.inspector_id == inspector_id)
