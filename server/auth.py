"""Bearer-token authentication and role checks shared by the API and the pages."""
from __future__ import annotations

import functools

from flask import g, request
from flask_smorest import abort

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import Principal, principal_for
from server.extensions import session

BEARER = {"bearerAuth": []}


UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _authenticate_web_session() -> bool:
    """A page's own script calling the API with the signed-in session's cookie (no bearer token).

    Unsafe methods must carry the session's CSRF token in X-CSRF-Token: another site can make the
    browser send the cookie, but cannot read the token to put in a header.
    """
    import hmac

    from flask import session as web_session

    from server.web import signed_in_user
    if not web_session.get("uid"):
        return False
    if request.method in UNSAFE:
        sent, expected = request.headers.get("X-CSRF-Token", ""), web_session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent, expected):
            abort(403, message="A signed-in page must send its CSRF token in the X-CSRF-Token header.")
    db = session()
    user = signed_in_user()  # None once the session ended (logout, password change, deactivation)
    if user is None:
        return False
    g.token = None
    g.user = user
    g.principal = principal_for(db, user)
    return True


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    if not header and _authenticate_web_session():
        return
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(401, message="Send a bearer token: Authorization: Bearer <token> (from POST /api/v1/auth/token).")
    db = session()
    token = accounts.authenticate_token(db, secret.strip())
    if token is None:
        abort(401, message="The token is unknown, expired or revoked; log in again.")
    db.commit()  # persists last_used_at when it moved
    g.token = token
    g.user = token.user
    g.principal = principal_for(db, token.user)


def current_user() -> User:
    """The authenticated user (401 when the request carries no valid token)."""
    if "user" not in g:
        _authenticate()
    return g.user


def current_principal() -> Principal:
    """The authenticated user's scope."""
    if "principal" not in g:
        _authenticate()
    return g.principal


def require(*roles: Role):
    """Allow a view only to these roles: 401 without credentials, 403 for another role."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            p = current_principal()
            if roles and p.role not in roles:
                abort(403, message=f"This needs one of the roles: {', '.join(r.value for r in roles)}.")
            return fn(*args, **kwargs)

        return wrapper

    return deco


STAFF = (Role.admin, Role.office, Role.inspector)
MANAGERS = (Role.admin, Role.office)
EVERYONE = tuple(Role)


# API paths anyone may call: logging in and reading the API description.
PUBLIC = {("POST", "/api/v1/auth/token")}
PUBLIC_PREFIXES = ("/api/v1/openapi.json", "/api/v1/docs")


def authenticate_api_request():
    """before_request: every /api/v1 call but the public ones needs a valid token, checked first."""
    path = request.path
    if not path.startswith("/api/v1/") or path.startswith(PUBLIC_PREFIXES) or (request.method, path) in PUBLIC:
        return None
    if request.method == "OPTIONS":
        return None
    current_principal()
    return None
