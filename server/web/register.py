"""The school register and the accounts, as pages: the schools in my scope (offices, admins, inspectors)
and one school with its latest visits; the accounts an office or admin manages and one account. The same
scope filters as the API's GET /schools and GET /users.

Offices and admins also register and change schools and accounts here. Each form is read through the
API's own schema (schemas/org.py, schemas/users.py) and handed to the same service function the API calls
(org.create_school / update_school, accounts.create_user / change_user), which holds the rules: who may,
in which scope, audit. A refused form is shown again (422) with its fields' messages; nothing is written.
"""
from __future__ import annotations

import re
import uuid

from flask import abort, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import jurisdiction_filter, manageable_user_filter, school_filter, user_filter, \
    visit_filter
from inspections.errors import DomainError
from inspections.org import service as org
from inspections.org.enums import JurisdictionLevel, Locale, SchoolKind, SchoolType
from inspections.org.models import Jurisdiction, School
from inspections.visits.models import Visit
from schemas.org import SchoolIn, SchoolPatch
from schemas.users import UserIn, UserPatch
from server.extensions import session
from server.web import _principal, bp, nav_link
from server.web.forms import Said, field_errors
from server.web.i18n import _, _l

SCHOOL_VIEWERS = (Role.office, Role.admin, Role.inspector)
USER_VIEWERS = (Role.office, Role.admin)
MANAGERS = (Role.office, Role.admin)
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
                           kinds=KIND, word=_word, managers=p.role in MANAGERS)


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
                           offices=p.role in MANAGERS)


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
    return _render_user(p, user)


def _render_user(p, user: User, *, error=None, fields=None, form=None, status=200):
    """One account's page, with the forms that change it when the signed-in office or admin may."""
    g.page_url = url_for("web.user_detail", user_id=user.id)  # a failed form links back to the GET address
    db = session()
    ids = accounts.assigned_school_ids_by_user(db, [user.id]).get(user.id, []) if user.role == Role.inspector else []
    assigned = db.scalars(select(School).where(School.id.in_(ids), school_filter(p)).order_by(School.code)).all() \
        if ids else []
    may_change = (user.role != Role.admin or p.role == Role.admin) and db.scalar(
        select(User.id).where(User.id == user.id, manageable_user_filter(p))) is not None
    may_deactivate = may_change and user.id != p.user_id  # the same rule as accounts.check_change
    schools = _schools_in_scope(p) if may_change and user.role == Role.inspector else []
    return render_template("user.html", user=user, assigned=assigned, roles=ROLE, word=_word, may_change=may_change,
                           may_deactivate=may_deactivate,
                           schools=schools, assigned_ids={str(i) for i in ids}, error=error,
                           fields=field_errors(fields), form=form or {}), status


# ---- forms: schools -------------------------------------------------------------------------------------------

SCHOOL_FIELDS = ("code", "name", "jurisdiction_id", "kind", "school_type", "locale", "enrolment_primary",
                 "enrolment_junior", "address", "latitude", "longitude")
REQUIRED = ("code", "name", "jurisdiction_id", "kind", "locale")
INTEGER = re.compile(r"[+-]?[0-9]+")  # a whole number; the schema says whether it is in range
ACTIVE = {"1": True, "0": False}  # the values the edit form's State list offers


def _domain_refusal(e: DomainError) -> dict:
    """A service's refusal as field messages; one that is not about the input ends the request (403/404/409)."""
    if e.status in (403, 404):
        abort(e.status)
    return e.fields or {"_": [e.message]}


def _schema_load(schema, data: dict, errors: dict) -> dict:
    """`data` through an API schema; its messages join `errors` by field."""
    try:
        return schema.load(data)
    except ValidationError as err:
        for k, v in err.messages.items():
            errors.setdefault(k, v)
        return {}


def _school_form(f, *, edit: bool) -> tuple[dict, dict]:
    """The school form as the API's SchoolIn (new) or SchoolPatch (edit) takes it, and the field errors."""
    data, errors = {}, {}
    for k in SCHOOL_FIELDS:
        v = (f.get(k) or "").strip()
        if k.startswith("enrolment_"):
            if v and not INTEGER.fullmatch(v):
                errors[k] = ["is not a whole number"]
                continue
            v = int(v or 0)
        elif not v:
            if k in REQUIRED:
                errors[k] = ["is required"]
                continue
            if k == "school_type":
                continue
            v = None
        data[k] = v
    if edit:
        if "active" in f:  # the form always sends it; without it the state stays as it is
            if f["active"] in ACTIVE:
                data["active"] = ACTIVE[f["active"]]
            else:
                errors["active"] = ["must be one of the listed options"]
    loaded = _schema_load(SchoolPatch() if edit else SchoolIn(), {k: v for k, v in data.items() if k not in errors},
                          errors)
    return loaded, errors


def _counties(p) -> list[Jurisdiction]:
    return session().scalars(select(Jurisdiction).where(jurisdiction_filter(p),
                                                        Jurisdiction.level == JurisdictionLevel.county)
                             .order_by(Jurisdiction.code).limit(1000)).all()


def _render_school_form(p, school: School | None, *, error=None, fields=None, form=None, status=200):
    g.page_url = url_for("web.school_edit", school_id=school.id) if school else url_for("web.school_new")
    return render_template("school_form.html", school=school, counties=_counties(p), kinds=KIND, types=SCHOOL_TYPE,
                           locales=LOCALE, kind_codes=list(SchoolKind), type_codes=list(SchoolType),
                           locale_codes=list(Locale), word=_word, error=error, fields=field_errors(fields),
                           form=form or {}), status


@bp.route("/schools/new", methods=["GET", "POST"])
def school_new():
    """Register a school in a county of my jurisdiction (the API's POST /schools)."""
    p = _principal(*MANAGERS)
    if request.method == "GET":
        return _render_school_form(p, None)
    db = session()
    body, errors = _school_form(request.form, edit=False)
    if not errors:
        try:
            county = org.county_for_write(db, p, body.pop("jurisdiction_id"))
            school = org.create_school(db, county=county, actor=p, **body)
            db.commit()
        except DomainError as e:
            db.rollback()
            errors = _domain_refusal(e)
        else:
            flash(_("The school %(name)s was registered.", name=school.name))
            return redirect(url_for("web.school_detail", school_id=school.id), code=303)
    return _render_school_form(p, None, error=_("The school was not saved."), fields=errors, form=request.form,
                               status=422)


def _school_or_404(p, school_id) -> School:
    school = session().scalar(select(School).where(School.id == _uuid(school_id), school_filter(p)))
    if school is None:
        abort(404)
    return school


@bp.route("/schools/<school_id>/edit", methods=["GET", "POST"])
def school_edit(school_id):
    """Change a school's register entry (the API's PATCH /schools/<id>): only the fields the form changed."""
    p = _principal(*MANAGERS)
    db, school = session(), _school_or_404(p, school_id)
    if request.method == "GET":
        return _render_school_form(p, school)
    body, errors = _school_form(request.form, edit=True)
    if not errors:
        try:
            county = None
            if body.get("jurisdiction_id") != school.jurisdiction_id:
                county = org.county_for_write(db, p, body["jurisdiction_id"])
            body.pop("jurisdiction_id", None)
            changed = {k: v for k, v in body.items() if getattr(school, k) != v}
            if changed or county is not None:
                org.update_school(db, school, county=county, actor=p, **changed)
                db.commit()
        except DomainError as e:
            db.rollback()
            errors = _domain_refusal(e)
            school = _school_or_404(p, school_id)
        else:
            flash(_("The school was saved.") if changed or county is not None else _("Nothing was changed."))
            return redirect(url_for("web.school_detail", school_id=school.id), code=303)
    return _render_school_form(p, school, error=_("The school was not saved."), fields=errors, form=request.form,
                               status=422)


# ---- forms: accounts ------------------------------------------------------------------------------------------

USER_LABELS = {"jurisdiction_id": _l("Area"), "school_id": _l("School (school accounts)")}


def _schools_in_scope(p) -> list[School]:
    return session().scalars(select(School).where(school_filter(p), School.active.is_(True))
                             .order_by(School.code).limit(1000)).all()


def _areas(p) -> list[Jurisdiction]:
    return session().scalars(select(Jurisdiction).where(jurisdiction_filter(p))
                             .order_by(Jurisdiction.path).limit(1000)).all()


def _password_pair(f, errors: dict) -> str:
    password = f.get("password", "")
    if password != f.get("password2", ""):
        errors["password2"] = [Said(_("The two passwords differ; type the same password twice."))]
    return password


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    """Create an account (the API's POST /users): a role I may give, bound to an area or a school in my scope."""
    p = _principal(*MANAGERS)
    db = session()
    roles = accounts.creatable_roles(p)
    if request.method == "POST":
        f, errors = request.form, {}
        role = f.get("role", "")
        data = {"username": (f.get("username") or "").strip(), "display_name": (f.get("display_name") or "").strip()
                or None, "password": _password_pair(f, errors), "role": role or None,
                "jurisdiction_id": (f.get("jurisdiction_id") or None) if role != Role.school.value else None,
                "school_id": (f.get("school_id") or None) if role == Role.school.value else None,
                "assigned_school_ids": [x for x in f.getlist("assigned_school_id") if x]
                if role == Role.inspector.value else []}
        if not role:
            errors["role"] = ["is required"]
        body = _schema_load(UserIn(), data, errors)
        if not errors:
            try:
                user = accounts.create_user(db, actor=p, **body)
                db.commit()
            except DomainError as e:
                db.rollback()
                errors = _domain_refusal(e)
            else:
                flash(_("The account %(name)s was created.", name=user.username))
                return redirect(url_for("web.user_detail", user_id=user.id), code=303)
        g.page_url = url_for("web.user_new")
        return render_template("user_new.html", roles=roles, role_words=ROLE, areas=_areas(p),
                               schools=_schools_in_scope(p), error=_("The account was not created."),
                               fields=field_errors(errors, USER_LABELS), form=f), 422
    return render_template("user_new.html", roles=roles, role_words=ROLE, areas=_areas(p), schools=_schools_in_scope(p),
                           error=None, fields=[], form={})


def _user_or_404(p, user_id) -> User:
    user = session().scalar(select(User).where(User.id == _uuid(user_id), user_filter(p)))
    if user is None:
        abort(404)
    return user


def _change_user(p, user_id, fields: dict, done: str, *, form_errors: dict | None = None):
    """One change to an account through accounts.change_user; the page again with messages when refused."""
    db, user = session(), _user_or_404(p, user_id)
    errors = dict(form_errors or {})
    body = _schema_load(UserPatch(), fields, errors) if not errors else {}
    if not errors:
        try:
            accounts.change_user(db, user, actor=p, **body)
            db.commit()
        except DomainError as e:
            db.rollback()
            errors = _domain_refusal(e)
            user = _user_or_404(p, user_id)
        else:
            flash(done)
            return redirect(url_for("web.user_detail", user_id=user.id), code=303)
    return _render_user(p, user, error=_("The account was not changed."), fields=errors, form=request.form,
                        status=422)


@bp.post("/users/<user_id>/name")
def user_rename(user_id):
    """Change an account's display name."""
    p = _principal(*MANAGERS)
    name = (request.form.get("display_name") or "").strip()
    user = _user_or_404(p, user_id)
    if (name or user.username) == user.display_name:  # the same name (empty: the username, as on creation)
        try:  # still only for an account the office may change
            accounts.check_change(session(), user, actor=p, display_name=name)
        except DomainError as e:
            return _render_user(p, user, error=_("The account was not changed."), fields=_domain_refusal(e),
                                status=422)
        flash(_("Nothing was changed."))
        return redirect(url_for("web.user_detail", user_id=user.id), code=303)
    return _change_user(p, user_id, {"display_name": name}, _("The display name was changed."))


@bp.post("/users/<user_id>/assignments")
def user_assignments(user_id):
    """Replace the schools an inspector is assigned to."""
    p = _principal(*MANAGERS)
    ids = [x for x in request.form.getlist("school_id") if x]
    return _change_user(p, user_id, {"assigned_school_ids": ids}, _("The assigned schools were saved."))


@bp.post("/users/<user_id>/password")
def user_password(user_id):
    """Set a new password; every session and token of the account ends."""
    p = _principal(*MANAGERS)
    errors: dict = {}
    password = _password_pair(request.form, errors)
    return _change_user(p, user_id, {"password": password},
                        _("The password was reset; the account was signed out everywhere."), form_errors=errors)


@bp.route("/users/<user_id>/deactivate", methods=["GET", "POST"])
def user_deactivate(user_id):
    """Deactivate an account, after a confirmation page: it can no longer sign in; its sessions and tokens end."""
    p = _principal(*MANAGERS)
    if request.method == "GET":
        user = _user_or_404(p, user_id)
        try:  # the page asks only for a step the POST would take (accounts.check_change's rules)
            accounts.check_change(session(), user, actor=p, active=False)
        except DomainError as e:
            return _render_user(p, user, error=_("The account was not changed."), fields=_domain_refusal(e),
                                status=422)
        return render_template("user_deactivate.html", user=user, roles=ROLE, word=_word)
    return _change_user(p, user_id, {"active": False}, _("The account was deactivated and signed out everywhere."))


@bp.post("/users/<user_id>/activate")
def user_activate(user_id):
    """Make a deactivated account usable again (it signs in anew)."""
    p = _principal(*MANAGERS)
    return _change_user(p, user_id, {"active": True}, _("The account was reactivated."))
