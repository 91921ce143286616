"""Logging in, tokens, revocation, devices and the login rate limit."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from inspections.accounts.enums import Role
from inspections.accounts.models import ApiToken, Device
from inspections.audit.models import AuditRecord
from inspections.db import utcnow
from tests.factories import make_jurisdiction, make_user


def _login(client, username, password, **extra):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password, **extra})


def test_login_returns_a_working_token_and_stores_only_its_hash(client, session):
    county = make_jurisdiction(session)
    user = make_user(session, Role.inspector, jurisdiction=county, password="correct-horse")
    session.commit()
    r = _login(client, user.username, "correct-horse")
    assert r.status_code == 201
    token = r.json["access_token"]
    assert r.json["user"]["role"] == "inspector"
    stored = session.scalars(select(ApiToken.token_hash).where(ApiToken.user_id == user.id)).all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["username"] == user.username
    assert user.password_hash.startswith("$argon2id$")


def test_wrong_password_and_unknown_user_get_the_same_401(client, session):
    user = make_user(session, Role.office, jurisdiction=make_jurisdiction(session))
    session.commit()
    a = _login(client, user.username, "nope-nope")
    b = _login(client, "nobody-here", "nope-nope")
    assert a.status_code == b.status_code == 401
    assert a.json["detail"] == b.json["detail"]
    assert a.content_type == "application/problem+json"


def test_inactive_user_cannot_log_in(client, session):
    user = make_user(session, Role.office, jurisdiction=make_jurisdiction(session), password="password-1")
    user.active = False
    session.commit()
    assert _login(client, user.username, "password-1").status_code == 401


def test_logout_revokes_the_token(client, session):
    user = make_user(session, Role.office, jurisdiction=make_jurisdiction(session), password="password-1")
    session.commit()
    token = _login(client, user.username, "password-1").json["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    assert client.delete("/api/v1/auth/token", headers=h).status_code == 204
    assert client.get("/api/v1/auth/me", headers=h).status_code == 401


def test_expired_and_garbage_tokens_are_refused(client, session):
    user = make_user(session, Role.office, jurisdiction=make_jurisdiction(session), password="password-1")
    session.commit()
    token = _login(client, user.username, "password-1").json["access_token"]
    rec = session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    rec.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    r = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer ist_garbage"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_login_with_device_registers_it_and_revoking_the_device_kills_its_tokens(client, session):
    user = make_user(session, Role.inspector, jurisdiction=make_jurisdiction(session), password="password-1")
    session.commit()
    device_id = str(uuid.uuid4())
    r = _login(client, user.username, "password-1", device={"id": device_id, "name": "Pixel 7", "platform": "android"})
    assert r.status_code == 201 and r.json["device_id"] == device_id
    h = {"Authorization": f"Bearer {r.json['access_token']}"}
    assert [d["id"] for d in client.get("/api/v1/auth/devices", headers=h).json] == [device_id]
    # A second token without the device stays valid after the device is revoked.
    other = {"Authorization": f"Bearer {_login(client, user.username, 'password-1').json['access_token']}"}
    assert client.delete(f"/api/v1/auth/devices/{device_id}", headers=other).status_code == 204
    assert client.get("/api/v1/auth/me", headers=h).status_code == 401
    assert client.get("/api/v1/auth/me", headers=other).status_code == 200
    assert session.get(Device, uuid.UUID(device_id)).revoked_at is not None
    assert session.scalar(select(AuditRecord).where(AuditRecord.action == "revoke",
                                                    AuditRecord.entity_id == device_id)) is not None
    # Another user cannot tell the device exists; signing in on it again with the password registers it again.
    stranger = make_user(session, Role.inspector, jurisdiction=user.jurisdiction, password="password-1")
    session.commit()
    s = {"Authorization": f"Bearer {_login(client, stranger.username, 'password-1').json['access_token']}"}
    assert client.delete(f"/api/v1/auth/devices/{device_id}", headers=s).status_code == 404
    assert client.delete(f"/api/v1/auth/devices/{uuid.uuid4()}", headers=s).status_code == 404
    r = _login(client, user.username, "password-1", device={"id": device_id, "name": "Pixel 7"})
    assert r.status_code == 201
    session.expire_all()
    assert session.get(Device, uuid.UUID(device_id)).revoked_at is None


def test_a_device_id_of_another_user_is_refused(client, session):
    county = make_jurisdiction(session)
    a = make_user(session, Role.inspector, jurisdiction=county, password="password-1")
    b = make_user(session, Role.inspector, jurisdiction=county, password="password-1")
    session.commit()
    device = {"id": str(uuid.uuid4()), "name": "phone"}
    assert _login(client, a.username, "password-1", device=device).status_code == 201
    r = _login(client, b.username, "password-1", device=device)
    assert r.status_code == 422 and "device.device_id" in r.json["errors"]
    assert session.scalar(select(ApiToken).where(ApiToken.user_id == b.id)) is None


def test_login_attempts_are_rate_limited(app, client, session):
    user = make_user(session, Role.office, jurisdiction=make_jurisdiction(session), password="password-1")
    session.commit()
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    codes = [_login(client, user.username, "wrong-guess").status_code for _ in range(limit)]
    assert set(codes) == {401}
    r = _login(client, user.username, "password-1")
    assert r.status_code == 429
    assert r.content_type == "application/problem+json" and "Retry-After" in r.headers


def test_password_change_revokes_existing_tokens(client, session):
    county = make_jurisdiction(session)
    office = make_user(session, Role.office, jurisdiction=county, password="password-1")
    insp = make_user(session, Role.inspector, jurisdiction=county, password="password-1")
    session.commit()
    ho = {"Authorization": f"Bearer {_login(client, office.username, 'password-1').json['access_token']}"}
    hi = {"Authorization": f"Bearer {_login(client, insp.username, 'password-1').json['access_token']}"}
    r = client.patch(f"/api/v1/users/{insp.id}", json={"password": "new-password-2"}, headers=ho)
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me", headers=hi).status_code == 401
    assert _login(client, insp.username, "new-password-2").status_code == 201
