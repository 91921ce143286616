"""Planning, running and submitting site visits, and recording their answers."""
from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.db import utcnow
from inspections.errors import Conflict, ValidationFailed
from inspections.jobs import outbox
from inspections.org.enums import SECTIONS
from inspections.org.models import School
from inspections.templates import service as templates
from inspections.templates.enums import VersionStatus
from inspections.templates.models import TemplateVersion
from inspections.visits.enums import VISIT_TRANSITIONS, VisitStatus
from inspections.visits.models import Response, Visit, VisitInspector


def _check_inspectors(session: Session, inspector_ids: list[uuid.UUID]) -> dict[str, list[str]]:
    if not inspector_ids:
        return {}
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(inspector_ids)))}
    bad = [str(i) for i in inspector_ids if i not in found or found[i].role != Role.inspector or not found[i].active]
    return {"inspector_ids": [f"not an active inspector: {', '.join(bad)}"]} if bad else {}


def create(session: Session, *, school: School, created_by: User, inspector_ids: list[uuid.UUID],
           planned_for: date | None = None, template_version_id: uuid.UUID | None = None,
           notes: str | None = None, id: uuid.UUID | None = None) -> Visit:
    """Plan a visit; the template version is pinned now (the effective one unless given)."""
    [(version, errors)] = check_new(session, [dict(school=school, inspector_ids=inspector_ids, planned_for=planned_for,
                                                   template_version_id=template_version_id, id=id)])
    if errors:
        raise ValidationFailed("Invalid visit", errors)
    visit = Visit(id=id or uuid.uuid4(), school_id=school.id, template_version_id=version.id,
                  planned_for=planned_for, created_by_id=created_by.id, notes=notes)
    visit.inspector_links = [VisitInspector(inspector_id=i) for i in dict.fromkeys(inspector_ids)]
    session.add(visit)
    session.flush()
    return visit


def check_new(session: Session, specs: list[dict]) -> list[tuple[TemplateVersion | None, dict[str, list[str]]]]:
    """Validate visits to be planned, in a few queries for all of them: (pinned version, errors) each.

    A spec has school, inspector_ids, planned_for, template_version_id and id (both may be None).
    """
    wanted = {i for sp in specs for i in sp["inspector_ids"]}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    ids = [sp["id"] for sp in specs if sp.get("id") is not None]
    taken = set(session.scalars(select(Visit.id).where(Visit.id.in_(ids)))) if ids else set()
    pinned = {sp["template_version_id"] for sp in specs if sp.get("template_version_id") is not None}
    given = {v.id: v for v in session.scalars(select(TemplateVersion).where(TemplateVersion.id.in_(pinned)))} \
        if pinned else {}
    effective: dict = {}
    out = []
    for sp in specs:
        errors: dict[str, list[str]] = {}
        bad = [str(i) for i in sp["inspector_ids"]
               if i not in users or users[i].role != Role.inspector or not users[i].active]
        if bad:
            errors["inspector_ids"] = [f"not an active inspector: {', '.join(bad)}"]
        if sp.get("id") is not None and sp["id"] in taken:
            errors["id"] = ["is already used"]
        if sp.get("template_version_id") is not None:
            version = given.get(sp["template_version_id"])
            if version is None or version.status != VersionStatus.published:
                errors["template_version_id"] = ["is not a published template version"]
        else:
            key = (sp["school"].jurisdiction_path, sp.get("planned_for") or utcnow().date())
            if key not in effective:
                effective[key] = templates.effective_version(session, jurisdiction_path=key[0], on=key[1])
            version = effective[key]
            if version is None:
                errors["template_version_id"] = ["no published template applies to this school"]
        out.append((version, errors))
    return out


def update(session: Session, visit: Visit, *, planned_for: date | None = None, notes: str | None = None,
           inspector_ids: list[uuid.UUID] | None = None, status: VisitStatus | None = None) -> Visit:
    """Change a visit that is not yet submitted; status changes follow VISIT_TRANSITIONS."""
    if visit.status in (VisitStatus.submitted, VisitStatus.cancelled):
        raise Conflict(f"visit is {visit.status.value} and can no longer change")
    if inspector_ids is not None:
        errors = _check_inspectors(session, inspector_ids)
        if errors:
            raise ValidationFailed("Invalid visit", errors)
        visit.inspector_links = [VisitInspector(inspector_id=i) for i in dict.fromkeys(inspector_ids)]
    if planned_for is not None:
        visit.planned_for = planned_for
    if notes is not None:
        visit.notes = notes
    if status is not None and status != visit.status:
        transition(session, visit, status)
    visit.version += 1
    session.flush()
    return visit


def transition(session: Session, visit: Visit, to: VisitStatus) -> Visit:
    """Move a visit to another status, or raise Conflict saying why not."""
    if to not in VISIT_TRANSITIONS[visit.status]:
        raise Conflict(f"a {visit.status.value} visit cannot become {to.value}")
    now = utcnow()
    if to == VisitStatus.in_progress:
        visit.started_at = visit.started_at or now
    if to == VisitStatus.submitted:
        if not visit.responses:
            raise Conflict("a visit with no answers cannot be submitted")
        visit.submitted_at = now
        # Scoring is an effect of the submission, recorded in its transaction (the outbox relays it).
        outbox.add(session, "score_visit", job_id=f"score-visit-{visit.id}", visit_id=str(visit.id))
    visit.status = to
    return visit


def _sections_for(school: School) -> set[str]:
    sections = SECTIONS[school.kind]
    return {""} | set(sections) if len(sections) > 1 else {""}


def put_responses(session: Session, visit: Visit, *, answers: list[dict], user: User) -> list[Response]:
    """Create or replace answers (item_code, section, value, note, flagged) on an open visit."""
    if visit.status not in (VisitStatus.planned, VisitStatus.in_progress):
        raise Conflict(f"visit is {visit.status.value}; answers can no longer change")
    codes = templates.item_codes(visit.template_version)
    sections = _sections_for(visit.school)
    errors: dict[str, list[str]] = {}
    for i, a in enumerate(answers):
        if a["item_code"] not in codes:
            errors[f"answers.{i}.item_code"] = [f"{a['item_code']!r} is not an item of this visit's template"]
        if a.get("section", "") not in sections:
            errors[f"answers.{i}.section"] = [f"must be one of {sorted(sections)} for this school"]
    keys = [(a["item_code"], a.get("section", "")) for a in answers]
    if len(set(keys)) != len(keys):
        errors["answers"] = ["an item is answered twice in one request"]
    if errors:
        raise ValidationFailed("Invalid answers", errors)
    existing = {(r.item_code, r.section): r for r in visit.responses}
    out = []
    for a in answers:
        key = (a["item_code"], a.get("section", ""))
        r = existing.get(key)
        if r is None:
            r = Response(visit_id=visit.id, item_code=key[0], section=key[1])
            visit.responses.append(r)
        else:
            r.version += 1
        r.value, r.note, r.flagged, r.answered_by_id = a.get("value"), a.get("note"), a.get("flagged", False), user.id
        out.append(r)
    if visit.status == VisitStatus.planned:
        transition(session, visit, VisitStatus.in_progress)
    visit.version += 1
    session.flush()
    return out


def facts_for(visit: Visit, section: str = "") -> dict:
    """The visit's answers as scoring facts (a section's answers override whole-school ones)."""
    facts = {r.item_code: r.value for r in visit.responses if r.section == "" and r.value is not None}
    if section:
        facts |= {r.item_code: r.value for r in visit.responses if r.section == section and r.value is not None}
    return facts
