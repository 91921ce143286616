"""User accounts, managed by offices (within their subtree) and admins."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import can_see_school, jurisdiction_filter, manageable_user_filter, user_filter
from inspections.audit import service as audit
from inspections.org.models import Jurisdiction
from inspections.pagination import paginate
from schemas.common import PageArgs, page_of
from schemas.users import UserIn, UserOut, UserPatch, UserQuery
from server.api.common import get_in_scope, page_response
from server.auth import BEARER, MANAGERS, current_principal, require
from server.extensions import session

PREFIX = "/users"
blp = Blueprint("users", __name__, description="User accounts (offices and admins).")
UserPage = page_of(UserOut, "UserPage")


def dump(user: User, assigned: dict | None = None) -> dict:
    """A user as the API returns it; `assigned` is a preloaded {user id: school ids} for a page."""
    if assigned is None:
        assigned = accounts.assigned_school_ids_by_user(session(), [user.id])
    out = {c: getattr(user, c) for c in ("id", "username", "display_name", "role", "jurisdiction_id", "school_id",
                                         "active", "created_at")}
    out["assigned_school_ids"] = assigned.get(user.id, []) if user.role == Role.inspector else []
    return out


def _check_binding(body: dict) -> None:
    """An office may only bind accounts inside its subtree, and never create admins."""
    db, p = session(), current_principal()
    errors = {}
    if p.role != Role.admin:
        if body.get("role") == Role.admin:
            abort(403, message="Only an admin creates admin accounts.")
        jid = body.get("jurisdiction_id")
        if jid and db.scalar(select(Jurisdiction.id).where(Jurisdiction.id == jid, jurisdiction_filter(p))) is None:
            errors["jurisdiction_id"] = ["is not a jurisdiction in your scope"]
        if body.get("school_id") and not can_see_school(db, p, body["school_id"]):
            errors["school_id"] = ["is not a school in your scope"]
    bad = [str(s) for s in body.get("assigned_school_ids") or [] if not can_see_school(db, p, s)]
    if bad:
        errors["assigned_school_ids"] = [f"not schools in your scope: {', '.join(bad)}"]
    if body.get("assigned_school_ids") and body.get("role", Role.inspector) != Role.inspector:
        errors["assigned_school_ids"] = ["only inspectors have assigned schools"]
    if errors:
        abort(422, errors=errors)


@blp.route("")
class Users(MethodView):
    @blp.arguments(UserQuery, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, UserPage)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def get(self, query, limit, cursor):
        """List accounts in my subtree, ordered by username."""
        stmt = select(User).where(user_filter(current_principal()))
        if query["role"]:
            stmt = stmt.where(User.role == query["role"])
        page = paginate(session(), stmt, [User.username], cursor=cursor, limit=limit)
        assigned = accounts.assigned_school_ids_by_user(session(), [u.id for u in page.items])
        return page_response(page, lambda u: dump(u, assigned))

    @blp.arguments(UserIn)
    @blp.response(201, UserOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def post(self, body):
        """Create an account bound to a jurisdiction (staff) or a school (school users)."""
        _check_binding(body)
        db = session()
        try:
            user = accounts.create_user(db, username=body["username"], password=body["password"], role=body["role"],
                                        display_name=body["display_name"], jurisdiction_id=body["jurisdiction_id"],
                                        school_id=body["school_id"], assigned_school_ids=body["assigned_school_ids"])
        except accounts.AccountError as err:
            abort(422, errors=err.fields)
        audit.record(db, actor_id=current_principal().user_id, action="create", entity="user", entity_id=user.id,
                     data={"username": user.username, "role": user.role.value})
        db.commit()
        return dump(user)


@blp.route("/<uuid:user_id>")
class UserById(MethodView):
    @blp.response(200, UserOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def get(self, user_id):
        """One account."""
        return dump(get_in_scope(User, user_id, user_filter(current_principal())))

    @blp.arguments(UserPatch)
    @blp.response(200, UserOut)
    @blp.doc(security=[BEARER])
    @require(*MANAGERS)
    def patch(self, body, user_id):
        """Change an account: name, password or active flag (either ends its sessions and tokens), assignments.

        An office changes only accounts whose whole scope (jurisdiction, school, assigned schools) lies
        inside its own jurisdiction; one that also works elsewhere is changed by an office above both, or an admin.
        """
        db, p = session(), current_principal()
        user = get_in_scope(User, user_id, user_filter(p))
        if user.role == Role.admin and p.role != Role.admin:
            abort(403, message="Only an admin changes admin accounts.")
        if db.scalar(select(User.id).where(User.id == user.id, manageable_user_filter(p))) is None:
            abort(403, message="This account also works outside your jurisdiction; an office over all of its "
                               "scope, or an admin, changes it.")
        if "assigned_school_ids" in body:
            _check_binding({"role": user.role, "assigned_school_ids": body["assigned_school_ids"]})
            accounts.set_assignments(db, user=user, school_ids=body["assigned_school_ids"])
        if "display_name" in body:
            user.display_name = body["display_name"]
        if "password" in body:
            accounts.set_password(db, user, body["password"])
        if "active" in body:
            accounts.set_active(db, user, body["active"])
        audit.record(db, actor_id=p.user_id, action="update", entity="user", entity_id=user.id,
                     data={k: ("***" if k == "password" else str(v)) for k, v in body.items()})
        db.commit()
        return dump(user)
