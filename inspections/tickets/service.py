"""Rectification tickets (整改单): findings roll in, an explicit state machine moves them to closure (销号).

Every change is an immutable TicketEvent (who, when, from, to, note, photos). Overdue and escalation
are events too, so a ticket's whole history reads from one table.
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from inspections.accounts.enums import Role
from inspections.accounts.scope import Principal
from inspections.db import utcnow
from inspections import clock
from inspections.errors import Conflict, Forbidden, Says, ValidationFailed
from inspections.tickets.enums import FindingSource, Severity, TicketStatus
from inspections.tickets.models import Finding, Ticket, TicketEvent

T = TicketStatus
OPEN_STATES = (T.open, T.acknowledged, T.in_progress, T.awaiting_verification)
# Days to rectify by severity (限期整改); an office policy can override through `due_days`.
DEFAULT_DUE_DAYS = {Severity.veto: 30, Severity.high: 30, Severity.medium: 60, Severity.low: 90}

# What a step can be refused for (the API shows the sentence, the pages their own words for the code).
CANNOT_BECOME = Says("ticket.cannot_become",
                     "a ticket that is {status} cannot become {to}; you may move it to: {allowed}")
NOT_YOUR_STEP = Says("ticket.not_your_step", "moving a ticket from {status} to {to} is for {roles}, not {role}")
STEP_INCOMPLETE = Says("ticket.step_incomplete", "The step is missing information")
NOTE_REQUIRED = Says("ticket.note_required", "a reason is required for this step")
PLAN_REQUIRED = Says("ticket.plan_required", "a rectification plan with at least one milestone is required")
MILESTONE_PAST = Says("ticket.milestone_past", "a milestone is due today or later, not {due}")
EVIDENCE_REQUIRED = Says("ticket.evidence_required",
                         "at least one evidence photo (or a written account of 20+ characters) is required")
INVALID_EVIDENCE = Says("ticket.invalid_evidence", "Invalid evidence")
NOT_OWN_PHOTOS = Says("ticket.not_own_photos", "only your own photos that have fully arrived can be evidence")
EVIDENCE_BEING_CHECKED = Says("ticket.evidence_being_checked",
                              "the evidence photos are still being checked; verify the ticket once they are")
PHOTO_TWICE = Says("ticket.photo_twice", "names the same photo more than once: {photos}")
NO_EVIDENCE_HERE = Says("ticket.no_evidence_here", "a step to {to} takes no evidence photos; send them with the "
                                                   "step that reports the rectification done")
PHOTOS_ELSEWHERE = Says("ticket.photos_elsewhere", "not uploaded as evidence for this ticket, or already used by "
                                                   "an earlier step: {photos}")


@dataclass(frozen=True)
class Rule:
    roles: tuple[Role, ...]
    needs_note: bool = False
    needs_evidence: bool = False
    needs_plan: bool = False


# Who may move a ticket from one state to another; anything not listed is illegal (409).
TRANSITIONS: dict[tuple[TicketStatus, TicketStatus], Rule] = {
    (T.open, T.acknowledged): Rule((Role.school,)),
    (T.acknowledged, T.in_progress): Rule((Role.school,), needs_plan=True),
    (T.open, T.in_progress): Rule((Role.school,), needs_plan=True),
    (T.in_progress, T.awaiting_verification): Rule((Role.school,), needs_evidence=True),
    (T.awaiting_verification, T.closed): Rule((Role.inspector, Role.office)),
    (T.awaiting_verification, T.in_progress): Rule((Role.inspector, Role.office), needs_note=True),
    (T.closed, T.open): Rule((Role.inspector, Role.office), needs_note=True),
    **{(s, T.cancelled): Rule((Role.office, Role.admin), needs_note=True) for s in OPEN_STATES},
}


def allowed_next(ticket: Ticket, role: Role) -> list[str]:
    """States this role may move the ticket to now."""
    return [to.value for (frm, to), rule in TRANSITIONS.items() if frm == ticket.status and role in rule.roles]


def is_overdue(ticket: Ticket, today: date | None = None) -> bool:
    """Past its due date and not yet done."""
    today = today or clock.today()
    return ticket.status in OPEN_STATES and ticket.due_date is not None and ticket.due_date < today


def _event(session: Session, ticket: Ticket, *, actor_id, frm, to, note=None, data=None, at=None,
           id: uuid.UUID | None = None) -> TicketEvent:
    ev = TicketEvent(ticket_id=ticket.id, actor_id=actor_id, from_status=frm, to_status=to, note=note,
                     data=data or {}, at=at or utcnow(), **({"id": id} if id is not None else {}))
    session.add(ev)
    return ev


def transition(session: Session, ticket: Ticket, *, to: TicketStatus, actor: Principal, note: str | None = None,
               plan: list[dict] | None = None, photo_ids: list[uuid.UUID] | None = None,
               event_id: uuid.UUID | None = None) -> TicketEvent:
    """Move a ticket, or raise Conflict (illegal move) / ValidationFailed (missing note, plan, evidence).

    `event_id`: the step's id when a device made it offline (ids are made on the device)."""
    rule = TRANSITIONS.get((ticket.status, to))
    if rule is None:
        nxt = ", ".join(allowed_next(ticket, actor.role)) or "nothing"
        raise Conflict(CANNOT_BECOME(status=ticket.status.value, to=to.value, allowed=nxt))
    if actor.role not in rule.roles:
        raise Forbidden(NOT_YOUR_STEP(status=ticket.status.value, to=to.value, role=actor.role.value,
                                      roles=" or ".join(r.value for r in rule.roles)))
    errors: dict[str, list[str]] = {}
    # A photo is one piece of evidence: named twice, the step says something other than what it is (refused on
    # every way in: the API, a device's ticket_event, the page's form).
    twice = [str(i) for i, n in Counter(photo_ids or []).items() if n > 1]
    if twice:
        errors["photo_ids"] = [PHOTO_TWICE(photos=", ".join(twice))]
    elif photo_ids and not rule.needs_evidence:
        # Named on a step that keeps none: refused, never dropped in silence (the sender would believe them kept).
        errors["photo_ids"] = [NO_EVIDENCE_HERE(to=to.value)]
    if rule.needs_note and not (note and note.strip()):
        errors["note"] = [NOTE_REQUIRED()]
    if rule.needs_plan and not plan:
        errors["plan"] = [PLAN_REQUIRED()]
    if plan and event_id is None:  # a step made offline is judged as of when it was made (its device's day)
        today = clock.today()
        for i, m in enumerate(plan):
            due = m.get("due")
            due = date.fromisoformat(due) if isinstance(due, str) else due
            if due is not None and due < today:
                errors[f"plan.{i}.due"] = [MILESTONE_PAST(due=due.isoformat())]
    photos = []
    if rule.needs_evidence and not twice:
        photos = _evidence_photos(session, ticket, photo_ids or [], actor)
        if not photos and not twice and not (note and len(note.strip()) >= 20):
            errors["photo_ids"] = [EVIDENCE_REQUIRED()]
    if errors:
        raise ValidationFailed(STEP_INCOMPLETE(), errors)
    if (ticket.status, to) == (T.awaiting_verification, T.closed) and evidence_being_checked(session, ticket):
        raise Conflict(EVIDENCE_BEING_CHECKED())
    frm = ticket.status
    data = {}
    if plan:
        data["plan"] = plan
    if photos:
        data["photo_ids"] = [str(p.id) for p in photos]
    ev = _event(session, ticket, actor_id=actor.user_id, frm=frm.value, to=to.value, note=note, data=data,
                id=event_id)
    session.flush()
    for p in photos:
        p.ticket_event_id = ev.id
    ticket.status = to
    ticket.version += 1
    if to == T.closed:
        ticket.closed_at = ev.at
    elif to == T.open:
        ticket.closed_at = None
    session.flush()
    return ev


def _evidence_photos(session: Session, ticket: Ticket, photo_ids: list[uuid.UUID], actor: Principal):
    from inspections.photos.models import Photo
    if not photo_ids:
        return []
    photos = list(session.scalars(select(Photo).where(Photo.id.in_(photo_ids))))
    found = {p.id for p in photos}
    bad = [str(i) for i in photo_ids if i not in found]
    mine = [p for p in photos if p.uploaded_by_id == actor.user_id and p.status in ("received", "processed")]
    if bad or len(mine) != len(photos):
        raise ValidationFailed(INVALID_EVIDENCE(), {"photo_ids": [NOT_OWN_PHOTOS()]})
    # Evidence is uploaded for this ticket (target ticket_id) and used by one step only.
    elsewhere = [str(p.id) for p in mine if p.ticket_id != ticket.id or p.ticket_event_id is not None]
    if elsewhere:
        raise ValidationFailed(INVALID_EVIDENCE(), {"photo_ids": [PHOTOS_ELSEWHERE(photos=", ".join(elsewhere))]})
    return mine


def _evidence_step(session: Session, ticket: Ticket) -> TicketEvent | None:
    """The step that put the ticket in awaiting verification (the evidence under verification), if it is there."""
    if ticket.status != T.awaiting_verification:
        return None
    return session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                    TicketEvent.to_status == T.awaiting_verification.value)
                          .order_by(TicketEvent.at.desc()).limit(1))


def evidence_being_checked(session: Session, ticket: Ticket) -> bool:
    """Awaiting verification on photos not yet checked: they count for the step only once checked, so the
    ticket cannot be verified until then."""
    from inspections.photos.models import Photo
    step = _evidence_step(session, ticket)
    if step is None:
        return False
    return session.scalar(select(Photo.id).where(Photo.ticket_event_id == step.id, Photo.status == "received")
                          .limit(1)) is not None


def evidence_rejected(session: Session, photo) -> TicketEvent | None:
    """A photo given as a step's evidence failed its checks. If that step is the one the ticket waits for
    verification on, and no other evidence holds it up (another photo not rejected, or a written account of
    20+ characters), the ticket goes back to in progress: a system step the school sees in the history."""
    from inspections.photos.models import Photo
    if photo.ticket_event_id is None or photo.ticket_id is None:
        return None
    ticket = session.get(Ticket, photo.ticket_id)
    step = _evidence_step(session, ticket) if ticket is not None else None
    if step is None or step.id != photo.ticket_event_id:
        return None
    others = session.scalar(select(Photo.id).where(Photo.ticket_event_id == step.id, Photo.id != photo.id,
                                                   Photo.status.in_(("received", "processed"))).limit(1))
    if others is not None or (step.note and len(step.note.strip()) >= 20):
        return None
    ev = _event(session, ticket, actor_id=None, frm=T.awaiting_verification.value, to=T.in_progress.value,
                note="an evidence photo failed its checks and no other evidence remains: back to in progress",
                data={"evidence_rejected": str(photo.id)})
    ticket.status = T.in_progress
    ticket.version += 1
    session.flush()
    return ev


def due_date_for(severity: Severity, opened: datetime, due_days: dict | None = None) -> date:
    """Deadline from the office's policy (default 30/60/90 days by severity)."""
    days = (due_days or DEFAULT_DUE_DAYS).get(severity, 60)
    return clock.day_of(opened) + timedelta(days=days)


def open_ticket_for(session: Session, school_id, item_code: str, section: str) -> Ticket | None:
    """The one open ticket of a school for an item (and section), if any."""
    return session.scalar(select(Ticket).where(Ticket.school_id == school_id, Ticket.item_code == item_code,
                                               Ticket.section == section, Ticket.status.in_(OPEN_STATES)))


class TicketIndex:
    """The tickets findings of many visits land on, read in a few set-based queries and kept current as
    findings are recorded through it (so visits scored together see each other's tickets, exactly as
    visits scored one after another would).

    `school_ids`: the schools; `failing`: the (school, item, section) keys that will get a finding (their
    latest closed ticket is read, to be reopened); `visit_ids`: the visits that may propose closures.
    """

    def __init__(self, session: Session, school_ids, failing=(), visit_ids=()):
        school_ids = list({*school_ids})
        self._open: dict[tuple, Ticket] = {}
        self._closed: dict[tuple, Ticket] = {}
        self._proposed: set[tuple] = set()
        self.findings: list[Finding] = []  # recorded through the index, for the caller to add after a flush
        if not school_ids:
            return
        for t in session.scalars(select(Ticket).where(Ticket.school_id.in_(school_ids),
                                                      Ticket.status.in_(OPEN_STATES))):
            self._open[(t.school_id, t.item_code, t.section)] = t
        failing = {k for k in failing if k not in self._open}
        codes = {k[1] for k in failing}
        if codes:
            closed_schools = list({k[0] for k in failing})
            for t in session.scalars(select(Ticket).where(Ticket.school_id.in_(closed_schools),
                                                          Ticket.item_code.in_(codes), Ticket.status == T.closed)
                                     .order_by(Ticket.closed_at)):
                key = (t.school_id, t.item_code, t.section)
                if key in failing:
                    self._closed[key] = t  # ascending: the latest closed one stays
        visit_ids = [str(v) for v in visit_ids]
        if visit_ids and self._open:
            prop = TicketEvent.data["closure_proposed_by_visit"].as_string()
            for ticket_id, visit_id in session.execute(
                    select(TicketEvent.ticket_id, prop).where(
                        TicketEvent.ticket_id.in_([t.id for t in self._open.values()]), prop.in_(visit_ids))):
                self._proposed.add((ticket_id, visit_id))

    def open_for(self, school_id, item_code: str, section: str) -> Ticket | None:
        return self._open.get((school_id, item_code, section))

    def latest_closed(self, school_id, item_code: str, section: str) -> Ticket | None:
        return self._closed.get((school_id, item_code, section))

    def now_open(self, ticket: Ticket) -> None:
        key = (ticket.school_id, ticket.item_code, ticket.section)
        self._open[key] = ticket
        if self._closed.get(key) is ticket:
            del self._closed[key]

    def proposed(self, ticket: Ticket, visit_id) -> bool:
        return (ticket.id, str(visit_id)) in self._proposed

    def note_proposed(self, ticket: Ticket, visit_id) -> None:
        self._proposed.add((ticket.id, str(visit_id)))


def record_finding(session: Session, *, visit, item_code: str, section: str, source: FindingSource,
                   severity: Severity, title: str, measured=None, required=None, shortfall=None, unit=None,
                   note=None, inspector_id=None, due_days: dict | None = None,
                   index: TicketIndex | None = None, facts: dict | None = None) -> Finding:
    """Add a finding; attach it to the open ticket for that item, reopen a closed one, or open a new one.

    With an `index` (many visits at once), tickets are looked up in it and nothing is flushed here: the
    caller flushes once (new tickets carry their id and version from the start)."""
    ticket = (index.open_for(visit.school_id, item_code, section) if index is not None
              else open_ticket_for(session, visit.school_id, item_code, section))
    if ticket is None:
        if index is not None:
            closed = index.latest_closed(visit.school_id, item_code, section)
        else:
            closed = session.scalar(select(Ticket).where(Ticket.school_id == visit.school_id,
                                                         Ticket.item_code == item_code, Ticket.section == section,
                                                         Ticket.status == T.closed)
                                    .order_by(Ticket.closed_at.desc()).limit(1))
        now = utcnow()
        if closed is not None:
            ticket = closed
            _event(session, ticket, actor_id=inspector_id, frm=T.closed.value, to=T.open.value,
                   note="reopened: a later visit found the same failure", data={"visit_id": str(visit.id)})
            ticket.status, ticket.closed_at = T.open, None
            ticket.due_date = due_date_for(severity, now, due_days)
        else:
            ticket = Ticket(id=uuid.uuid4(), version=1, school_id=visit.school_id, item_code=item_code,
                            section=section, title=title, status=T.open, severity=severity,
                            due_date=due_date_for(severity, now, due_days), inspector_id=inspector_id, opened_at=now)
            session.add(ticket)
            _event(session, ticket, actor_id=inspector_id, frm=None, to=T.open.value, note=title,
                   data={"visit_id": str(visit.id)})
        if index is not None:
            index.now_open(ticket)
    # The ticket always carries the latest measurement.
    ticket.measured, ticket.required, ticket.shortfall, ticket.unit = measured, required, shortfall, unit
    if facts is not None:
        ticket.facts = facts
    if _rank(severity) > _rank(ticket.severity):
        ticket.severity = severity
    ticket.version += 1
    finding = Finding(id=uuid.uuid4(), visit_id=visit.id, school_id=visit.school_id, item_code=item_code,
                      section=section, source=source, measured=measured, required=required, shortfall=shortfall,
                      unit=unit, severity=severity, note=note, ticket_id=ticket.id)
    if index is None:
        session.flush()  # the ticket (a new one) before its finding: no relationship orders them
        session.add(finding)
        session.flush()
    else:
        index.findings.append(finding)
    return finding


def _rank(s: Severity) -> int:
    return [Severity.low, Severity.medium, Severity.high, Severity.veto].index(Severity(s))


def propose_closure(session: Session, ticket: Ticket, *, visit, note: str,
                    index: TicketIndex | None = None) -> TicketEvent | None:
    """A later visit found the item met: note it on the ticket for an inspector to confirm (once per visit)."""
    if ticket.status not in OPEN_STATES:
        return None
    if index is not None:
        if index.proposed(ticket, visit.id):
            return None
        index.note_proposed(ticket, visit.id)
    else:
        already = session.scalar(select(TicketEvent.id).where(TicketEvent.ticket_id == ticket.id,
                                                              TicketEvent.data["closure_proposed_by_visit"].as_string()
                                                              == str(visit.id)))
        if already:
            return None
    return _event(session, ticket, actor_id=None, frm=None, to=None, note=note,
                  data={"closure_proposed_by_visit": str(visit.id)})


def escalate_overdue(session: Session, *, today: date | None = None) -> int:
    """Mark overdue tickets and escalate each to its office once per overdue period (督办); returns how many."""
    today = today or clock.today()
    n = 0
    for ticket in session.scalars(select(Ticket).where(Ticket.status.in_(OPEN_STATES), Ticket.due_date < today)):
        last = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                        TicketEvent.data["escalation"].as_string().isnot(None))
                              .order_by(TicketEvent.at.desc()).limit(1))
        level = int(last.data["escalation"]) if last else 0
        # Escalate again every 30 days a ticket stays overdue.
        last_on = date.fromisoformat(last.data.get("on", clock.day_of(last.at).isoformat())) if last else None
        if last_on is None or (today - last_on).days >= 30:
            _event(session, ticket, actor_id=None, frm=None, to=None,
                   note=f"overdue since {ticket.due_date.isoformat()}: escalated to the supervisory office (督办)",
                   data={"escalation": level + 1, "on": today.isoformat(),
                         "days_overdue": (today - ticket.due_date).days})
            n += 1
    session.flush()
    return n
