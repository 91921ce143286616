"""Two requests at once creating the same name in two cases: the second waits on the database's folded unique
index, is run again once the first commits, and is answered as if it had come second (422 with the field's
message), never a bare 409 or a second record."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.org import service as org
from inspections.org.enums import Locale, SchoolKind
from inspections.org.models import School
from tests.factories import make_world, token_for


@pytest.fixture
def world(app, session):
    if app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's write transactions already run one at a time")
    return make_world(session)


def _race(session, client, first, path, body, headers):
    """`first(session)` writes without committing; the request is sent on another thread meanwhile, then the
    first commits. Returns the request's response."""
    first(session)
    session.flush()
    out = {}
    t = threading.Thread(target=lambda: out.update(r=client.post(path, json=body, headers=headers)))
    t.start()
    t.join(0.5)
    assert t.is_alive()  # it waits for the first transaction on the index
    session.commit()
    t.join(20)
    return out["r"]


def test_an_account_created_at_once_in_another_case_is_told_the_name_is_taken(client, session, world):
    headers = token_for(session, world.office_a1)
    r = _race(session, client,
              lambda s: accounts.create_user(s, username="racer-02", password="password-123", role=Role.inspector,
                                             jurisdiction_id=world.county_a1.id),
              "/api/v1/users", {"username": "RACER-02", "password": "password-123", "role": "inspector",
                                "jurisdiction_id": str(world.county_a1.id)}, headers)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"] == {"username": ["is already taken"]}
    assert session.scalar(select(func.count()).where(func.lower(User.username) == "racer-02")) == 1


def test_a_school_registered_at_once_in_another_case_is_told_the_code_is_used(client, session, world):
    headers = token_for(session, world.office_a1)
    r = _race(session, client,
              lambda s: org.create_school(s, county=world.county_a1, code="racer-s1", name="甲", kind=SchoolKind.primary,
                                          locale=Locale.rural),
              "/api/v1/schools", {"code": "RACER-S1", "name": "乙", "kind": "primary", "locale": "rural",
                                  "jurisdiction_id": str(world.county_a1.id)}, headers)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"] == {"code": ["is already used"]}
    assert session.scalar(select(func.count()).where(func.lower(School.code) == "racer-s1")) == 1
