"""User accounts, managed by offices (within their subtree) and admins."""
from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import user_filter
from inspections.pagination import paginate
from schemas.common import PageArgs, page_of
from schemas.users import UserIn, UserOut, UserPatch, UserQuery
from server.api.common import Blueprint, get_in_scope, page_response
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
        db = session()
        user = accounts.create_user(db, username=body["username"], password=body["password"], role=body["role"],
                                    display_name=body["display_name"], jurisdiction_id=body["jurisdiction_id"],
                                    school_id=body["school_id"], assigned_school_ids=body["assigned_school_ids"],
                                    actor=current_principal())
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
        inside its own jurisdiction; one that also works elsewhere is changed by an office above both, or an admin
        (the rules: accounts.change_user).
        """
        db, p = session(), current_principal()
        user = get_in_scope(User, user_id, user_filter(p))
        accounts.change_user(db, user, actor=p, **body)
        db.commit()
        return dump(user)
