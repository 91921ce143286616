"""Login, the current user, token revocation and device registration."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from inspections.accounts import service as accounts
from inspections.accounts.models import Device
from inspections.audit import service as audit
from schemas.auth import DeviceIn, DeviceOut, LoginIn, MeOut, TokenOut
from server.api.common import Blueprint
from server.auth import BEARER, EVERYONE, current_principal, current_user, require
from server.extensions import session

PREFIX = "/auth"
blp = Blueprint("auth", __name__, description="Log in, tokens and devices.")


def me_dict(user, principal) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
            "jurisdiction_id": user.jurisdiction_id, "school_id": user.school_id,
            "assigned_school_ids": sorted(principal.assigned_school_ids, key=str)}


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(LoginIn)
    @blp.response(201, TokenOut)
    @blp.alt_response(401, description="Wrong username or password")
    @blp.alt_response(429, description="Too many attempts")
    def post(self, body):
        """Log in with username and password; returns a bearer token (shown once)."""
        # Rate limited per address and per username together with the web sign-in (server/ratelimit.py).
        from inspections.accounts.scope import principal_for
        db = session()
        user = accounts.get_by_username(db, body["username"])
        if not accounts.check_password(user, body["password"]) or not user.active:
            abort(401, message="Wrong username or password.")
        device = None
        if body.get("device"):
            try:
                device = accounts.register_device(db, user=user, device_id=body["device"]["id"],
                                                  name=body["device"]["name"], platform=body["device"]["platform"])
            except accounts.AccountError as err:
                abort(422, errors={f"device.{k}": v for k, v in err.fields.items()})
        secret, token = accounts.issue_token(db, user=user, device=device)
        audit.record(db, actor_id=user.id, action="login", entity="user", entity_id=user.id,
                     data={"device_id": str(device.id) if device else None, "ip": request.remote_addr})
        db.commit()
        return {"access_token": secret, "token_type": "Bearer", "expires_at": token.expires_at,
                "device_id": token.device_id, "user": me_dict(user, principal_for(db, user))}

    @blp.response(204)
    @blp.doc(security=[BEARER])
    def delete(self):
        """Revoke the token this request was made with (log out)."""
        from flask import g
        current_user()
        db = session()
        accounts.revoke_token(db, g.token)
        db.commit()


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self):
        """The logged-in user and their scope."""
        return me_dict(current_user(), current_principal())


@blp.route("/devices")
class Devices(MethodView):
    @blp.response(200, DeviceOut(many=True))
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self):
        """My registered devices."""
        return list(session().scalars(select(Device).where(Device.user_id == current_user().id)
                                      .order_by(Device.registered_at)))

    @blp.arguments(DeviceIn)
    @blp.response(201, DeviceOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def post(self, body):
        """Register a device for the logged-in user (idempotent for the same id)."""
        db = session()
        try:
            device = accounts.register_device(db, user=current_user(), device_id=body["id"], name=body["name"],
                                              platform=body["platform"])
        except accounts.AccountError as err:
            abort(422, errors=err.fields)
        db.commit()
        return device


@blp.route("/devices/<uuid:device_id>")
class DeviceById(MethodView):
    @blp.response(204)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def delete(self, device_id):
        """Revoke a lost device: its tokens stop working at once. Signing in on it again with the password
        registers it again, as any new device."""
        db = session()
        if accounts.revoke_device(db, user=current_user(), device_id=device_id) is None:
            abort(404, message=f"No device {device_id} here.")
        db.commit()
