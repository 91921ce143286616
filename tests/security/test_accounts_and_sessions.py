"""Review findings 1-3: accounts an office may change, sessions that end, one sign-in budget for every path."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import InspectorAssignment, User
from tests.factories import make_school, make_user, make_world, token_for
from tests.web.helpers import csrf, login, sign_in


@pytest.fixture
def world(session):
    w = make_world(session)
    # Finding 1: an inspector bound to county B1, which an admin also assigned one school of county A1.
    w.other_b1 = make_school(session, w.county_b1)
    w.insp_b1 = make_user(session, Role.inspector, jurisdiction=w.county_b1, assigned=[w.school_a1, w.other_b1])
    session.commit()
    return w


def _assigned(session, user) -> set:
    session.expire_all()
    return set(session.scalars(select(InspectorAssignment.school_id)
                               .where(InspectorAssignment.inspector_id == user.id)))


@pytest.mark.parametrize("change", [{"password": "taken-over-1"}, {"active": False}, {"display_name": "x"},
                                    {"assigned_school_ids": []}])
def test_office_cannot_change_an_account_that_also_works_in_another_county(client, session, world, change):
    h = token_for(session, world.office_a1)
    before = world.insp_b1.password_hash
    r = client.patch(f"/api/v1/users/{world.insp_b1.id}", json=change, headers=h)
    assert r.status_code == 403 and r.content_type == "application/problem+json"
    session.expire_all()
    fresh = session.get(User, world.insp_b1.id)
    assert fresh.password_hash == before and fresh.active and fresh.display_name != "x"
    assert _assigned(session, world.insp_b1) == {world.school_a1.id, world.other_b1.id}
    # The taken-over login of the review: the old password still works, the new one does not.
    assert client.post("/api/v1/auth/token", json={"username": fresh.username, "password": "taken-over-1"}
                       ).status_code == 401


def test_office_still_sees_the_inspector_working_in_its_county(client, session, world):
    h = token_for(session, world.office_a1)
    assert client.get(f"/api/v1/users/{world.insp_b1.id}", headers=h).status_code == 200


@pytest.mark.parametrize("manager,target,expected", [
    ("admin", "insp_b1", 200),            # an admin manages everyone
    ("office_a1", "inspector_a1", 200),   # bound inside A1
    ("office_a", "inspector_assigned", 200),  # assigned only to a school of city A
    ("office_a1", "inspector_assigned", 404),  # not visible to county A1 at all
    ("office_a", "insp_b1", 403),         # city A still does not hold county B1
])
def test_who_changes_which_account(client, session, world, manager, target, expected):
    r = client.patch(f"/api/v1/users/{getattr(world, target).id}", json={"display_name": "renamed"},
                     headers=token_for(session, getattr(world, manager)))
    assert r.status_code == expected, r.json


def test_listing_and_assignment_create_stay_within_scope(client, session, world):
    h = token_for(session, world.office_a1)
    body = {"username": "new-a1", "password": "password-123", "role": "inspector",
            "jurisdiction_id": str(world.county_a1.id), "assigned_school_ids": [str(world.other_b1.id)]}
    r = client.post("/api/v1/users", json=body, headers=h)
    assert r.status_code == 422 and "assigned_school_ids" in r.json["errors"]


# Finding 3: sessions and tokens end on logout, password change and deactivation.

def _saved_session(client, user):
    login(client, user.username)
    assert client.get("/web/tickets").status_code == 200
    return client.get_cookie("session").value


def _with_cookie(app, value):
    c = app.test_client()
    c.set_cookie("session", value)
    return c


def test_a_saved_cookie_stops_working_after_logout(app, client, session, world):
    saved = _saved_session(client, world.school_user_a1)
    page = client.get("/web/tickets")
    assert client.post("/web/logout", data={"csrf_token": csrf(page)}).status_code == 303
    replay = _with_cookie(app, saved)
    r = replay.get("/web/tickets")
    assert r.status_code == 302 and "/web/login" in r.headers["Location"]
    assert replay.get("/api/v1/auth/me").status_code == 401
    # Signing in again works, with a fresh session.
    login(client, world.school_user_a1.username)
    assert client.get("/web/tickets").status_code == 200


@pytest.mark.parametrize("change", [{"password": "brand-new-pass"}, {"active": False}])
def test_password_change_and_deactivation_end_every_session_and_token(app, client, session, world, change):
    saved = _saved_session(client, world.school_user_a1)
    token = token_for(session, world.school_user_a1)
    replay = _with_cookie(app, saved)
    assert replay.get("/api/v1/auth/me").status_code == 200
    r = client.patch(f"/api/v1/users/{world.school_user_a1.id}", json=change,
                     headers=token_for(session, world.office_a1))
    assert r.status_code == 200
    assert replay.get("/web/tickets").status_code == 302
    assert replay.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me", headers=token).status_code == 401


def test_password_change_by_the_service_ends_sessions(session, world):
    before = world.inspector_a1.session_version
    accounts.set_password(session, world.inspector_a1, "another-pass-1")
    assert world.inspector_a1.session_version == before + 1


# Finding 2: every way to sign in shares one budget per address and per username.

def test_web_login_is_rate_limited_like_the_api(app, client, session, world):
    user = world.school_user_a1
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    codes = [sign_in(client, user.username, "wrong-guess").status_code for _ in range(limit)]
    assert set(codes) == {401}
    r = sign_in(client, user.username)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "尝试次数过多" in r.get_data(as_text=True)
    assert client.get("/web/tickets").status_code == 302  # no session came of it


def test_web_and_api_attempts_count_against_the_same_username(app, session, world):
    user = world.school_user_a1
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for i in range(limit):
        # Each from its own address: only the per-username budget can stop them.
        addr = {"REMOTE_ADDR": f"10.0.0.{i + 1}"}
        c = app.test_client()
        if i % 2:
            r = c.post("/api/v1/auth/token", json={"username": user.username, "password": "nope"}, environ_base=addr)
        else:
            token = csrf(c.get("/web/login", environ_base=addr))
            r = c.post("/web/login", data={"username": user.username, "password": "nope", "csrf_token": token},
                       environ_base=addr)
        assert r.status_code == 401
    r = app.test_client().post("/api/v1/auth/token", json={"username": user.username, "password": "password-123"},
                               environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 429 and r.content_type == "application/problem+json" and "Retry-After" in r.headers


def test_one_address_trying_many_usernames_is_limited(app, client, world):
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for i in range(limit):
        assert client.post("/api/v1/auth/token", json={"username": f"guess{i}", "password": "x"}).status_code == 401
    assert sign_in(client, world.school_user_a1.username).status_code == 429


def test_login_degrades_to_memory_when_redis_is_down(database_url, tmp_path):
    """Redis refusing connections: sign-in still answers (401/201), and the limit still holds, in memory."""
    from server import create_app
    from server.cli import upgrade_database
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
                      "VAR_DIR": str(tmp_path), "STORAGE_URL": str(tmp_path / "blobs"), "TESTING": True,
                      "SECRET_KEY": "x", "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024,
                      "KEY_PREFIX": "down-"})
    with app.app_context():
        upgrade_database(app)
    c = app.test_client()
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    codes = [c.post("/api/v1/auth/token", json={"username": "nobody-x", "password": "nope"}).status_code
             for _ in range(limit)]
    assert set(codes) == {401}
    r = c.post("/api/v1/auth/token", json={"username": "nobody-x", "password": "nope"})
    assert r.status_code == 429 and "Retry-After" in r.headers
