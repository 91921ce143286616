"""Who may see what: every query in the system is filtered through these rules.

A school sees only itself; an inspector the schools assigned to it plus, when bound to one, its
jurisdiction's subtree; an office its jurisdiction's subtree; an admin everything.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import exists, false, or_, select, true
from sqlalchemy.orm import Session

from inspections.accounts.enums import Role
from inspections.accounts.models import InspectorAssignment, User
from inspections.org.models import Jurisdiction, School
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Visit, VisitInspector


@dataclass(frozen=True)
class Principal:
    """The acting user as the rules need it, resolved once per request."""

    user_id: uuid.UUID
    role: Role
    jurisdiction_id: uuid.UUID | None = None
    jurisdiction_path: str | None = None
    school_id: uuid.UUID | None = None
    school_path: str | None = None
    assigned_school_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    sync_epoch: int = 0

    def scope_tag(self) -> str:
        """A short fingerprint of what this principal may see: it changes when the scope does (role,
        anchors, assigned schools, or the user's sync_epoch). Sync cursors carry it."""
        import hashlib
        parts = [str(self.user_id), self.role.value, self.jurisdiction_path or "", str(self.school_id or ""),
                 self.school_path or "", ",".join(sorted(str(i) for i in self.assigned_school_ids)),
                 str(self.sync_epoch)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    @property
    def anchor_paths(self) -> list[str]:
        """Jurisdiction paths this principal works under (for inherited things like templates)."""
        return [p for p in (self.jurisdiction_path, self.school_path) if p]


def principal_for(session: Session, user: User) -> Principal:
    """Resolve a user's scope."""
    jpath = user.jurisdiction.path if user.jurisdiction else None
    spath = user.school.jurisdiction_path if user.school else None
    assigned = frozenset(session.scalars(select(InspectorAssignment.school_id)
                                         .where(InspectorAssignment.inspector_id == user.id)))
    return Principal(user_id=user.id, role=user.role, jurisdiction_id=user.jurisdiction_id, jurisdiction_path=jpath,
                     school_id=user.school_id, school_path=spath, assigned_school_ids=assigned,
                     sync_epoch=user.sync_epoch or 0)


def covers_school(p: Principal, school_id, school_path: str | None) -> bool:
    """Whether an inspector covers a school (its jurisdiction's subtree, or an assignment): what planning
    asks of anyone put on a visit, and what an inspector on a visit must still meet to change it. Other
    roles: True (their scope is the filters')."""
    if p.role != Role.inspector:
        return True
    if school_id in p.assigned_school_ids:
        return True
    return bool(p.jurisdiction_path) and bool(school_path) and school_path.startswith(p.jurisdiction_path)


def school_filter(p: Principal):
    """SQL criterion on School for the schools a principal may see."""
    if p.role == Role.admin:
        return true()
    if p.role == Role.school:
        return School.id == p.school_id
    clauses = []
    if p.jurisdiction_path:
        clauses.append(School.jurisdiction_path.startswith(p.jurisdiction_path, autoescape=True))
    if p.role == Role.inspector and p.assigned_school_ids:
        clauses.append(School.id.in_(p.assigned_school_ids))
    return or_(*clauses) if clauses else false()


def jurisdiction_filter(p: Principal):
    """SQL criterion on Jurisdiction for the nodes a principal may see."""
    if p.role == Role.admin:
        return true()
    if p.role in (Role.office, Role.inspector) and p.jurisdiction_path:
        return Jurisdiction.path.startswith(p.jurisdiction_path, autoescape=True)
    return false()


def visit_filter(p: Principal):
    """SQL criterion on Visit: visits to schools in scope, or that the inspector is on.

    A school sees only its submitted visits: unannounced visits must not leak beforehand.
    """
    in_scope = Visit.school_id.in_(select(School.id).where(school_filter(p)))
    if p.role == Role.school:
        return (Visit.school_id == p.school_id) & (Visit.status == VisitStatus.submitted)
    if p.role == Role.inspector:
        on_visit = exists().where(VisitInspector.visit_id == Visit.id, VisitInspector.inspector_id == p.user_id)
        return or_(in_scope, on_visit)
    return in_scope


def user_filter(p: Principal):
    """SQL criterion on User for the accounts an office or admin may manage."""
    if p.role == Role.admin:
        return true()
    if p.role == Role.office and p.jurisdiction_path:
        in_tree = select(Jurisdiction.id).where(Jurisdiction.path.startswith(p.jurisdiction_path, autoescape=True))
        schools = select(School.id).where(School.jurisdiction_path.startswith(p.jurisdiction_path, autoescape=True))
        assigned = select(InspectorAssignment.inspector_id).where(InspectorAssignment.school_id.in_(schools))
        return or_(User.jurisdiction_id.in_(in_tree), User.school_id.in_(schools), User.id.in_(assigned))
    return User.id == p.user_id


def manageable_user_filter(p: Principal):
    """SQL criterion on User for the accounts a principal may change (password, active flag, assignments).

    An office manages only accounts whose whole scope lies inside its jurisdiction: the bound
    jurisdiction or school and every assigned school. An inspector of another county that was also
    assigned one of its schools is visible to it (it plans visits with it) but not its to change.
    """
    if p.role == Role.admin:
        return true()
    if p.role != Role.office or not p.jurisdiction_path:
        return false()
    in_tree = select(Jurisdiction.id).where(Jurisdiction.path.startswith(p.jurisdiction_path, autoescape=True))
    schools = select(School.id).where(School.jurisdiction_path.startswith(p.jurisdiction_path, autoescape=True))
    outside = exists().where(InspectorAssignment.inspector_id == User.id, InspectorAssignment.school_id.not_in(schools))
    return (user_filter(p) & (User.role != Role.admin)
            & (User.jurisdiction_id.is_(None) | User.jurisdiction_id.in_(in_tree))
            & (User.school_id.is_(None) | User.school_id.in_(schools)) & ~outside)


def can_see_school(session: Session, p: Principal, school_id: uuid.UUID) -> bool:
    """Whether a school is in the principal's scope."""
    return session.scalar(select(exists().where(School.id == school_id, school_filter(p)))) or False


def can_manage_jurisdiction(p: Principal, j: Jurisdiction) -> bool:
    """Whether an office/admin may create or change things under this node."""
    if p.role == Role.admin:
        return True
    return p.role == Role.office and bool(p.jurisdiction_path) and j.path.startswith(p.jurisdiction_path)
