"""The school register and the accounts, as pages: the schools in my scope (offices, admins, inspectors)
and one school with its latest visits; the accounts an office or admin manages and one account. Read only:
the same scope filters as the API's GET /schools and GET /users."""
from __future__ import annotations

import uuid

from flask import abort, render_template, request
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import school_filter, user_filter, visit_filter
from inspections.org.models import School
from inspections.visits.models import Visit
from server.extensions import session
from server.web import _principal, bp, nav_link
from server.web.i18n import _l

SCHOOL_VIEWERS = (Role.office, Role.admin, Role.inspector)
USER_VIEWERS = (Role.office, Role.admin)
nav_link("web.school_list", _l("Schools"), *SCHOOL_VIEWERS)
nav_link("web.user_list", _l("Accounts"), *USER_VIEWERS)
LIST_LIMIT = 200

KIND = {"primary": _l("Primary school"), "junior": _l("Junior secondary school"),
        "nine_year": _l("Nine-year school"), "twelve_year": _l("Twelve-year school")}
SCHOOL_TYPE = {"ordinary": _l("Ordinary"), "teaching_point": _l("Teaching point"),
               "special_education": _l("Special education")}
LOCALE = {"urban": _l("Urban"), "town": _l("Town"), "rural": _l("Rural")}
ROLE = {"admin": _l("Administrator"), "office": _l("Supervision office"), "inspector": _l("Inspector"),
        "school": _l("School")}
VISIT_STATUS = {"planned": _l("Planned"), "in_progress": _l("In progress"), "submitted": _l("Submitted"),
                "cancelled": _l("Cancelled")}


def _word(table: dict, code) -> str:
    value = getattr(code, "value", code)
    return str(table[value]) if value in table else ""


def _uuid(raw) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        abort(404)


@bp.get("/schools")
def school_list():
    """The schools in my scope by code, optionally those whose code or name contains `q`."""
    p = _principal(*SCHOOL_VIEWERS)
    q = (request.args.get("q") or "").strip()[:100]
    stmt = select(School).where(school_filter(p)).options(selectinload(School.jurisdiction))
    if q:
        stmt = stmt.where(or_(School.name.contains(q, autoescape=True), School.code.contains(q, autoescape=True)))
    rows = session().scalars(stmt.order_by(School.code).limit(LIST_LIMIT + 1)).all()
    return render_template("schools.html", schools=rows[:LIST_LIMIT], more=len(rows) > LIST_LIMIT, q=q,
                           kinds=KIND, word=_word)


@bp.get("/schools/<school_id>")
def school_detail(school_id):
    """One school in my scope (404 otherwise, as if it did not exist) with its latest visits."""
    p = _principal(*SCHOOL_VIEWERS)
    db = session()
    school = db.scalar(select(School).where(School.id == _uuid(school_id), school_filter(p)))
    if school is None:
        abort(404)
    visits = db.scalars(select(Visit).where(Visit.school_id == school.id, visit_filter(p))
                        .order_by(Visit.submitted_at.desc().nulls_last(), Visit.planned_for.desc().nulls_last())
                        .limit(10)).all()
    return render_template("school.html", school=school, visits=visits, kinds=KIND, types=SCHOOL_TYPE,
                           locales=LOCALE, visit_status=VISIT_STATUS, word=_word,
                           offices=p.role in (Role.office, Role.admin))


@bp.get("/users")
def user_list():
    """The accounts I manage by username, optionally one role."""
    p = _principal(*USER_VIEWERS)
    role = request.args.get("role") or None
    if role is not None and role not in ROLE:
        abort(400)
    stmt = select(User).where(user_filter(p)).options(selectinload(User.jurisdiction), selectinload(User.school))
    if role:
        stmt = stmt.where(User.role == Role(role))
    rows = session().scalars(stmt.order_by(User.username).limit(LIST_LIMIT + 1)).all()
    return render_template("users.html", users=rows[:LIST_LIMIT], more=len(rows) > LIST_LIMIT, role=role,
                           roles=ROLE, word=_word)


@bp.get("/users/<user_id>")
def user_detail(user_id):
    """One account I manage (404 otherwise): role, where it works, the schools an inspector is assigned."""
    p = _principal(*USER_VIEWERS)
    db = session()
    user = db.scalar(select(User).where(User.id == _uuid(user_id), user_filter(p)))
    if user is None:
        abort(404)
    ids = accounts.assigned_school_ids_by_user(db, [user.id]).get(user.id, []) if user.role == Role.inspector else []
    assigned = db.scalars(select(School).where(School.id.in_(ids), school_filter(p)).order_by(School.code)).all() \
        if ids else []
    return render_template("user.html", user=user, assigned=assigned, roles=ROLE, word=_word)
