"""Planning, running and submitting site visits, and recording their answers."""
from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from inspections import clock
from inspections.accounts.enums import Role
from inspections.accounts.models import InspectorAssignment, User
from inspections.accounts.scope import Principal, covers_school
from inspections.audit import service as audit
from inspections.audit.models import AuditRecord
from inspections.db import among, utcnow
from inspections.errors import Conflict, Forbidden, ValidationFailed
from inspections.jobs import outbox
from inspections.org.enums import SECTIONS
from inspections.org.models import Jurisdiction, School
from inspections.scoring import engine
from inspections.templates import service as templates
from inspections.templates.enums import VersionStatus
from inspections.templates.models import TemplateVersion
from inspections.values import same
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
    """Plan a visit; it pins the template version in force for its school on its day (see `check_new`)."""
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

    The version pinned is always the one in force for the school on the planned day (today when none):
    the nearest jurisdiction's published template, its latest version effective by then
    (`templates.effective_version`), decided here and not by the caller. A `template_version_id` the
    caller names is what its device had: when it is a published version of a template that applies to
    the school (national, or of a jurisdiction on its path) but not the one in force (an older one, the
    national one under a county standard, one not effective yet), the visit is still planned, pinned to
    the version in force, and the record returned says which: a visit planned offline before a new
    version was published keeps its answers. Any other id (unknown, a draft, another county's) is a
    field error on `template_version_id` naming the version in force.
    """
    wanted = {i for sp in specs for i in sp["inspector_ids"]}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    # Whom each inspector covers (its jurisdiction's subtree, its assigned schools): the rule planning keeps.
    paths = dict(session.execute(select(User.id, Jurisdiction.path)
                                 .join(Jurisdiction, User.jurisdiction_id == Jurisdiction.id)
                                 .where(User.id.in_(wanted))).all()) if wanted else {}
    assigned = set(session.execute(select(InspectorAssignment.inspector_id, InspectorAssignment.school_id)
                                   .where(InspectorAssignment.inspector_id.in_(wanted))).all()) if wanted else set()
    ids = [sp["id"] for sp in specs if sp.get("id") is not None]
    taken = (set(session.scalars(select(Visit.id).where(Visit.id.in_(ids)))) | deleted_ids(session, "visit", ids)) \
        if ids else set()
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
        elsewhere = [str(i) for i in sp["inspector_ids"] if i in users and str(i) not in bad
                     and (i, sp["school"].id) not in assigned
                     and not (i in paths and sp["school"].jurisdiction_path.startswith(paths[i]))]
        if elsewhere:
            errors.setdefault("inspector_ids", []).append(
                f"not an inspector whose jurisdiction covers this school: {', '.join(elsewhere)}")
        if sp.get("id") is not None and sp["id"] in taken:
            errors["id"] = ["is already used"]
        # The standard a visit is scored by is the one in force for its school on its day, decided here.
        key = (sp["school"].jurisdiction_path, sp.get("planned_for") or clock.today())
        if key not in effective:
            effective[key] = templates.effective_version(session, jurisdiction_path=key[0], on=key[1])
        version = effective[key]
        asked = sp.get("template_version_id")
        if version is None:
            errors["template_version_id"] = ["no published template applies to this school"]
        elif asked is not None and asked != version.id and not _applies(given.get(asked), sp["school"]):
            errors["template_version_id"] = [
                f"is not a published version of a template that applies to this school; the version in force "
                f"for it on {key[1].isoformat()} is {version.template.code} version {version.number} ({version.id})"]
        out.append((version, errors))
    return out


def _applies(version: TemplateVersion | None, school: School) -> bool:
    """Whether a version is a published one of a template that applies to the school (national, or of a
    jurisdiction on its path): a device may have pinned it; the visit gets the one in force instead."""
    return version is not None and version.status == VersionStatus.published and (
        version.template.jurisdiction_id is None
        or str(version.template.jurisdiction_id) in school.jurisdiction_path.strip("/").split("/"))


# --- the rules of a change, named once ---------------------------------------------------------

def deleted_ids(session: Session, entity: str, ids) -> set[uuid.UUID]:
    """Which of `ids` ("visit" or "response") named a record that was deleted. An id is never used
    twice: a device holding the tombstone, or retrying a create long after, must not meet a different
    record under it. Every delete is audited (`delete`, `delete_answer`), and audit records are kept."""
    ids = [str(i) for i in ids]
    if not ids:
        return set()
    wanted = set(ids)
    batched = {uuid.UUID(r["entity_id"]) for r in audit.pending(session)
               if r["entity"] == entity and r["entity_id"] in wanted and r["action"].split(".")[-1] == "delete"}
    return batched | {uuid.UUID(i) for i in session.scalars(
        select(AuditRecord.entity_id).where(AuditRecord.entity == entity, among(session, AuditRecord.entity_id, ids),
                                            or_(AuditRecord.action == "delete", AuditRecord.action.like("%.delete"))))}


OPEN = (VisitStatus.planned, VisitStatus.in_progress)


def require_on_visit(actor: Principal | None, visit: Visit) -> None:
    """An inspector changes only a visit it is on, and only while it still covers the visit's school (the rule
    it was put on the visit by: an office that takes the school from it takes the school's visits too; it
    still reads its visits); offices and admins in scope change any. Forbidden. `visit` is the ORM record,
    or a plain row with inspector_ids, school_id and school_path."""
    if actor is None or actor.role != Role.inspector:
        return
    if actor.user_id not in visit.inspector_ids:
        raise Forbidden("Only the inspectors on this visit may change it.")
    path = visit.school_path if hasattr(visit, "school_path") else visit.school.jurisdiction_path
    if not covers_school(actor, visit.school_id, path):
        raise Forbidden("You no longer cover this visit's school (its office took it from you); the visit's "
                        "other inspectors or the office finish it.", code="visit.school_not_covered")


class Frozen(Conflict):
    """The visit is submitted or cancelled: it takes no more changes (HTTP 409)."""

    code = "visit.frozen"


def require_open(visit: Visit) -> None:
    """A submitted or cancelled visit is frozen; Frozen (a Conflict) saying so."""
    if visit.status not in OPEN:
        # No way reopens a submitted visit (its score and tickets stand on it): a correction is a new visit.
        raise Frozen(f"the visit is {visit.status.value} and frozen; late edits are not accepted "
                     f"(a correction is a new visit to the school)")


def require_may_answer(actor: Principal, visit: Visit) -> None:
    """Only an inspector on the visit answers its checklist, and only while the visit is open."""
    if actor.role != Role.inspector:
        raise Forbidden("only inspectors answer checklists")
    require_on_visit(actor, visit)
    require_open(visit)


def require_version(record, expected: int | None, what: str) -> None:
    """Compare-and-set: Stale (409, with the server's copy for the caller) unless `expected` is the
    record's version (None: no check)."""
    if expected is not None and expected != record.version:
        raise Stale(f"The {what} changed since version {expected}; it is now version {record.version}.", record)


class Stale(Conflict):
    """A write based on an older version than the server's (HTTP 409); `record` is the server's copy."""

    def __init__(self, message: str, record):
        super().__init__(message, {"version": [f"is {record.version} on the server"]})
        self.record = record


def status_path(frm: VisitStatus, to: VisitStatus) -> list[VisitStatus] | None:
    """The moves that take a visit from `frm` to `to` along its lifecycle (VISIT_TRANSITIONS), shortest
    first; [] when equal; None when `to` cannot be reached from `frm`."""
    paths = {frm: []}
    todo = [frm]
    while todo:
        at = todo.pop(0)
        if at == to:
            return paths[at]
        for nxt in sorted(VISIT_TRANSITIONS[at]):
            if nxt not in paths:
                paths[nxt] = paths[at] + [nxt]
                todo.append(nxt)
    return None


def merge_status(base: VisitStatus | None, server: VisitStatus, client: VisitStatus) -> str:
    """How a device's status move meets the server's, on the lifecycle and not as free text:
    'keep' (equal, or the server is already past it: planned -> in_progress -> submitted compose),
    'apply' (the server can move on to it), 'conflict' (truly divergent: a cancellation over a visit
    that moved since the device saw it, or two ends that do not lie on one path)."""
    if client == server or status_path(client, server):
        return "keep"
    if status_path(server, client) is None:
        return "conflict"
    if client == VisitStatus.cancelled and base is not None and base != server:
        return "conflict"
    return "apply"


def _audit(session: Session, actor: Principal | None, via: str, verb: str, entity_id, data: dict | None = None):
    action = verb if via == "api" else f"{via}.{verb}"
    audit.record(session, actor_id=actor.user_id if actor else None, action=action, entity="visit",
                 entity_id=entity_id, data=data or {})


def _move(session: Session, visit: Visit, to: VisitStatus) -> None:
    path = status_path(visit.status, to)
    if path is None:
        raise Conflict(f"a {visit.status.value} visit cannot become {to.value}", code="visit.cannot_become")
    for step in path:
        transition(session, visit, step)


# --- visits -------------------------------------------------------------------------------------

def create_in_scope(session: Session, *, actor: Principal, school_id: uuid.UUID, inspector_ids: list[uuid.UUID],
                    planned_for: date | None = None, template_version_id: uuid.UUID | None = None,
                    notes: str | None = None, id: uuid.UUID | None = None, via: str = "api") -> Visit:
    """Plan or start a visit at a school in the actor's scope (an inspector is put on the visits it
    plans); audited. ValidationFailed names the field (school not in scope, inspectors, template)."""
    from inspections.accounts.scope import school_filter
    school = session.scalar(select(School).where(School.id == school_id, school_filter(actor)))
    if school is None:
        raise ValidationFailed("Invalid visit", {"school_id": ["is not a school in your scope"]})
    inspector_ids = list(inspector_ids or [])
    if actor.role == Role.inspector and actor.user_id not in inspector_ids:
        inspector_ids.insert(0, actor.user_id)
    created_by = session.get(User, actor.user_id)
    visit = create(session, school=school, created_by=created_by, inspector_ids=inspector_ids,
                   planned_for=planned_for, template_version_id=template_version_id, notes=notes, id=id)
    _audit(session, actor, via, "create", visit.id)
    return visit


def edit(session: Session, visit: Visit, *, actor: Principal | None, changes: dict, expected_version: int | None = None,
         via: str = "api", context: dict | None = None, new_version: bool = False) -> Visit:
    """The one way a visit's fields change: planned_for, notes, inspector_ids, status.

    A status is moved along the lifecycle (planned -> in_progress -> submitted compose; cancelled from
    either open state); submitting records the scoring effect. A planned visit moved to another day is
    pinned to the version in force on that day (as `check_new` pins a new one); one already answered keeps
    its version. Bumps the version once; audited.
    Raises Forbidden (not on the visit), Conflict (frozen, unreachable status, no answers to submit),
    Stale (expected_version given and behind), ValidationFailed (inspectors).
    """
    require_on_visit(actor, visit)
    require_open(visit)
    require_version(visit, expected_version, "visit")
    changes = edit_changes(visit, changes)
    if not changes and not new_version:
        return visit  # nothing to write: the version stays, so no other copy turns stale
    # (new_version: a settled conflict is a new version even when the server's values stand.)
    if changes.get("inspector_ids") is not None:
        errors = _check_inspectors(session, changes["inspector_ids"])
        if not changes["inspector_ids"] and visit.inspector_ids:
            # Nobody left on it, nobody could answer or edit it again but an office.
            errors["inspector_ids"] = ["a visit keeps at least one inspector"]
        # An inspector put on the visit now must cover its school (those already on it stay on it, and change it
        # only while they cover it: require_on_visit).
        added = [i for i in dict.fromkeys(changes["inspector_ids"]) if i not in set(visit.inspector_ids)]
        if added and not errors:
            [(_, new_errors)] = check_new(session, [dict(school=visit.school, inspector_ids=added, planned_for=None,
                                                         template_version_id=visit.template_version_id, id=None)])
            errors = {k: v for k, v in new_errors.items() if k == "inspector_ids"}
        if errors:
            raise ValidationFailed("Invalid visit", errors)
        visit.inspector_links = [VisitInspector(inspector_id=i) for i in dict.fromkeys(changes["inspector_ids"])]
    if changes.get("planned_for") is not None:
        visit.planned_for = changes["planned_for"]
        if visit.status == VisitStatus.planned:
            # Not started (no answers yet): scored by the standard in force on its new day, as a visit
            # planned for that day would be (check_new). Once answered, its checklist stays the one answered.
            version = templates.effective_version(session, jurisdiction_path=visit.school.jurisdiction_path,
                                                  on=visit.planned_for)
            if version is not None and version.id != visit.template_version_id:
                visit.template_version = version
    if "notes" in changes:
        visit.notes = changes["notes"]
    if changes.get("status") is not None and changes["status"] != visit.status:
        _move(session, visit, VisitStatus(changes["status"]))
    bump(visit)
    # No flush here: a batch of edits is written by one flush of the caller's (multi-row statements);
    # the record's new version and time are set now, so what the caller answers is already right.
    _audit(session, actor, via, "update", visit.id, {"fields": sorted(changes)} | (context or {}))
    return visit


def bump(record) -> None:
    """A new version of a visit or an answer, stamped now (set here, not at flush, so a batch written
    by one flush answers each record as it is)."""
    record.version += 1
    record.updated_at = utcnow()


def edit_changes(visit, changes: dict) -> dict:
    """The fields of `changes` (planned_for, notes, inspector_ids, status) that differ from the visit's
    (the ORM record or a plain row with those attributes); a field given as None other than notes is
    not given. The rule of `edit` and of the set-based writer of a push's updates."""
    return {k: v for k, v in changes.items() if _differs(visit, k, v)}


def _differs(visit, field: str, value) -> bool:
    if value is None and field != "notes":
        return False  # not given
    if field == "inspector_ids":
        return set(value) != set(visit.inspector_ids)
    if field == "status":
        return VisitStatus(value) != visit.status
    return getattr(visit, field) != value


def update(session: Session, visit: Visit, *, planned_for: date | None = None, notes: str | None = None,
           inspector_ids: list[uuid.UUID] | None = None, status: VisitStatus | None = None) -> Visit:
    """A change made by the system (planning runs): `edit` with no acting user."""
    changes = {k: v for k, v in (("planned_for", planned_for), ("notes", notes), ("inspector_ids", inspector_ids),
                                 ("status", status)) if v is not None}
    return edit(session, visit, actor=None, changes=changes, via="system")


def delete(session: Session, visit: Visit, *, actor: Principal | None, expected_version: int | None = None,
           via: str = "api", context: dict | None = None) -> None:
    """Delete a visit: only a planned one with no answers (otherwise it is cancelled); audited.
    Forbidden / Conflict / Stale as `edit`."""
    require_on_visit(actor, visit)
    require_open(visit)
    require_version(visit, expected_version, "visit")
    if visit.status != VisitStatus.planned or visit.responses:
        raise Conflict("only a planned visit with no answers can be deleted; cancel it instead")
    session.delete(visit)
    session.flush()
    _audit(session, actor, via, "delete", visit.id, context)


def score_job_id(visit: Visit) -> str:
    return f"score-visit-{visit.id}"


def prepare_submits(session: Session, visits: list[Visit]) -> None:
    """Before a batch that may submit these visits: whether each has answers, and their scoring
    records, read in two queries instead of two each."""
    outbox.prefetch(session, [score_job_id(v) for v in visits])
    ids = [v.id for v in visits if "responses" not in inspect(v).dict]
    if ids:
        answered = set(session.scalars(select(Response.visit_id).where(Response.visit_id.in_(ids)).distinct()))
        session.info.setdefault(ANSWERED, {}).update({i: i in answered for i in ids})


# session.info: {visit id: has answers}, read by prepare_submits for a batch whose visits are locked,
# kept up to date by `answer` and `delete_answer` (the only ways an answer comes and goes), and dropped
# by the batch when it ends (forget_prepared), as a rolled-back batch's answers are gone again.
ANSWERED = "visits.answered"


def forget_prepared(session: Session) -> None:
    """The batch that called prepare_submits is over (applied or rolled back)."""
    session.info.pop(ANSWERED, None)


def has_answers(session: Session, visit: Visit) -> bool:
    """Whether the visit has any answer (a visit with none cannot be submitted)."""
    if "responses" in inspect(visit).dict:
        return bool(visit.responses)
    known = session.info.get(ANSWERED, {}).get(visit.id)
    return known if known is not None else bool(visit.responses)


# Open sync conflicts on a visit (on it or on its answers) keep it from being submitted: a submitted visit
# is frozen, and a choice still to be made on it could then never be kept. The sync package keeps the
# conflicts and registers here how many a visit has open (sync/models.py), so the rule stays in
# `transition`, the one place a visit is submitted, without this package importing sync.
OPEN_CONFLICTS: list = []  # callables (session, visit) -> int


def open_conflicts(session: Session, visit: Visit) -> int:
    """How many conflicts are open on the visit or its answers."""
    return sum(count(session, visit) for count in OPEN_CONFLICTS)


def transition(session: Session, visit: Visit, to: VisitStatus) -> Visit:
    """Move a visit one step along VISIT_TRANSITIONS, or raise Conflict saying why not. Submitting
    records its scoring in the outbox, in this transaction (relayed to RQ after commit)."""
    if to not in VISIT_TRANSITIONS[visit.status]:
        raise Conflict(f"a {visit.status.value} visit cannot become {to.value}", code="visit.cannot_become")
    now = utcnow()
    if to == VisitStatus.in_progress:
        visit.started_at = visit.started_at or now
    if to == VisitStatus.submitted:
        if not has_answers(session, visit):
            raise Conflict("a visit with no answers cannot be submitted")
        if n := open_conflicts(session, visit):
            raise Conflict(f"the visit has {n} open conflict{'s' if n != 1 else ''} (on it or its answers); "
                           f"settle {'them' if n != 1 else 'it'} first, then submit",
                           {"status": [f"{n} open conflict{'s' if n != 1 else ''} to settle first"]},
                           code="visit.open_conflicts")
        visit.submitted_at = now
        # Scoring is an effect of the submission, recorded in its transaction (the outbox relays it).
        outbox.add(session, "score_visit", job_id=score_job_id(visit), visit_id=str(visit.id))
    visit.status = to
    return visit


def section_levels(school: School) -> dict[str, frozenset[str]]:
    """The sections a school's answers go in, each with the levels (学段) its answers are scored at: a
    single-level school answers for the whole school (""), at its one level; a combined school (nine- or
    twelve-year) answers per section ("primary", "junior") or for the whole school (""), whose answers
    count in both sections (`facts_for`)."""
    levels = SECTIONS[school.kind]
    if len(levels) == 1:
        return {"": frozenset(levels)}
    return {"": frozenset(levels)} | {level: frozenset((level,)) for level in levels}


def key_errors(checklist: templates.Checklist, sections: dict[str, frozenset[str]], code: str, section: str,
               at: str = "") -> dict[str, list[str]]:
    """Field errors of one answer's (item_code, section): an item of the checklist, a section of the school
    (`section_levels`), and an item asked at every level that section is scored at (scoring refuses an item
    not asked for the school's level, `engine.validate_facts`: written there, it would make the visit
    unscorable)."""
    errors: dict[str, list[str]] = {}
    item = checklist.items.get(code)
    if item is None:
        errors[f"{at}item_code"] = [f"{code!r} is not an item of this visit's template"]
    if section not in sections:
        errors[f"{at}section"] = [f"must be one of {sorted(sections)} for this school"]
    elif item is not None:
        missing = sorted(sections[section] - set(item.get("levels", ())))
        if missing:
            errors[f"{at}item_code"] = [f"{code!r} is not asked for {' or '.join(missing)} schools"
                                        + (" (answer it in its section)" if section == "" and len(sections) > 1
                                           and set(item.get("levels", ())) & sections[section] else "")]
    return errors


def answer_rules(session: Session, visit: Visit) -> tuple[templates.Checklist, dict[str, frozenset[str]]]:
    """(the checklist of the visit's pinned template, its school's `section_levels`), cached per session. A
    visit pins a published version, whose checklist is known without loading its definition (`checklist_of`)."""
    cache = session.info.setdefault("visits.rules", {})
    if visit.id not in cache:
        cache[visit.id] = (templates.checklist_of(session, visit.template_version_id), section_levels(visit.school))
    return cache[visit.id]


def check_answer_keys(session: Session, visit: Visit, keys: list[tuple[str, str]], prefix: str = "") -> dict:
    """Field errors for (item_code, section) pairs that are not items/sections of this visit, or items not
    asked at the levels their section is scored at (`key_errors`)."""
    checklist, sections = answer_rules(session, visit)
    errors: dict[str, list[str]] = {}
    for i, (code, section) in enumerate(keys):
        errors |= key_errors(checklist, sections, code, section, prefix.format(i=i))
    return errors


def value_problem(checklist: templates.Checklist, item_code: str, value) -> str | None:
    """What is wrong with `value` as the answer to an item of this checklist (its kind, "n/a" where the
    template allows it, ...), or None: the rule scoring judges answers by (`engine.answer_problem`), so
    a value written is one the visit scores with. The item is one of the checklist's (check_answer_keys)."""
    return engine.answer_problem(checklist.items[item_code], value, checklist.template)


def check_answer_values(session: Session, visit: Visit, answers: list[tuple[str, str, object]],
                        prefix: str = "") -> dict:
    """Field errors for (item_code, section, value) triples whose value would be written and is not one
    the item takes (`value_problem`). A value the stored answer has already is not judged again (an
    answer kept from before this rule can still have its note changed); items not of this visit are
    check_answer_keys' to name."""
    checklist, _ = answer_rules(session, visit)
    stored = None
    errors: dict[str, list[str]] = {}
    for i, (code, section, value) in enumerate(answers):
        if value is None or code not in checklist.items:
            continue  # unanswered (or cleared) is always written
        problem = value_problem(checklist, code, value)
        if problem is None:
            continue
        if stored is None:
            stored = {(r.item_code, r.section): r for r in visit.responses}
        r = stored.get((code, section))
        if r is None or not same(r.value, value):
            errors[f"{prefix.format(i=i)}value"] = [problem]
    return errors


ANSWER_FIELDS = ("value", "note", "flagged")


def answer(session: Session, visit: Visit, *, actor: Principal, item_code: str, section: str = "",
           changes: dict, id: uuid.UUID | None = None, expected_version: int | None = None, via: str = "api",
           audit_items: bool = True, context: dict | None = None, new_version: bool = False) -> tuple[Response, bool]:
    """The one way an answer is written: create it, or change only the fields given (value, note,
    flagged). Only inspectors on an open visit answer; the first answer starts a planned visit.
    A value written (a new one, or a change) must be one the item takes (`value_problem`: its kind, the
    rule scoring judges by); a value already stored is never judged again (an answer kept from before
    the rule can still have its note changed). Returns (answer, created). Raises Forbidden, Conflict
    (frozen), Stale (expected_version behind), ValidationFailed (not an item or section of this visit,
    or a value the item does not take: nothing is written)."""
    require_may_answer(actor, visit)
    errors = check_answer_keys(session, visit, [(item_code, section)])
    if errors:
        raise ValidationFailed("Invalid answer", errors)
    r = next((x for x in visit.responses if x.item_code == item_code and x.section == section), None)
    changes = {k: v for k, v in changes.items() if k in ANSWER_FIELDS}
    created = r is None
    if created:
        if expected_version is not None:
            # An edit of version N of an answer that is no longer there: deleted since (never recreate it).
            raise Conflict(f"the answer to {item_code} was deleted since version {expected_version}",
                           {"version": ["the answer is no longer on the server"]})
        if id is not None and (session.get(Response, id) is not None or deleted_ids(session, "response", [id])):
            raise ValidationFailed("this answer id is already used", {"id": ["is already used"]})
        require_answer_value(session, visit, item_code, changes.get("value"))
        now = utcnow()
        r = Response(id=id or uuid.uuid4(), visit_id=visit.id, item_code=item_code, section=section,
                     value=changes.get("value"), note=changes.get("note"), flagged=bool(changes.get("flagged", False)),
                     answered_by_id=actor.user_id, version=1, created_at=now, updated_at=now)
        visit.responses.append(r)  # no flush: a batch's new answers are written together
        if visit.id in session.info.get(ANSWERED, {}):
            session.info[ANSWERED][visit.id] = True
    else:
        require_version(r, expected_version, "answer")
        changes = answer_changes(answer_rules(session, visit)[0], r, changes)
        for k, v in changes.items():
            setattr(r, k, v)
        if "value" in changes:
            # The ORM compares JSON values as Python does (1 == 1.0 == True) and would skip the UPDATE:
            # the value is written as given (true over 1 is a change).
            flag_modified(r, "value")
        if changes or new_version:  # an answer sent again as it stands keeps its version (no copy elsewhere
            # turns stale); a settled conflict is a new version even when the server's values stand
            r.answered_by_id = actor.user_id
            bump(r)
    if visit.status == VisitStatus.planned:
        transition(session, visit, VisitStatus.in_progress)
        bump(visit)
    if audit_items:
        _audit(session, actor, via, "answer", visit.id, {"items": [item_code]} | (context or {}))
    return r, created


def answer_changes(checklist: templates.Checklist, stored, changes: dict) -> dict:
    """What a change makes of a stored answer: the fields of `changes` (value, note, flagged; others are
    ignored) whose values differ from `stored`'s (compared as JSON, `same`; flagged taken as a bool), {}
    when it changes nothing. `stored` is the answer (the ORM record or a plain row with item_code, value,
    note, flagged). A value changed to one its item does not take raises ValidationFailed {"value": [...]}
    (`value_problem`); a stored value is never judged again. The rule of `answer` and of the set-based
    writer of a push's updates (`sync.bulk.apply_updates`)."""
    changes = {k: bool(v) if k == "flagged" else v for k, v in changes.items() if k in ANSWER_FIELDS}
    changes = {k: v for k, v in changes.items() if not same(getattr(stored, k), v)}
    if changes.get("value") is not None:
        problem = value_problem(checklist, stored.item_code, changes["value"])
        if problem:
            raise ValidationFailed("Invalid answer", {"value": [problem]}, code="answer.invalid_value")
    return changes


def require_answer_value(session: Session, visit: Visit, item_code: str, value) -> None:
    """ValidationFailed {"value": [...]} unless the item takes `value` as its new value (`value_problem`)."""
    if value is None:
        return
    checklist, _ = answer_rules(session, visit)
    problem = value_problem(checklist, item_code, value)
    if problem:
        raise ValidationFailed("Invalid answer", {"value": [problem]}, code="answer.invalid_value")


def delete_answer(session: Session, visit: Visit, r: Response, *, actor: Principal, expected_version: int | None = None,
                  via: str = "api") -> None:
    """Remove an answer from an open visit (inspectors on it only); audited. Forbidden / Conflict / Stale."""
    require_may_answer(actor, visit)
    require_version(r, expected_version, "answer")
    session.delete(r)
    session.flush()
    session.info.get(ANSWERED, {}).pop(visit.id, None)  # read again if asked
    audit.record(session, actor_id=actor.user_id, action="delete" if via == "api" else f"{via}.delete",
                 entity="response", entity_id=r.id)


def put_responses(session: Session, visit: Visit, *, answers: list[dict], actor: Principal, via: str = "api") -> list[Response]:
    """Write several answers, all or nothing: each changes only the fields it carries, and one carrying
    `version` is refused (Stale) when the answer moved on. Item, section and value errors name the answer."""
    require_on_visit(actor, visit)
    require_open(visit)
    keys = [(a["item_code"], a.get("section", "")) for a in answers]
    errors = check_answer_keys(session, visit, keys, prefix="answers.{i}.")
    # Every value up front, so each refusal names its answer (`answer` checks each again as it writes it).
    errors |= check_answer_values(session, visit, [(*k, a.get("value")) for k, a in zip(keys, answers)],
                                  prefix="answers.{i}.")
    if len(set(keys)) != len(keys):
        errors["answers"] = ["an item is answered twice in one request"]
    if errors:
        # Coded as a value refusal only when every error is a value's (otherwise the items named are wrong).
        raise ValidationFailed("Invalid answers", errors,
                               code="answer.invalid_value" if all(k.endswith(".value") for k in errors) else None)
    out = [answer(session, visit, actor=actor, item_code=a["item_code"], section=a.get("section", ""),
                  changes=a, expected_version=a.get("version"), via=via, audit_items=False)[0] for a in answers]
    _audit(session, actor, via, "answer", visit.id, {"items": [k[0] for k in keys]})
    session.flush()
    return out


def facts_for(visit: Visit, section: str = "") -> dict:
    """The visit's answers as scoring facts (a section's answers override whole-school ones)."""
    facts = {r.item_code: r.value for r in visit.responses if r.section == "" and r.value is not None}
    if section:
        facts |= {r.item_code: r.value for r in visit.responses if r.section == section and r.value is not None}
    return facts
