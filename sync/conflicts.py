"""Listing and resolving stored conflicts; a resolution writes a new version and an audit record."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import Principal, school_filter, visit_filter
from inspections.audit import service as audit
from inspections.db import utcnow
from inspections.errors import Conflict as ConflictError
from inspections.errors import Forbidden, ValidationFailed
from inspections.org.models import School
from inspections.visits import service as visits
from inspections.visits.models import Response, Visit
from sync import fields as wire
from sync.changelog import jsonable
from sync.models import Conflict

TAKES = ("server", "client", "custom")
# A choice that cannot be kept because the record was deleted on the server: what to say, and how to keep it.
_GONE = {"response": "the answer was deleted on the server; this value can only be kept as a new answer",
         "visit": "the visit was deleted on the server; this value can only be kept on a new visit"}
_GONE_HOW = {"response": "to keep the value, answer the item again (a new answer on the visit)",
             "visit": "to keep the value, record the visit again"}


def scope_criterion(p: Principal):
    """SQL criterion on Conflict: conflicts on records the principal may see."""
    in_schools = Conflict.school_id.in_(select(School.id).where(school_filter(p)))
    in_visits = Conflict.visit_id.in_(select(Visit.id).where(visit_filter(p)))
    return or_(in_visits, (Conflict.visit_id.is_(None) & in_schools), in_schools & (Conflict.status == "resolved"))


def current_values(conflict: Conflict, record) -> dict:
    """The record's values now of the fields a conflict contests, as the wire shows them."""
    out = {}
    for name in conflict.fields:
        if name == "_deleted":
            out[name] = record is None
        elif name == "inspector_ids":
            out[name] = sorted(str(i) for i in record.inspector_ids)
        else:
            out[name] = jsonable(getattr(record, name))
    return out


def resolve(session: Session, conflict: Conflict, *, user: User, principal: Principal, take: str | None,
            fields: dict, version: int | None = None) -> Conflict:
    """Settle every contested field (server, client or a custom value) and write a new version.

    A client or custom value is written only over the record as the conflict saw it (its `server_version`),
    or over the version the caller names as the one it chose against (`version`, which must be the current
    one): a record changed since would otherwise lose the later change without anyone having seen it."""
    # Who may settle it, before anything about the conflict or its record is said (settled already, its
    # fields, the record deleted or changed since): an inspector on the visit (still covering its school),
    # or an office or admin in scope.
    visit = session.get(Visit, conflict.visit_id, with_for_update=True) if conflict.visit_id else None
    if visit is not None:
        visits.require_on_visit(principal, visit)
    if conflict.status != "open":
        raise ConflictError("this conflict is already resolved", code="conflict.already_resolved")
    choices: dict[str, dict] = {}
    errors: dict[str, list[str]] = {}
    for name in conflict.fields:
        choice = fields.get(name) or ({"take": take} if take else None)
        if choice is None:
            errors[f"fields.{name}"] = ["choose server, client or custom for this field"]
        elif choice.get("take") == "custom" and (name == "_deleted" or "value" not in choice):
            errors[f"fields.{name}"] = ["a custom choice needs a value (not allowed for a delete)"]
        elif choice.get("take") != "custom" and "value" in choice:
            # A value beside server or client would be dropped unseen: the caller meant something else.
            errors[f"fields.{name}"] = ["a value is given only with take \"custom\""]
        else:
            choices[name] = choice
    for name in fields:
        if name not in conflict.fields:
            errors[f"fields.{name}"] = ["is not a contested field of this conflict"]
    if errors:
        raise ValidationFailed("Invalid resolution", errors)

    model = {"visit": Visit, "response": Response}[conflict.entity]
    record = session.get(model, conflict.entity_id, with_for_update=True)
    values = {}
    for name, choice in choices.items():
        if choice["take"] == "client":
            values[name] = conflict.fields[name]["client"]
        elif choice["take"] == "custom":
            values[name] = choice["value"]
    # Only inspectors answer checklists (`visits.require_may_answer`): an office or an admin settles an answer's
    # conflict by keeping the recorded answer, which closes it with no write (a device holding it learns at its
    # next sync that it is settled, and the visit can be submitted); a value of its own choosing is refused,
    # and the conflict stays open.
    keeps_answer = conflict.entity == "response" and principal.role != Role.inspector
    if keeps_answer and values:
        raise Forbidden("only inspectors answer checklists: an office settles an answer's conflict by keeping the "
                        "recorded answer (take \"server\"), or an inspector on the visit chooses",
                        {f"fields.{n}": ["only an inspector on the visit may choose this"] for n in values},
                        code="conflict.inspectors_answer")
    gone = record is None or visit is None
    if gone:
        # The record was deleted on the server: a value chosen from the device (or typed) has nothing to be
        # written to, and closing the conflict would drop it. Refuse, and leave the conflict open (it keeps
        # the value) until the user has kept it anew; taking the server's side (the deletion) closes it.
        kept = {name: _GONE[conflict.entity] for name, choice in choices.items()
                if name != "_deleted" and choice["take"] in ("client", "custom")}
        if kept:
            raise ConflictError(f"the {conflict.entity} was deleted on the server, so the chosen value cannot be "
                                f"kept by settling this conflict, which stays open; {_GONE_HOW[conflict.entity]}, "
                                f"then settle this conflict with take \"server\"",
                                {f"fields.{n}": [m] for n, m in kept.items()}, code="conflict.record_gone")
    if not gone and keeps_answer:
        return _close(session, conflict, user, choices, {}, record.version)
    if not gone and values:
        visits.require_open(visit)  # frozen says so first: a version to choose against would change nothing
    if not gone and values and record.version != (conflict.server_version if version is None else version):
        # Changed since the conflict was recorded (or since the version the caller chose against): the
        # choice was made without seeing the current value. Refuse, show it, and leave the conflict open.
        what = (f"the {conflict.entity} changed since this conflict was recorded (version {conflict.server_version}, "
                f"now {record.version})" if record.version != conflict.server_version else
                f"the version given ({version}) is not the {conflict.entity}'s current one ({record.version})")
        raise ConflictError(f"{what}; the conflict stays open: take the server's side to keep the current values, or "
                            f"choose again with \"version\": {record.version} to write a client or custom value over them",
                            {f"fields.{n}": ["changed on the server since the conflict was recorded"
                                             if record.version != conflict.server_version else
                                             "not chosen against the current version"] for n in values},
                            code="conflict.record_changed", extra={"current": {"version": record.version,
                                               "fields": current_values(conflict, record)}})
    if gone or (not values and visit.status not in visits.OPEN):
        # Nothing is to be written: the record is gone and nothing chosen needs it, or the server's values
        # stand on a frozen visit. The conflict is closed, saying so, rather than left open for ever.
        return _close(session, conflict, user, choices, {}, getattr(record, "version", None), gone=gone)
    # A resolution is the write it stands for, with the chosen values: the same service call, so the
    # same rules (who may, the visit still open, only a planned visit with no answers is deleted, ...).
    # This conflict is settled by the write (a submit it chooses is not held back by the conflict itself);
    # if the write is refused, the caller rolls back and the conflict is open again.
    conflict.status = "resolved"
    session.flush()
    if values.pop("_deleted", False):
        if conflict.entity == "visit":
            visits.delete(session, record, actor=principal, via="sync")
        else:
            visits.delete_answer(session, visit, record, actor=principal, via="sync")
        applied = {"_deleted": True}
    else:
        data, errs = wire.load(conflict.entity, "update", values)
        if errs:
            raise ValidationFailed("Invalid resolution", errs)
        applied = {k: values[k] for k in data}
        # Always a new version, even when the server won: devices holding the conflict see it settled.
        if conflict.entity == "visit":
            visits.edit(session, record, actor=principal, changes=data, via="sync", new_version=True)
        else:
            visits.answer(session, visit, actor=principal, item_code=record.item_code, section=record.section,
                          changes=data, via="sync", new_version=True)
    session.flush()
    return _close(session, conflict, user, choices, applied, getattr(record, "version", None))


def _close(session: Session, conflict: Conflict, user: User, choices: dict, applied: dict, version,
           gone: bool = False) -> Conflict:
    conflict.status, conflict.resolved_by_id, conflict.resolved_at = "resolved", user.id, utcnow()
    conflict.resolution = {"choices": {k: v["take"] for k, v in choices.items()}, "applied": applied,
                           "version": version} | ({"record_gone": True} if gone else {})
    audit.record(session, actor_id=user.id, action="sync.resolve", entity=conflict.entity,
                 entity_id=conflict.entity_id, data={"conflict_id": str(conflict.id)} | conflict.resolution)
    session.flush()
    return conflict
