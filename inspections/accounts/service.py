"""Users, password checks, bearer tokens and devices."""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from inspections.accounts.enums import Role
from inspections.accounts.models import ApiToken, Device, InspectorAssignment, User
from inspections.audit import service as audit
from inspections.db import utcnow
from inspections.errors import Forbidden, ValidationFailed
from inspections.org.models import Jurisdiction, School

# Argon2id at OWASP's recommended minimum (19 MiB, 2 passes); configure_hasher can raise it.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the username is unknown, so a miss costs the same time as a hit.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def configure_hasher(*, time_cost: int, memory_kib: int) -> None:
    """Set the cost of new password hashes (existing hashes keep verifying with their own)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
    _DUMMY_HASH = _hasher.hash("not-a-real-password")

TOKEN_PREFIX = "ist_"
TOKEN_TTL = timedelta(days=30)


class AccountError(ValidationFailed, ValueError):
    """A change to accounts that breaks a rule; `fields` maps field -> messages."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()), fields)


# The password rule every way in applies (new accounts, resets); schemas/users.py states the same bounds.
PASSWORD_MIN, PASSWORD_MAX = 8, 200
MANAGERS = (Role.office, Role.admin)


def _visible(text: str) -> str:
    return "".join(c for c in text if not unicodedata.category(c).startswith(("Z", "Cc", "Cf")) and not c.isspace())


def _folded(text: str) -> str:
    return _visible(unicodedata.normalize("NFKC", text)).casefold()


def password_errors(password: str, username: str | None = None) -> list[str]:
    """What is wrong with a new password (empty when it may be used): its length, only blanks, or the
    account's own username (in any case, in full-width letters too). Blanks are spaces and the invisible
    format characters (Unicode categories Z*, Cc and Cf: U+200B zero-width space, U+FEFF...)."""
    if not _visible(password):
        return ["must not be only spaces"]
    if len(password) < PASSWORD_MIN:
        return [f"must be at least {PASSWORD_MIN} characters"]
    if len(password) > PASSWORD_MAX:
        return [f"must be at most {PASSWORD_MAX} characters"]
    if username and _folded(password) == _folded(username):
        return ["must not be the username"]
    return []


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """Whether the password matches; constant work whether or not the user exists."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def hash_token(secret: str) -> str:
    """Stored form of a bearer token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def get_by_username(session: Session, username: str) -> User | None:
    """The user with that username, if any."""
    return session.scalar(select(User).where(User.username == username))


def username_taken(session: Session, username: str) -> bool:
    """Whether an account already has that username in any case (`OFFICE` beside `office` is refused)."""
    return session.scalar(select(User.id).where(func.lower(User.username) == username.lower()).limit(1)) is not None


def create_user(session: Session, *, username: str, password: str, role: Role, display_name: str | None = None,
                jurisdiction_id: uuid.UUID | None = None, school_id: uuid.UUID | None = None,
                assigned_school_ids: list[uuid.UUID] | None = None, actor=None) -> User:
    """Create a user bound to a jurisdiction (staff) or a school (school users). With `actor` (a Principal:
    an API or page request) the binding must lie in its scope (check_binding) and the change is audited."""
    if actor is not None:
        check_binding(session, actor, role=role, jurisdiction_id=jurisdiction_id, school_id=school_id,
                      assigned_school_ids=assigned_school_ids or [])
    errors: dict[str, list[str]] = {}
    if username_taken(session, username):
        errors["username"] = ["is already taken"]
    if bad_password := password_errors(password, username):
        errors["password"] = bad_password
    if role == Role.school:
        if school_id is None:
            errors["school_id"] = ["is required for a school user"]
        if jurisdiction_id is not None:
            errors["jurisdiction_id"] = ["must be empty for a school user"]
    else:
        if school_id is not None:
            errors["school_id"] = ["only school users are bound to a school"]
        if role == Role.office and jurisdiction_id is None:
            errors["jurisdiction_id"] = ["is required for an office user"]
        if role == Role.inspector and jurisdiction_id is None and not assigned_school_ids:
            errors["jurisdiction_id"] = ["an inspector needs a jurisdiction or assigned schools"]
    if jurisdiction_id is not None and session.get(Jurisdiction, jurisdiction_id) is None:
        errors["jurisdiction_id"] = ["does not exist"]
    if school_id is not None and session.get(School, school_id) is None:
        errors["school_id"] = ["does not exist"]
    if errors:
        raise AccountError(errors)
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password),
                role=role, jurisdiction_id=jurisdiction_id, school_id=school_id)
    session.add(user)
    session.flush()
    for sid in dict.fromkeys(assigned_school_ids or []):
        session.add(InspectorAssignment(inspector_id=user.id, school_id=sid))
    session.flush()
    if actor is not None:
        audit.record(session, actor_id=actor.user_id, action="create", entity="user", entity_id=user.id,
                     data={"username": user.username, "role": user.role.value})
    return user


def creatable_roles(actor) -> list[Role]:
    """The roles `actor` (a Principal) may give a new account: an admin any, an office none above its own."""
    if actor.role == Role.admin:
        return [Role.office, Role.inspector, Role.school, Role.admin]
    if actor.role == Role.office:
        return [Role.office, Role.inspector, Role.school]
    return []


def check_binding(session: Session, actor, *, role: Role, jurisdiction_id: uuid.UUID | None = None,
                  school_id: uuid.UUID | None = None, assigned_school_ids: list[uuid.UUID] = ()) -> None:
    """Whether `actor` (a Principal) may bind an account of `role` there: only offices and admins manage
    accounts, only an admin makes admins (Forbidden); an office binds only inside its subtree, and an id
    outside its scope is a field error whether or not it exists (AccountError)."""
    from inspections.accounts.scope import can_see_school, jurisdiction_filter
    if actor.role not in MANAGERS:
        raise Forbidden("Only offices and admins manage accounts.")
    errors: dict[str, list[str]] = {}
    if role not in creatable_roles(actor):
        raise Forbidden("Only an admin creates admin accounts.")
    if actor.role != Role.admin:
        if jurisdiction_id and session.scalar(select(Jurisdiction.id).where(
                Jurisdiction.id == jurisdiction_id, jurisdiction_filter(actor))) is None:
            errors["jurisdiction_id"] = ["is not a jurisdiction in your scope"]
        if school_id and not can_see_school(session, actor, school_id):
            errors["school_id"] = ["is not a school in your scope"]
    bad = [str(s) for s in assigned_school_ids or [] if not can_see_school(session, actor, s)]
    if bad:
        errors["assigned_school_ids"] = [f"not schools in your scope: {', '.join(bad)}"]
    if assigned_school_ids and role != Role.inspector:
        errors["assigned_school_ids"] = ["only inspectors have assigned schools"]
    if errors:
        raise AccountError(errors)


def change_user(session: Session, user: User, *, actor, **changes) -> User:
    """Change an account as `actor` (a Principal): any of display_name (empty: the username), password,
    active (either of the last two ends its sessions and tokens) and assigned_school_ids; audited in the
    actor's name. The rules are check_change's.
    """
    changes = check_change(session, user, actor=actor, **changes)
    if "assigned_school_ids" in changes:
        set_assignments(session, user=user, school_ids=changes["assigned_school_ids"])
    if "display_name" in changes:
        user.display_name = changes["display_name"]
    if "password" in changes:
        set_password(session, user, changes["password"])
    if "active" in changes:
        set_active(session, user, changes["active"])
    session.flush()
    audit.record(session, actor_id=actor.user_id, action="update", entity="user", entity_id=user.id,
                 data={k: ("***" if k == "password" else str(v)) for k, v in changes.items()})
    return user


def check_change(session: Session, user: User, *, actor, **changes) -> dict:
    """Whether `actor` (a Principal) may make these changes to an account, writing nothing (a page asks
    before it confirms a step); the changes as change_user applies them. Forbidden or AccountError otherwise.

    An office changes only accounts whose whole scope (jurisdiction, school, assigned schools) lies inside
    its own jurisdiction; one that also works elsewhere is changed by an office above both, or an admin.
    Nobody deactivates their own account, and an inspector without an area keeps at least one school.
    The caller has found `user` among those the actor may see (user_filter), 404 otherwise.
    """
    from inspections.accounts.scope import manageable_user_filter
    if actor.role not in MANAGERS:
        raise Forbidden("Only offices and admins manage accounts.")
    if user.role == Role.admin and actor.role != Role.admin:
        raise Forbidden("Only an admin changes admin accounts.")
    if session.scalar(select(User.id).where(User.id == user.id, manageable_user_filter(actor))) is None:
        raise Forbidden("This account also works outside your jurisdiction; an office over all of its "
                        "scope, or an admin, changes it.")
    unknown = set(changes) - {"display_name", "password", "active", "assigned_school_ids"}
    if unknown:
        raise TypeError(f"change_user() got unexpected fields {sorted(unknown)}")
    changes = dict(changes)
    errors: dict[str, list[str]] = {}
    if "display_name" in changes:
        changes["display_name"] = (changes["display_name"] or "").strip() or user.username
    if "password" in changes and (bad_password := password_errors(changes["password"], user.username)):
        errors["password"] = bad_password
    if changes.get("active") is False and user.id == actor.user_id:
        errors["active"] = ["you cannot deactivate your own account"]
    if "assigned_school_ids" in changes:
        errors |= _assignment_errors(user, changes["assigned_school_ids"])
    if errors:
        raise AccountError(errors)
    if "assigned_school_ids" in changes:
        check_binding(session, actor, role=user.role, assigned_school_ids=changes["assigned_school_ids"])
    return changes


def _assignment_errors(user: User, school_ids) -> dict[str, list[str]]:
    if user.role == Role.inspector and user.jurisdiction_id is None and not school_ids:
        return {"assigned_school_ids": ["an inspector needs a jurisdiction or assigned schools"]}
    return {}


def set_assignments(session: Session, *, user: User, school_ids: list[uuid.UUID]) -> None:
    """Replace an inspector's standing school assignments; one without an area keeps at least one school
    (it would otherwise fall out of every office's scope)."""
    errors = _assignment_errors(user, school_ids)
    if errors:
        raise AccountError(errors)
    session.query(InspectorAssignment).filter_by(inspector_id=user.id).delete()
    for sid in dict.fromkeys(school_ids):
        session.add(InspectorAssignment(inspector_id=user.id, school_id=sid))
    session.flush()


def assigned_school_ids(session: Session, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Schools an inspector is assigned to."""
    return assigned_school_ids_by_user(session, [user_id]).get(user_id, [])


def assigned_school_ids_by_user(session: Session, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Assigned schools of several inspectors in one query (for a page of users)."""
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    rows = session.execute(select(InspectorAssignment.inspector_id, InspectorAssignment.school_id)
                           .where(InspectorAssignment.inspector_id.in_(user_ids)))
    for inspector_id, school_id in rows:
        out.setdefault(inspector_id, []).append(school_id)
    return out


def register_device(session: Session, *, user: User, device_id: uuid.UUID, name: str, platform: str | None) -> Device:
    """Register (or re-register) a device for a user; another user's device id is refused."""
    device = session.get(Device, device_id)
    if device is not None and device.user_id != user.id:
        raise AccountError({"device_id": ["is registered to another user"]})
    if device is None:
        device = Device(id=device_id, user_id=user.id, name=name, platform=platform)
        session.add(device)
    else:
        device.name, device.platform, device.revoked_at = name, platform, None
    device.last_seen_at = utcnow()
    session.flush()
    return device


def issue_token(session: Session, *, user: User, device: Device | None = None,
                now: datetime | None = None) -> tuple[str, ApiToken]:
    """Create a bearer token; returns the secret (shown once) and its stored record."""
    now = now or utcnow()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, device_id=device.id if device else None, token_hash=hash_token(secret),
                     created_at=now, expires_at=now + TOKEN_TTL)
    session.add(token)
    session.flush()
    return secret, token


def authenticate_token(session: Session, secret: str, *, now: datetime | None = None) -> ApiToken | None:
    """The live token for a presented secret, or None when unknown, expired or revoked."""
    now = now or utcnow()
    # One query for the token, its user and what the user's scope is anchored on (every request does this).
    user = joinedload(ApiToken.user)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret))
                           .options(user.joinedload(User.jurisdiction), user.joinedload(User.school)))
    if token is None or token.revoked_at is not None or token.expires_at <= now or not token.user.active:
        return None
    # Touch at most once a minute so reads do not turn into a write per request.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token


def revoke_token(session: Session, token: ApiToken) -> None:
    """Revoke one token."""
    token.revoked_at = token.revoked_at or utcnow()


def revoke_device(session: Session, *, user: User, device_id: uuid.UUID) -> Device | None:
    """Sign a device of this user out (a lost phone): every token issued for it stops working at once; audited.
    None when the user has no device with this id (another user's reads the same: no existence leak).
    Signing in on it again with the password registers it again (`register_device`), as any new device."""
    device = session.scalar(select(Device).where(Device.id == device_id, Device.user_id == user.id))
    if device is None:
        return None
    device.revoked_at = utcnow()
    session.execute(update(ApiToken).where(ApiToken.device_id == device.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=device.revoked_at))
    audit.record(session, actor_id=user.id, action="revoke", entity="device", entity_id=device.id)
    return device


def revoke_all_tokens(session: Session, user_id: uuid.UUID) -> int:
    """Revoke every live token of a user (password change, deactivation); returns how many."""
    res = session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                          .values(revoked_at=utcnow()))
    return res.rowcount or 0


def end_sessions(session: Session, user: User, *, tokens: bool = True) -> None:
    """End every signed-in web session of a user and, with `tokens`, revoke all its bearer tokens."""
    user.session_version = (user.session_version or 0) + 1
    if tokens:
        revoke_all_tokens(session, user.id)
    session.flush()


def set_password(session: Session, user: User, password: str) -> None:
    """Change a password; every session and token of the user ends (whoever knew the old one is out)."""
    if bad_password := password_errors(password, user.username):
        raise AccountError({"password": bad_password})
    user.password_hash = hash_password(password)
    end_sessions(session, user)


def set_active(session: Session, user: User, active: bool) -> None:
    """Activate or deactivate an account; deactivation ends every session and token."""
    user.active = active
    if not active:
        end_sessions(session, user)
