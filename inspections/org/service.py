"""Creating and changing jurisdictions and schools."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from inspections.audit import service as audit
from inspections.errors import Forbidden, ValidationFailed
from inspections.org.enums import PARENT_LEVEL, SECTIONS, JurisdictionLevel, SchoolKind
from inspections.org.models import Jurisdiction, School


def create_jurisdiction(session: Session, *, code: str, name: str, level: JurisdictionLevel,
                        parent: Jurisdiction | None, id: uuid.UUID | None = None) -> Jurisdiction:
    """Add a node under its parent (a province has none; a city sits under a province, ...)."""
    errors: dict[str, list[str]] = {}
    want = PARENT_LEVEL[level]
    if want is None and parent is not None:
        errors["parent_id"] = ["a province has no parent"]
    elif want is not None and (parent is None or parent.level != want):
        errors["parent_id"] = [f"a {level.value} must sit under a {want.value}"]
    if session.scalar(select(Jurisdiction.id).where(Jurisdiction.code == code)):
        errors["code"] = ["is already used"]
    if errors:
        raise ValidationFailed("Invalid jurisdiction", errors)
    j = Jurisdiction(id=id or uuid.uuid4(), code=code, name=name, level=level, parent_id=parent.id if parent else None)
    j.path = (parent.path if parent else "/") + f"{j.id}/"
    session.add(j)
    session.flush()
    return j


def update_jurisdiction(session: Session, j: Jurisdiction, *, name: str | None = None, code: str | None = None) -> Jurisdiction:
    """Rename a node (moving nodes between parents is not supported: it would move scopes)."""
    if code is not None and code != j.code:
        if session.scalar(select(Jurisdiction.id).where(Jurisdiction.code == code)):
            raise ValidationFailed("Invalid jurisdiction", {"code": ["is already used"]})
        j.code = code
    if name is not None:
        j.name = name
    j.version += 1
    session.flush()
    return j


def _check_enrolment(kind: SchoolKind, primary: int, junior: int) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    sections = SECTIONS[kind]
    if "primary" not in sections and primary:
        errors["enrolment_primary"] = [f"a {kind.value} school has no primary section"]
    if "junior" not in sections and junior:
        errors["enrolment_junior"] = [f"a {kind.value} school has no junior section"]
    return errors


def _code_used(session: Session, code: str, *, other_than: uuid.UUID | None = None) -> bool:
    """Whether another school has this code in any case (`mdx-j01` beside `MDX-J01` is refused)."""
    stmt = select(School.id).where(func.lower(School.code) == code.lower())
    if other_than is not None:
        stmt = stmt.where(School.id != other_than)
    return session.scalar(stmt.limit(1)) is not None


def _check_position(latitude, longitude) -> dict[str, list[str]]:
    """A position is both coordinates or neither."""
    if latitude is None and longitude is not None:
        return {"latitude": ["enter both latitude and longitude, or neither"]}
    if longitude is None and latitude is not None:
        return {"longitude": ["enter both latitude and longitude, or neither"]}
    return {}


def county_for_write(session: Session, actor, county_id) -> Jurisdiction:
    """The county `actor` (a Principal) registers a school in or moves one to. An id outside the actor's
    scope reads as a field error whether or not it exists; a node it sees but may not manage is Forbidden."""
    from inspections.accounts.scope import jurisdiction_filter
    county = session.scalar(select(Jurisdiction).where(Jurisdiction.id == county_id, jurisdiction_filter(actor)))
    if county is None:
        raise ValidationFailed("Invalid school", {"jurisdiction_id": ["is not a jurisdiction in your scope"]})
    _may_manage(actor, county)
    return county


def _may_manage(actor, county: Jurisdiction) -> None:
    from inspections.accounts.scope import can_manage_jurisdiction
    if not can_manage_jurisdiction(actor, county):
        raise Forbidden("You may only manage schools within your own subtree.")


def create_school(session: Session, *, county: Jurisdiction, id: uuid.UUID | None = None, actor=None,
                  **fields) -> School:
    """Register a school in a county. With `actor` (a Principal: an API or page request) the county must be
    one it manages, and the change is audited in its name."""
    if actor is not None:
        _may_manage(actor, county)
    errors = {}
    if county.level != JurisdictionLevel.county:
        errors["jurisdiction_id"] = ["schools belong to a county"]
    if _code_used(session, fields["code"]):
        errors["code"] = ["is already used"]
    errors |= _check_enrolment(fields["kind"], fields.get("enrolment_primary", 0), fields.get("enrolment_junior", 0))
    errors |= _check_position(fields.get("latitude"), fields.get("longitude"))
    if errors:
        raise ValidationFailed("Invalid school", errors)
    school = School(id=id or uuid.uuid4(), jurisdiction_id=county.id, jurisdiction_path=county.path, **fields)
    session.add(school)
    session.flush()
    if actor is not None:
        audit.record(session, actor_id=actor.user_id, action="create", entity="school", entity_id=school.id,
                     data={"code": school.code})
    return school


def update_school(session: Session, school: School, *, county: Jurisdiction | None = None, actor=None,
                  **fields) -> School:
    """Change a school's register entry. With `actor` (a Principal) the school's county and the one it
    moves to must be counties it manages, and the change is audited in its name."""
    if actor is not None:
        _may_manage(actor, session.get(Jurisdiction, school.jurisdiction_id))
        if county is not None:
            _may_manage(actor, county)
    errors = {}
    if "code" in fields and fields["code"] != school.code and _code_used(session, fields["code"], other_than=school.id):
        errors["code"] = ["is already used"]
    kind = fields.get("kind", school.kind)
    errors |= _check_enrolment(kind, fields.get("enrolment_primary", school.enrolment_primary),
                               fields.get("enrolment_junior", school.enrolment_junior))
    if "latitude" in fields or "longitude" in fields:
        errors |= _check_position(fields.get("latitude", school.latitude), fields.get("longitude", school.longitude))
    if county is not None and county.level != JurisdictionLevel.county:
        errors["jurisdiction_id"] = ["schools belong to a county"]
    if errors:
        raise ValidationFailed("Invalid school", errors)
    for k, v in fields.items():
        setattr(school, k, v)
    moved_from = school.jurisdiction_id if county is not None and county.id != school.jurisdiction_id else None
    if county is not None:
        school.jurisdiction_id, school.jurisdiction_path = county.id, county.path
    school.version += 1
    session.flush()
    if moved_from is not None:
        from inspections.tickets.stats import school_moved
        school_moved(session, school.id, moved_from)
        _school_left(session, moved_from, county)
    if actor is not None:
        data = {k: str(v) for k, v in fields.items()}
        if county is not None:
            data["jurisdiction_id"] = str(county.id)
        audit.record(session, actor_id=actor.user_id, action="update", entity="school", entity_id=school.id,
                     data=data)
    return school


def _school_left(session: Session, old_county_id, new_county: Jurisdiction) -> None:
    """Offices and inspectors above the old county but not above the new one no longer see the school,
    and those above the new one only now see it, with all its history (which their cursors are past):
    both have their sync cursors refused, so their devices resync without it or with all of it."""
    from inspections.accounts.models import User
    from sync.changelog import bump_sync_epochs
    def above(path: str) -> set[uuid.UUID]:  # a path is the ids from the root down: "/a/b/c/"
        return {uuid.UUID(x) for x in path.strip("/").split("/") if x}

    changed = above(session.get(Jurisdiction, old_county_id).path) ^ above(new_county.path)
    if changed:
        bump_sync_epochs(session.connection(), User.jurisdiction_id.in_(changed))


def subtree_ids(session: Session, j: Jurisdiction) -> list[uuid.UUID]:
    """Ids of a node and everything under it."""
    return list(session.scalars(select(Jurisdiction.id).where(Jurisdiction.path.startswith(j.path, autoescape=True))))


def refresh_school_paths(session: Session) -> int:
    """Re-copy each school's county path (repair tool; paths only change if the tree is edited by hand)."""
    n = 0
    for j in session.scalars(select(Jurisdiction).where(Jurisdiction.level == JurisdictionLevel.county)):
        n += session.execute(update(School).where(School.jurisdiction_id == j.id, School.jurisdiction_path != j.path)
                             .values(jurisdiction_path=j.path)).rowcount or 0
    return n
